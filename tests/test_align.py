"""Subtitle alignment: known shifts and drifts applied to real timed speech are undone.

Two real sources of truth: five consecutive LibriVox clips whose every word was timed
by pocketsphinx (cues are built from those word timings, so their true times are
known), and mp4parser's German countdown with its hand-timed SRT (whose own errors
reach a second, so there the test is that a shifted copy lands where the original does).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analyzer.media import decode_audio
from analyzer.records import Alignment, Cue
from analyzer.subtitles.align import (
    AlignOptions,
    align_track,
    align_tracks,
    apply_alignment,
    speech_activity,
    tokens,
)
from analyzer.subtitles.read import read_subtitle_file
from tests.conftest import shared

LIBRIVOX = "audio/pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-{}"
CLIPS = ("0870", "0880", "0890", "0920", "0930")
# Silence before each clip: irregular, as pauses between paragraphs are.
GAPS_MS = (1700, 900, 2600, 1200, 3100)
WORDS_PER_CUE = 6
TOLERANCE_MS = 100


def _timeline() -> tuple[np.ndarray, list[Cue]]:
    """The clips one after another with pauses, and cues of six words at their true times."""
    audio: list[np.ndarray] = []
    cues: list[Cue] = []
    t = 0
    for clip, gap in zip(CLIPS, GAPS_MS, strict=True):
        base = shared(LIBRIVOX.format(clip) + ".wav")
        samples = decode_audio(str(base))
        audio.append(np.zeros(gap * 16, dtype=np.float32))
        t += gap
        timing = json.loads(Path(str(base)[:-4] + ".json").read_text(encoding="utf-8"))
        words = [w for w in timing["w"] if not w["t"].startswith("<")]  # <sil>, <s>
        for k in range(0, len(words), WORDS_PER_CUE):
            chunk = words[k : k + WORDS_PER_CUE]
            text = " ".join(w["t"].split("(")[0] for w in chunk)  # "and(2)": a pronunciation variant
            start = t + round(chunk[0]["b"] * 1000)
            end = t + round((chunk[-1]["b"] + chunk[-1]["d"]) * 1000)
            cues.append(Cue("m1", "sidecar:book.srt", start, end, text, "en"))
        audio.append(samples)
        t += len(samples) // 16
    return np.concatenate(audio), cues


@pytest.fixture(scope="module")
def librivox() -> dict[str, Any]:
    from analyzer.transcribe import TranscribeOptions, create

    audio, cues = _timeline()
    segments = create(TranscribeOptions()).transcribe(audio, "m1").segments
    return {
        "audio": audio,
        "cues": cues,
        "speech": speech_activity(audio),
        "segments": segments,
        "duration_ms": len(audio) // 16,
    }


def _distort(cues: list[Cue], shift_ms: int, ratio: float) -> list[Cue]:
    """What a wrong release does: cues timed ``shift_ms`` early on a clock ``ratio`` fast."""
    return [
        replace(
            c, start_ms=round((c.start_ms - shift_ms) / ratio), end_ms=round((c.end_ms - shift_ms) / ratio)
        )
        for c in cues
    ]


def _max_error(aligned: list[Cue], truth: list[Cue]) -> int:
    return max(
        max(abs(a.start_ms - t.start_ms), abs(a.end_ms - t.end_ms))
        for a, t in zip(aligned, truth, strict=True)
    )


CASES = [
    (2400, 1.0),
    (-1700, 1.0),
    (7300, 1.0),
    (0, 25 / 23.976),
    (1500, 23.976 / 25),
    (-900, 24 / 25),
    (3000, 25 / 24),
]


@pytest.mark.slow
@pytest.mark.parametrize("use_text", [True, False], ids=["text", "activity"])
@pytest.mark.parametrize(("shift_ms", "ratio"), CASES)
def test_align_recovers_known_shift_and_drift(
    librivox: dict[str, Any], shift_ms: int, ratio: float, use_text: bool
) -> None:
    truth = librivox["cues"]
    distorted = _distort(truth, shift_ms, ratio)
    segments = librivox["segments"] if use_text else ()
    alignment = align_track(distorted, librivox["speech"], segments, librivox["duration_ms"])
    assert alignment.applied
    assert alignment.method == ("text" if use_text else "activity")
    assert alignment.drift == pytest.approx(ratio, abs=1e-3)
    assert alignment.confidence >= 0.7
    assert _max_error(apply_alignment(distorted, alignment), truth) <= TOLERANCE_MS
    if use_text:
        assert alignment.pairs >= 10


@pytest.mark.slow
def test_align_unrelated_timing_is_not_applied(librivox: dict[str, Any]) -> None:
    # The same cues, but spaced as another recording would be: no offset fits them all.
    truth = librivox["cues"]
    rng = np.random.default_rng(3)
    t = 0
    scrambled = []
    for cue in truth:
        t += int(rng.integers(300, 4000))
        scrambled.append(replace(cue, start_ms=t, end_ms=t + (cue.end_ms - cue.start_ms)))
        t = scrambled[-1].end_ms
    alignment = align_track(scrambled, librivox["speech"], (), librivox["duration_ms"])
    assert alignment.confidence < AlignOptions().min_confidence
    assert not alignment.applied
    assert apply_alignment(scrambled, alignment) == scrambled


@pytest.mark.slow
def test_align_tracks_retimes_each_track(librivox: dict[str, Any]) -> None:
    truth = librivox["cues"]
    shifted = [replace(c, track="stream:2") for c in _distort(truth, 2000, 1.0)]
    cues, alignments = align_tracks(truth + shifted, librivox["audio"], librivox["segments"])
    by_track = {a.track: a for a in alignments}
    assert set(by_track) == {"sidecar:book.srt", "stream:2"}
    assert abs(by_track["stream:2"].offset_ms - by_track["sidecar:book.srt"].offset_ms - 2000) <= TOLERANCE_MS
    retimed = [c for c in cues if c.track == "stream:2"]
    assert _max_error(retimed, [replace(c, track="stream:2") for c in truth]) <= TOLERANCE_MS


COUNT = "video/mp4parser-count/"


@pytest.fixture(scope="module")
def countdown() -> dict[str, Any]:
    from analyzer.transcribe import TranscribeOptions, create

    audio = decode_audio(str(shared(COUNT + "count-deutsch-audio.mp4")))
    cues, _ = read_subtitle_file(
        str(shared(COUNT + "count-subs-deutsch.srt")), "m2", "sidecar:count.srt", "de"
    )
    segments = create(TranscribeOptions()).transcribe(audio, "m2").segments
    return {
        "cues": cues,
        "speech": speech_activity(audio),
        "segments": segments,
        "duration_ms": len(audio) // 16,
    }


@pytest.mark.slow
@pytest.mark.parametrize("shift_ms", [2500, -3000, 6000, -800])
def test_align_hand_timed_countdown_shift_lands_where_original_does(
    countdown: dict[str, Any], shift_ms: int
) -> None:
    # Whisper writes "4, 3, 2, 1" where the subtitles say "Vier, Drei, Zwei, Eins":
    # numbers are compared as words, so the text still pairs cues with speech.
    original = align_track(
        countdown["cues"], countdown["speech"], countdown["segments"], countdown["duration_ms"]
    )
    assert original.method == "text"
    assert original.pairs >= 4
    assert original.confidence >= 0.7  # "Fünf" is not heard: 4 of 5 cues
    reference = apply_alignment(countdown["cues"], original)
    shifted = _distort(countdown["cues"], shift_ms, 1.0)
    alignment = align_track(shifted, countdown["speech"], countdown["segments"], countdown["duration_ms"])
    assert _max_error(apply_alignment(shifted, alignment), reference) <= TOLERANCE_MS


def _cue(start: int, end: int, text: str = "words here", track: str = "t") -> Cue:
    return Cue("m", track, start, end, text)


def test_align_apply_moves_only_its_track_and_never_below_zero() -> None:
    cues = [_cue(100, 900), _cue(5000, 6000), _cue(200, 300, track="other")]
    alignment = Alignment("m", "t", -500, 2.0, 0.9, 4, None, "text", True)
    assert [(c.start_ms, c.end_ms) for c in apply_alignment(cues, alignment)] == [
        (0, 1300),
        (9500, 11500),
        (200, 300),
    ]
    assert apply_alignment(cues, replace(alignment, applied=False)) == cues


def test_align_without_speech_gives_no_alignment() -> None:
    alignment = align_track([_cue(1000, 2000)], [], (), 10_000)
    assert (alignment.method, alignment.applied, alignment.confidence) == ("none", False, 0.0)
    cues = [_cue(1000, 2000)]
    assert align_tracks(cues, None, ()) == (cues, [])


def test_align_empty_track_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="at least one cue"):
        align_track([], [(0, 1000)])


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("4, 3,", "de", ["vier", "drei"]),
        ("Room 21!", "fr", ["room", "vingt", "et", "un"]),
        ("Room 21!", None, ["room", "21"]),
        ("我们是自由的。", "zh", ["我", "们", "是", "自", "由", "的"]),
        ("Call 7 now", "ug", ["call", "7", "now"]),  # no number words for Uyghur: digits stay
    ],
)
def test_align_tokens_compare_numbers_as_words(text: str, language: str | None, expected: list[str]) -> None:
    assert tokens(text, language) == expected
