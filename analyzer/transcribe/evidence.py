"""From what an engine decoded to a Transcript: guards, per-segment language, media language.

Both engines hand over ``Decoded`` stretches (text, times, words, scores and the audio
language detection of the window they came from); everything that decides what counts
as speech and in which language is here, once, so the engines cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.language import FULL_TEXT_LETTERS, letter_count, normalise, reconcile, text_language_probs
from analyzer.records import Segment, Unit, Word
from analyzer.transcribe import guards
from analyzer.transcribe.base import (
    TRANSCRIPT_TRACK,
    TRANSLATION_TRACK,
    AsrSegment,
    TranscribeOptions,
    Transcript,
)

# Audio languages below this probability are left out of reconciliation (Whisper spreads
# a little probability over all 99 languages).
MIN_AUDIO_PROBABILITY = 0.01


@dataclass(frozen=True)
class Decoded:
    """One segment as an engine decoded it, times already in the media's milliseconds."""

    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...]
    avg_logprob: float  # Whisper's: of the window decode it came from (its guard thresholds mean that)
    no_speech_prob: float
    audio_probs: tuple[tuple[str, float], ...]  # the window's language detection, best first
    track: str = TRANSCRIPT_TRACK
    confidence: float | None = None  # of this segment's own words; None: exp(avg_logprob)


