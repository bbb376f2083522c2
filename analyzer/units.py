"""Transcripts and subtitle cues -> sentence units with time spans.

A scripted line is a sentence, but ASR segments and subtitle cues cut speech wherever
the engine or the subtitler liked. So each source is first joined into one running text
with a time for every character (from word timestamps, or interpolated inside a cue),
then split into sentences with a spaCy blank pipeline for its language.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import TYPE_CHECKING

from analyzer.language import detect_text_language, normalise
from analyzer.records import Cue, Segment, Unit, UnitSource

if TYPE_CHECKING:
    from spacy.language import Language

# Scripts written without spaces between words: pieces are joined with no separator.
_UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
MIN_LETTERS = 3
# A pause this long between two words ends a sentence even without punctuation: Whisper
# often leaves short clips unpunctuated, and speakers pause between sentences.
PAUSE_MS = 600


@dataclass(frozen=True)
class Piece:
    """A stretch of text with the time it was said or shown."""

    text: str
    start_ms: int
    end_ms: int
    language: str


@lru_cache(maxsize=32)
def _sentencizer(language: str) -> Language:
    import spacy

    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):  # no spaCy tokenizer for this language
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(text: str, language: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``."""
    doc = _sentencizer(language)(text)
    spans = []
    for sent in doc.sents:
        start, end = sent.start_char, sent.end_char
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _time_at(pieces: Sequence[tuple[int, int, Piece]], offset: int, *, end: bool) -> int:
    """The time of a character offset, interpolated inside the piece that holds it."""
    for a, b, piece in pieces:
        if a <= offset <= b and (end or offset < b):
            frac = (offset - a) / max(1, b - a)
            return int(piece.start_ms + frac * (piece.end_ms - piece.start_ms))
    return pieces[-1][2].end_ms if end else pieces[0][2].start_ms


def _unit_id(media_id: str, source: str, track: str, start_ms: int, text: str) -> str:
    key = f"{media_id}|{source}|{track}|{start_ms}|{text}".encode()
    return "u-" + hashlib.sha1(key).hexdigest()[:16]


def letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch).startswith("L"))


def sentences_from_pieces(
    pieces: Sequence[Piece], media_id: str, source: UnitSource, track: str = ""
) -> list[Unit]:
    """Join pieces of one language run into text, split it, and time each sentence."""
    units: list[Unit] = []
    for run_pieces in _runs(pieces):
        language = run_pieces[0].language
        sep = "" if language in _UNSPACED else " "
        spans: list[tuple[int, int, Piece]] = []
        parts: list[str] = []
        cursor = 0
        for piece in run_pieces:
            if parts:
                parts.append(sep)
                cursor += len(sep)
            spans.append((cursor, cursor + len(piece.text), piece))
            parts.append(piece.text)
            cursor += len(piece.text)
        text = "".join(parts)
        for a, b in split_sentences(text, language):
            sentence = " ".join(text[a:b].split())
            if letters(sentence) < MIN_LETTERS:
                continue
            start = _time_at(spans, a, end=False)
            end = max(start, _time_at(spans, b, end=True))
            units.append(
                Unit(
                    id=_unit_id(media_id, source, track, start, sentence),
                    media_id=media_id,
                    start_ms=start,
                    end_ms=end,
                    text=sentence,
                    language=language,
                    source=source,
                    track=track,
                )
            )
    return units


def _ends_sentence(text: str) -> bool:
    return text.rstrip()[-1:] in ".!?。！？…؟।"


def _runs(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """Pieces cut into runs at language changes and at unpunctuated pauses."""
    runs: list[list[Piece]] = []
    for _, same_language in groupby(pieces, key=lambda p: p.language):
        current: list[Piece] = []
        for piece in same_language:
            paused = bool(current) and piece.start_ms - current[-1].end_ms >= PAUSE_MS
            if paused and not _ends_sentence(current[-1].text):
                runs.append(current)
                current = []
            current.append(piece)
        if current:
            runs.append(current)
    return runs


def units_from_segments(segments: Sequence[Segment]) -> list[Unit]:
    """Sentence units from ASR segments, timed by their word timestamps where present."""
    if not segments:
        return []
    pieces: list[Piece] = []
    for segment in segments:
        if segment.words:
            pieces.extend(
                Piece(w.text, w.start_ms, w.end_ms, segment.language) for w in segment.words if w.text
            )
        else:
            pieces.append(Piece(segment.text, segment.start_ms, segment.end_ms, segment.language))
    return sentences_from_pieces(pieces, segments[0].media_id, "asr", "asr")


def units_from_cues(
    cues: Sequence[Cue], track_language: str | None = None, source: UnitSource = "subtitle"
) -> list[Unit]:
    """Sentence units from one subtitle track's cues (a sentence may span several cues).

    ``source`` is "ocr" for text read from the picture or from image subtitles.
    """
    if not cues:
        return []
    known = normalise(track_language)
    sample = " ".join(c.text for c in cues[:40])
    language = known or detect_text_language(sample, fallback=None)
    pieces = [Piece(c.text, c.start_ms, c.end_ms, normalise(c.language) or language) for c in cues]
    return sentences_from_pieces(pieces, cues[0].media_id, source, cues[0].track)
