"""Hallucination guards: the signs that Whisper wrote words nobody said.

Whisper fills silence, music and noise with fluent text ("Thank you for watching"), and
sometimes loops on one phrase. Those lines would look like a script shared by many
videos, the very thing Chorus reports, so every decoded segment is checked here and a
failing one is flagged (stored and reported, never used as a unit).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from analyzer.transcribe.base import GuardOptions

REPETITION = "repetition"
COMPRESSION = "compression_ratio"
NO_SPEECH = "no_speech"
LOW_LOGPROB = "low_logprob"
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_N = 12  # longest repeated n-gram looked for (a looping sentence is rarely longer)


def compression_ratio(text: str) -> float:
    """Bytes over zlib-compressed bytes, as Whisper computes it: loops compress well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _tokens(text: str) -> list[str]:
    """Words; characters for text written without spaces (Chinese, Japanese, Thai loops)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) <= 2 and len(text) > 12:
        return [ch for ch in text if ch.isalnum()]
    return words


def repeated_runs(text: str) -> list[tuple[int, int]]:
    """(n, count) for every n-gram repeated back to back: "Thank you. Thank you." gives (2, 2)."""
    tokens = _tokens(text)
    runs: list[tuple[int, int]] = []
    for n in range(1, min(_MAX_N, len(tokens) // 2) + 1):
        i = 0
        while i + 2 * n <= len(tokens):
            count = 1
            while tokens[i + count * n : i + (count + 1) * n] == tokens[i : i + n]:
                count += 1
            if count > 1:
                runs.append((n, count))
                i += (count - 1) * n
            else:
                i += 1
    return runs


def is_loop(text: str, options: GuardOptions) -> bool:
    """True when some n-gram repeats back to back at least ``min_repeats[n]`` times."""
    last = len(options.min_repeats)
    return any(count >= options.min_repeats[min(n, last) - 1] for n, count in repeated_runs(text))


def _normal(text: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(text))


def repeated_segments(segments: Sequence[tuple[str, str]], options: GuardOptions) -> set[int]:
    """Indexes of (track, text) segments in a run of identical consecutive texts on one track.

    Each segment of "How are you? / How are you? / How are you?" passes the per-segment
    checks; together they are the loop Whisper falls into over silence or noise.
    """
    looping: set[int] = set()
    start = 0
    for i in range(1, len(segments) + 1):
        same = (
            i < len(segments)
            and segments[i][0] == segments[start][0]
            and _normal(segments[i][1]) == _normal(segments[start][1])
            and bool(_normal(segments[i][1]))
        )
        if same:
            continue
        if i - start >= options.min_repeated_segments:
            looping.update(range(start, i))
        start = i
    return looping


def check(
    text: str, avg_logprob: float, no_speech_prob: float, options: GuardOptions, ratio: float | None = None
) -> tuple[str, ...]:
    """The guards ``text`` fails, in a fixed order; empty when it reads as speech.

    Args:
        text: the decoded text of one segment.
        avg_logprob: mean log-probability of its tokens.
        no_speech_prob: Whisper's probability that its window holds no speech.
        options: the thresholds.
        ratio: its compression ratio, when the engine computed it already.
    """
    flags: list[str] = []
    if is_loop(text, options):
        flags.append(REPETITION)
    if (ratio if ratio is not None else compression_ratio(text)) > options.max_compression_ratio:
        flags.append(COMPRESSION)
    if no_speech_prob > options.no_speech_threshold and avg_logprob < options.min_avg_logprob:
        flags.append(NO_SPEECH)  # Whisper's own silence rule
    elif avg_logprob < options.min_avg_logprob:
        flags.append(LOW_LOGPROB)
    return tuple(flags)
