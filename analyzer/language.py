"""Language identification: text detection (langdetect, seeded) and its reconciliation with audio.

Whisper's detector hears the voice; a text detector reads the words Whisper wrote. Each
fails differently: Whisper on a short or accented window, the text detector on short or
mixed text (and on a transcript Whisper wrote in the wrong language). ``reconcile`` pools
the two as independent opinions, trusting the text in proportion to its length.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

_LOCK = threading.Lock()
_READY = False
# Below this many letters a text detector guesses; the audio-based language is better.
MIN_LETTERS = 12
MIN_PROBABILITY = 0.80
# Letters at which the text opinion counts as much as the audio one (a long sentence).
FULL_TEXT_LETTERS = 60
_FLOOR = 1e-3  # a language one side did not name keeps a little probability, not zero


def _ensure_seeded() -> None:
    global _READY
    with _LOCK:
        if not _READY:
            from langdetect import DetectorFactory

            DetectorFactory.seed = 0  # langdetect is random unless seeded
            _READY = True


def normalise(code: str | None) -> str | None:
    """'zh-cn' -> 'zh', 'EN' -> 'en'; None stays None."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base or None


def letter_count(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def text_language_probs(text: str) -> dict[str, float]:
    """langdetect's distribution over languages for ``text``; empty when it is too short to say."""
    if letter_count(text) < MIN_LETTERS:
        return {}
    _ensure_seeded()
    from langdetect import LangDetectException, detect_langs

    try:
        found = detect_langs(text)
    except LangDetectException:
        return {}
    probs: dict[str, float] = {}
    for guess in found:
        code = normalise(guess.lang)
        if code:
            probs[code] = probs.get(code, 0.0) + float(guess.prob)
    return probs


def detect_text_language(text: str, fallback: str | None = None) -> str:
    """The language of ``text``, trusting ``fallback`` (e.g. Whisper's) for short or unsure text."""
    probs = text_language_probs(text)
    guess: str | None = None
    if probs:
        best = max(probs, key=lambda k: probs[k])
        if probs[best] >= MIN_PROBABILITY:
            guess = best
    return guess or normalise(fallback) or "und"


def reconcile(audio: Mapping[str, float], text: Mapping[str, float], text_letters: int) -> tuple[str, float]:
    """The language of a segment from Whisper's audio detection and the text detector's.

    Log-linear pooling: ``p(l) ~ audio(l) * text(l) ** w``, with ``w`` growing with the
    text's length up to 1 at FULL_TEXT_LETTERS letters; each side gives a language it did
    not name a small floor probability, so neither can veto alone.

    Returns:
        (language, probability); ("und", 0.0) when neither side names a language.
    """
    audio = {normalise(k) or k: v for k, v in audio.items()}
    candidates = set(audio) | set(text)
    if not candidates:
        return "und", 0.0
    weight = min(1.0, text_letters / FULL_TEXT_LETTERS) if text else 0.0
    scores = {
        lang: math.log(audio.get(lang, 0.0) + _FLOOR) + weight * math.log(text.get(lang, 0.0) + _FLOOR)
        for lang in candidates
    }
    top = max(scores.values())
    total = sum(math.exp(s - top) for s in scores.values())
    best = max(scores, key=lambda k: (scores[k], k))
    return best, math.exp(scores[best] - top) / total
