"""Packing speech of several files into Whisper windows and mapping times back (no model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.transcribe.faster import split_by_timestamps
from analyzer.transcribe.windows import (
    FILE_GAP_SAMPLES,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    Piece,
    Window,
    map_words,
    pack,
)

S = SAMPLE_RATE


def test_asr_windows_short_files_share_a_window_with_a_gap_between_them():
    windows = pack([[(0, 2 * S)], [(S, 4 * S)]], share=True)
    assert len(windows) == 1
    first, second = windows[0].pieces
    assert (first.item, first.at, first.length) == (0, 0, 2 * S)
    assert (second.item, second.start, second.at) == (1, S, 2 * S + FILE_GAP_SAMPLES)


def test_asr_windows_without_sharing_each_file_has_its_own_windows():
    windows = pack([[(0, 2 * S)], [(0, 3 * S)]], share=False)
    assert [w.items for w in windows] == [(0,), (1,)]


def test_asr_windows_regions_of_one_file_are_joined_without_their_silence():
    windows = pack([[(0, S), (5 * S, 7 * S)]], share=True)
    assert len(windows) == 1
    assert [(p.start, p.at) for p in windows[0].pieces] == [(0, 0), (5 * S, S)]
    item, sample = windows[0].to_item(1.5 * S)
    assert (item, sample) == (0, 5.5 * S)  # 0.5 s into the second region


def test_asr_windows_never_exceed_thirty_seconds():
    windows = pack([[(0, 70 * S)], [(0, 20 * S)], [(0, 15 * S)]], share=True)
    assert all(w.length <= WINDOW_SAMPLES for w in windows)
    covered = sum(p.length for w in windows for p in w.pieces)
    assert covered == (70 + 20 + 15) * S


def test_asr_windows_audio_places_each_piece_and_silence_between_files():
    audios = [np.full(S, 0.5, dtype=np.float32), np.full(S, -0.5, dtype=np.float32)]
    window = pack([[(0, S)], [(0, S)]], share=True)[0]
    audio = window.audio(audios)
    assert audio[:S].min() == 0.5 and audio[S : S + FILE_GAP_SAMPLES].max() == 0.0
    assert audio[S + FILE_GAP_SAMPLES :].max() == -0.5


def test_asr_windows_split_goes_per_file_then_in_halves():
    shared = pack([[(0, S)], [(0, S)]], share=True)[0]
    assert [w.items for w in shared.split()] == [(0,), (1,)]
    one_file = pack([[(0, S), (2 * S, 3 * S), (4 * S, 5 * S), (6 * S, 7 * S)]], share=True)[0]
    halves = one_file.split()
    assert [len(w.pieces) for w in halves] == [2, 2] and halves[1].pieces[0].at == 0
    assert Window((Piece(0, 0, S, 0),)).split() == []


def test_asr_windows_a_word_across_the_gap_belongs_where_it_ends():
    # file 0 is window 0-1 s, file 1 starts at 2 s; alignment starts "the" too early
    window = pack([[(0, S)], [(0, 3 * S)]], share=True)[0]
    words = [
        {"word": " fine", "start": 0.2, "end": 0.9, "probability": 0.9},
        {"word": " the", "start": 0.95, "end": 2.3, "probability": 0.8},
        {"word": " book", "start": 2.3, "end": 2.7, "probability": 0.9},
    ]
    groups = map_words(window, words)
    assert [(item, [w.text for w in ws]) for item, ws in groups] == [(0, [" fine"]), (1, [" the", " book"])]
    the = groups[1][1][0]
    assert the.start_ms == 0 and the.end_ms == 300  # clamped to its file, in its file's time


def test_asr_windows_uncovered_pieces_are_the_ones_no_segment_touches():
    window = pack([[(0, S)], [(0, S)], [(0, S)]], share=True)[0]
    skipped = window.uncovered([(0.0, 0.8 * S)])
    assert [p.item for p in skipped] == [1, 2]


@dataclass
class _Tokens:
    timestamp_begin: int = 1000
    eot: int = 999


def test_asr_windows_split_by_timestamps_closes_segments_and_finds_where_to_continue():
    tok = _Tokens()
    ts = lambda seconds: tok.timestamp_begin + round(seconds / 0.02)  # noqa: E731
    segments, covered = split_by_timestamps([ts(0), 1, 2, ts(2.0), ts(2.0), 3, ts(4.0), tok.eot], tok, 10.0)
    assert [(s.start, s.end, s.tokens) for s in segments] == [(0.0, 2.0, [1, 2]), (2.0, 4.0, [3])]
    assert covered is None
    segments, covered = split_by_timestamps([ts(0), 1, ts(3.0), ts(3.0), 2, 3], tok, 10.0)
    assert len(segments) == 1 and covered == 3.0  # text after 3 s never closed: decode it again
    segments, covered = split_by_timestamps([1, 2, 3], tok, 7.5)
    assert [(s.start, s.end) for s in segments] == [(0.0, 7.5)] and covered is None