def top_languages(probs: Sequence[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """Whisper's detection, codes normalised, the long tail of tiny probabilities dropped."""
    kept = [(normalise(code) or code, float(p)) for code, p in probs if p >= MIN_AUDIO_PROBABILITY]
    return tuple(kept or [(normalise(probs[0][0]) or probs[0][0], float(probs[0][1]))] if probs else kept)


def decided(probs: tuple[tuple[str, float], ...], language: str) -> tuple[tuple[str, float], ...]:
    """The detection with the language a window was decoded in first (its probability swapped in).

    When detection was unsure and several decodes were tried, the decode that read best
    as its language won; that decision outranks Whisper's first guess for short segments.
    """
    if not probs or probs[0][0] == language:
        return probs
    found = dict(probs)
    top_code, top_p = probs[0]
    swapped = {**found, language: top_p, top_code: found.get(language, 0.0)}
    return tuple(sorted(swapped.items(), key=lambda kv: -kv[1]))


def _segment_language(decoded: Decoded) -> tuple[str, float, str | None, float]:
    """(language, probability, text language, its probability) of one transcript segment."""
    text_probs = text_language_probs(decoded.text)
    language, probability = reconcile(dict(decoded.audio_probs), text_probs, letter_count(decoded.text))
    text_language = max(text_probs, key=lambda k: text_probs[k]) if text_probs else None
    return language, probability, text_language, text_probs.get(text_language or "", 0.0)


def finish(
    media_id: str, decoded: Sequence[Decoded], duration_ms: int, options: TranscribeOptions
) -> Transcript:
    """Check every decoded segment, give it a language, and keep what reads as speech."""
    details: list[AsrSegment] = []
    ordered = [d for d in sorted(decoded, key=lambda x: (x.track, x.start_ms, x.end_ms)) if d.text.strip()]
    looping = guards.repeated_segments([(d.track, d.text) for d in ordered], options.guards)
    for index, d in enumerate(ordered):
        text = " ".join(d.text.split())
        ratio = guards.compression_ratio(text)
        flags = guards.check(text, d.avg_logprob, d.no_speech_prob, options.guards, ratio)
        if index in looping and guards.REPETITION not in flags:
            flags = (guards.REPETITION, *flags)
        audio_language, audio_probability = d.audio_probs[0] if d.audio_probs else (None, 0.0)
        if d.track == TRANSLATION_TRACK:
            language, probability = "en", 1.0  # asked for English; the text check below says if not
            text_probs = text_language_probs(text)
            text_language = max(text_probs, key=lambda k: text_probs[k]) if text_probs else None
            text_probability = text_probs.get(text_language or "", 0.0)
            untranslated = text_language not in (None, "en") and text_probability >= 0.95
            if untranslated and text_language and letter_count(text) >= FULL_TEXT_LETTERS:
                language, probability = text_language, text_probability  # Whisper did not translate
        else:
            language, probability, text_language, text_probability = _segment_language(d)
        segment = Segment(
            media_id=media_id,
            start_ms=d.start_ms,
            end_ms=max(d.end_ms, d.start_ms),
            text=text,
            language=language,
            confidence=round(
                d.confidence if d.confidence is not None else math.exp(min(0.0, d.avg_logprob)), 4
            ),
            no_speech_prob=round(d.no_speech_prob, 4),
            words=d.words,
        )
        details.append(
            AsrSegment(
                segment=segment,
                track=d.track,
                language_probability=round(probability, 4),
                audio_language=audio_language,
                audio_probability=round(audio_probability, 4),
                text_language=text_language,
                text_probability=round(text_probability, 4),
                avg_logprob=round(d.avg_logprob, 4),
                compression_ratio=round(ratio, 3),
                flags=flags,
            )
        )
    used = [d for d in details if d.used and d.track == TRANSCRIPT_TRACK]
    main, share = media_language(used, decoded)
    return Transcript(
        segments=tuple(d.segment for d in used),
        language=main,
        language_probability=share,
        duration_ms=duration_ms,
        details=tuple(details),
        translation=tuple(d.segment for d in details if d.used and d.track == TRANSLATION_TRACK),
    )


def media_language(used: Sequence[AsrSegment], decoded: Sequence[Decoded]) -> tuple[str | None, float]:
    """The main language and how much of the speech is confidently in it.

    The probability is the duration-weighted mean of P(segment in that language), so a
    media item half in English and half in German gets about 0.5, not Whisper's 0.99.
    """
    if not used:
        votes: dict[str, float] = {}
        for d in decoded:
            for code, p in d.audio_probs[:1]:
                votes[code] = votes.get(code, 0.0) + p * max(1, d.end_ms - d.start_ms)
        if not votes:
            return None, 0.0
        best = max(votes, key=lambda k: votes[k])
        return best, 0.0  # nothing usable was said: no confidence in any language
    weight: dict[str, float] = {}
    total = 0.0
    for a in used:
        span = max(1, a.segment.end_ms - a.segment.start_ms)
        total += span
        weight[a.segment.language] = weight.get(a.segment.language, 0.0) + span * a.language_probability
    best = max(weight, key=lambda k: weight[k])
    return best, round(weight[best] / total, 4)


@dataclass(frozen=True)
class LanguageSpan:
    """A run of used transcript segments in one language: where that language is spoken."""

    language: str
    start_ms: int
    end_ms: int
    probability: float  # mean reconciled probability of its segments


def language_spans(details: Sequence[AsrSegment]) -> list[LanguageSpan]:
    """Where each language is spoken, in time order (mixed-language media has several)."""
    used = sorted(
        (d for d in details if d.used and d.track == TRANSCRIPT_TRACK), key=lambda d: d.segment.start_ms
    )
    runs: list[list[AsrSegment]] = []
    for d in used:
        if runs and runs[-1][-1].segment.language == d.segment.language:
            runs[-1].append(d)
        else:
            runs.append([d])
    return [
        LanguageSpan(
            run[0].segment.language,
            run[0].segment.start_ms,
            run[-1].segment.end_ms,
            round(sum(d.language_probability for d in run) / len(run), 4),
        )
        for run in runs
    ]


def translation_units(segments: Sequence[Segment]) -> list[Unit]:
    """Sentence units of the English translation track (source "asr", track "asr-translate")."""
    from analyzer.units import Piece, sentences_from_pieces

    if not segments:
        return []
    pieces = [Piece(s.text, s.start_ms, s.end_ms, s.language) for s in segments]
    return sentences_from_pieces(pieces, segments[0].media_id, "asr", TRANSLATION_TRACK)


def flag_note(details: Sequence[AsrSegment]) -> str | None:
    """A media note saying how many decoded segments the guards kept out, and why."""
    flagged = [d for d in details if d.flags]
    if not flagged:
        return None
    reasons = ", ".join(sorted({f for d in flagged for f in d.flags}))
    return f"ASR: {len(flagged)} segment(s) not used as speech (likely hallucination: {reasons})"
