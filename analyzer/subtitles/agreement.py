"""Does each subtitle cue say what is said while it is shown? Flag the ones that do not.

Re-posted videos get subtitles written by whoever re-posts them, and a subtitle that
says something the speaker never said is itself a finding. Each cue (after alignment) is
compared with the transcript of the speech under it: first lexically (same language,
no model needed), then by multilingual embeddings, so an English cue over French speech
agrees when it is a translation. A cue whose best similarity stays below the model's
measured ``mismatch_threshold`` is a mismatch, reported with both texts.

The embedding is the caller's: this module takes an ``encode`` function, so the corpus
stage can pass its already-loaded embedder with the store's vector cache (no second
model in every worker, and a re-scan embeds nothing twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analyzer.records import Cue, Segment, SubtitleMismatch
from analyzer.similarity import shingles
from analyzer.units import letters

Encode = Callable[[Sequence[str]], np.ndarray]

# Captions for sounds rather than speech: "(SOUND EFFECT)", "[music]", "♪ la la ♪".
_NOT_SPEECH = re.compile(r"^\s*(?:[\[(（【][^\])）】]*[\])）】]\s*)+$|[♪♫]")


@dataclass(frozen=True)
class AgreementOptions:
    """When a cue counts as checked, and when as a mismatch."""

    # Cosine (normalised multilingual embeddings) below which cue and speech say different
    # things: the model's ``mismatch_threshold`` in models.toml, measured on translations.
    mismatch_threshold: float
    pad_ms: int = 500  # speech this close to a cue's span counts as said while it is shown
    min_letters: int = 8  # "Yes." or "Oh!" carries too little to judge
    # ASR segments below this confidence (exp of the mean token log-probability) are not
    # evidence of what was said: below 0.5 Whisper gives its own words less than an even
    # chance, and a garbled transcript would make every faithful cue look like a mismatch.
    min_asr_confidence: float = 0.5
    # Share of the cue's character 3-grams found in the speech at which the two agree
    # without asking the embedder (same language, near verbatim).
    lexical_agree: float = 0.5


@dataclass(frozen=True)
class CueCheck:
    """One cue and the transcript of the speech under it."""

    cue: Cue
    speech_text: str
    lexical: float  # share of the cue's 3-grams present in the speech text
    judged: bool  # False when nothing, or nothing trustworthy, was heard under the cue


def _speech_under(cue: Cue, segments: Sequence[Segment], options: AgreementOptions) -> tuple[str, bool]:
    """The transcript said while the cue is shown (words by their midpoint), and whether
    every segment it comes from is confident enough to count as evidence."""
    lo, hi = cue.start_ms - options.pad_ms, cue.end_ms + options.pad_ms
    parts: list[str] = []
    trusted = True
    for segment in segments:
        if segment.end_ms < lo or segment.start_ms > hi:
            continue
        if segment.words:
            said = [w.text for w in segment.words if lo <= (w.start_ms + w.end_ms) / 2 <= hi]
        else:
            said = [segment.text]
        if said and segment.confidence < options.min_asr_confidence:
            trusted = False
        parts.extend(said)
    return " ".join(" ".join(parts).split()), trusted


def _containment(cue_text: str, speech_text: str) -> float:
    mine = shingles(cue_text)
    return len(mine & shingles(speech_text)) / len(mine) if mine else 0.0


def plan_checks(
    cues: Sequence[Cue], segments: Sequence[Segment], options: AgreementOptions
) -> list[CueCheck]:
    """The cues worth checking, each with the speech under it.

    Sound captions and very short cues are left out; so is everything when the media
    has no transcript at all (nothing to compare with is not a mismatch).
    """
    if not segments:
        return []
    checks = []
    for cue in cues:
        if letters(cue.text) < options.min_letters or _NOT_SPEECH.search(cue.text):
            continue
        speech, trusted = _speech_under(cue, segments, options)
        checks.append(CueCheck(cue, speech, _containment(cue.text, speech), trusted and bool(speech)))
    return checks


def judge(
    checks: Sequence[CueCheck], encode: Encode, options: AgreementOptions
) -> tuple[list[SubtitleMismatch], dict[str, float | None]]:
    """Mismatches among the checks, and per track the share of judged cues that agree.

    Only cues with a confident transcript under them are judged: a cue over silence may
    be speech the ASR missed (short greetings often are), which is not evidence.
    """
    judged = [c for c in checks if c.judged]
    to_embed = [c for c in judged if c.lexical < options.lexical_agree]
    similarity: dict[int, float] = {}
    if to_embed:
        texts = sorted({t for c in to_embed for t in (c.cue.text, c.speech_text)})
        vectors = encode(texts)
        row = {t: vectors[i] for i, t in enumerate(texts)}
        for c in to_embed:
            similarity[id(c)] = float(np.dot(row[c.cue.text], row[c.speech_text]))
    mismatches: list[SubtitleMismatch] = []
    totals: dict[str, list[int]] = {}
    for c in checks:
        tally = totals.setdefault(c.cue.track, [0, 0])
        if not c.judged:
            continue
        tally[1] += 1
        if c.lexical >= options.lexical_agree:
            tally[0] += 1
            continue
        score = similarity.get(id(c), 0.0)
        if score >= options.mismatch_threshold:
            tally[0] += 1
            continue
        cue = c.cue
        mismatches.append(
            SubtitleMismatch(
                cue.media_id, cue.track, cue.start_ms, cue.end_ms, cue.text, c.speech_text, round(score, 4)
            )
        )
    agreement = {track: (round(a / n, 4) if n else None) for track, (a, n) in totals.items()}
    return mismatches, agreement


def subtitle_agreement(
    cues: Sequence[Cue], segments: Sequence[Segment], encode: Encode, options: AgreementOptions
) -> tuple[list[SubtitleMismatch], dict[str, float | None]]:
    """Check one media item's cues against its transcript: mismatches and per-track agreement."""
    return judge(plan_checks(cues, segments, options), encode, options)
