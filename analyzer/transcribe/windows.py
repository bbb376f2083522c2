"""Speech windows: VAD regions of one or many files packed into Whisper's 30 s input.

Whisper's encoder always reads 30 s, so a 3 s clip costs as much as a 30 s one. Packing
the speech of several short files (and the speech regions of one long file, silence
left out) into shared windows makes the encoder's work follow the amount of speech, not
the number of files. Every stretch of a window remembers where it came from (``Piece``),
so times are mapped back to each file exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.records import Word

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 30 * SAMPLE_RATE
# Silence put between two files in one window: Whisper ends a segment at a pause, so text
# from two files does not run into one segment (words are still split by their times).
FILE_GAP_SAMPLES = SAMPLE_RATE


def ms(samples: float) -> int:
    return round(samples * 1000 / SAMPLE_RATE)


@dataclass(frozen=True)
class Piece:
    """``item``'s samples [start, end) placed at sample ``at`` of a window."""

    item: int
    start: int
    end: int
    at: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    """Up to 30 s of speech from one or more items, with the map back to each."""

    pieces: tuple[Piece, ...]

    @property
    def length(self) -> int:
        return self.pieces[-1].at + self.pieces[-1].length if self.pieces else 0

    @property
    def items(self) -> tuple[int, ...]:
        return tuple(sorted({p.item for p in self.pieces}))

    def audio(self, audios: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros(self.length, dtype=np.float32)
        for p in self.pieces:
            out[p.at : p.at + p.length] = audios[p.item][p.start : p.end]
        return out

    def piece_at(self, sample: float) -> Piece:
        """The piece holding window sample ``sample`` (the nearest one inside a gap)."""
        best = self.pieces[0]
        best_distance = float("inf")
        for p in self.pieces:
            if p.at <= sample < p.at + p.length:
                return p
            distance = min(abs(sample - p.at), abs(sample - (p.at + p.length)))
            if distance < best_distance:
                best, best_distance = p, distance
        return best

    def to_item(self, sample: float, piece: Piece | None = None) -> tuple[int, float]:
        """(item, sample in that item) for a window sample, inside ``piece`` if given."""
        p = piece or self.piece_at(sample)
        inside = min(max(sample - p.at, 0.0), float(p.length))
        return p.item, p.start + inside

    def after(self, sample: int) -> list[Piece]:
        """The parts of this window's pieces from window sample ``sample`` on, as item regions."""
        rest: list[Piece] = []
        for p in self.pieces:
            if p.at + p.length <= sample:
                continue
            skip = max(0, sample - p.at)
            rest.append(Piece(p.item, p.start + skip, p.end, 0))
        return rest

    def uncovered(self, spans: Sequence[tuple[float, float]]) -> list[Piece]:
        """Pieces that no decoded span (window samples) touches: speech the decoder skipped.

        Whisper sometimes ends a window early and says nothing about the rest; VAD says
        speech is there, so those pieces are decoded again in a later window.
        """
        return [
            Piece(p.item, p.start, p.end, 0)
            for p in self.pieces
            if not any(a < p.at + p.length and b > p.at for a, b in spans)
        ]

    def split(self) -> list[Window]:
        """Smaller windows for a second language look: one per item, else two halves; [] if atomic."""
        if len(self.items) > 1:
            return [_rebase([p for p in self.pieces if p.item == item]) for item in self.items]
        if len(self.pieces) > 1:
            middle = self.length / 2
            cut = min(range(1, len(self.pieces)), key=lambda i: abs(self.pieces[i].at - middle))
            return [_rebase(list(self.pieces[:cut])), _rebase(list(self.pieces[cut:]))]
        return []


def _rebase(pieces: Sequence[Piece], gap: int = FILE_GAP_SAMPLES) -> Window:
    """The same pieces placed from sample 0, back to back (silence only between items)."""
    placed: list[Piece] = []
    used = 0
    for p in pieces:
        pad = gap if placed and placed[-1].item != p.item else 0
        placed.append(Piece(p.item, p.start, p.end, used + pad))
        used += pad + p.length
    return Window(tuple(placed))


def pack(
    regions: Sequence[Sequence[tuple[int, int]]],
    share: bool,
    window: int = WINDOW_SAMPLES,
    gap: int = FILE_GAP_SAMPLES,
) -> list[Window]:
    """Windows holding every region of every item, in order.

    Args:
        regions: per item, its speech regions as (start, end) samples, in time order.
        share: let one window hold regions of several items (short files); otherwise each
            window holds one item's speech only.
        window: the most samples in a window.
        gap: silence between two items' speech in one window.
    """
    windows: list[Window] = []
    current: list[Piece] = []
    used = 0
    for item, item_regions in enumerate(regions):
        for start, end in item_regions:
            for a in range(start, end, window):  # a region longer than a window is cut
                b = min(end, a + window)
                other = bool(current) and current[-1].item != item
                pad = gap if other else 0
                if current and (used + pad + (b - a) > window or (other and not share)):
                    windows.append(Window(tuple(current)))
                    current, used, pad = [], 0, 0
                current.append(Piece(item, a, b, used + pad))
                used += pad + (b - a)
    if current:
        windows.append(Window(tuple(current)))
    return windows


def _word_piece(window: Window, a: float, b: float) -> Piece:
    """The piece a word (window samples a..b) was said in.

    Cross-attention alignment starts the first word after a pause too early (faster-whisper
    trims such words for the same reason), so a word that reaches across the silence
    between two files belongs where it ends; one that ends in silence, where it starts.
    """
    for sample in (b - 1, a):
        for p in window.pieces:
            if p.at <= sample < p.at + p.length:
                return p
    return window.piece_at((a + b) / 2)


def map_words(window: Window, words: Sequence[Mapping[str, Any]]) -> list[tuple[int, list[Word]]]:
    """Aligned words (window seconds) mapped to their files; consecutive words of one file together."""
    groups: list[tuple[int, list[Word]]] = []
    for w in words:
        a, b = float(w["start"]) * SAMPLE_RATE, float(w["end"]) * SAMPLE_RATE
        piece = _word_piece(window, a, b)
        item, start = window.to_item(a, piece)
        _, end = window.to_item(b, piece)
        word = Word(ms(start), max(ms(end), ms(start)), str(w["word"]), round(float(w["probability"]), 4))
        if groups and groups[-1][0] == item:
            groups[-1][1].append(word)
        else:
            groups.append((item, [word]))
    return groups


def map_span(window: Window, start_s: float, end_s: float) -> tuple[int, int, int]:
    """(item, start ms, end ms) of a window span, given to the file its middle belongs to."""
    a, b = start_s * SAMPLE_RATE, max(end_s, start_s) * SAMPLE_RATE
    piece = window.piece_at((a + b) / 2)
    mine: list[Piece] = [
        p for p in window.pieces if p.item == piece.item and p.at < b and p.at + p.length > a
    ]
    first, last = (mine[0], mine[-1]) if mine else (piece, piece)
    _, start = window.to_item(a, first)
    _, end = window.to_item(b, last)
    return piece.item, ms(start), max(ms(end), ms(start))


def speech_regions(audio: np.ndarray, vad: bool) -> list[tuple[int, int]]:
    """Speech regions in samples: Silero VAD (pieces of at most one window), or the whole
    audio when VAD is off. Both engines cut their windows from these."""
    if len(audio) == 0:
        return []
    if not vad:
        return [(0, len(audio))]
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(audio, VadOptions(max_speech_duration_s=WINDOW_SAMPLES / SAMPLE_RATE))
    return [(int(r["start"]), int(r["end"])) for r in found]
