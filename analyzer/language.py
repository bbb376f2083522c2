"""Language identification for short texts (langdetect, seeded so results repeat)."""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_READY = False
# Below this many letters a text detector guesses; the audio-based language is better.
MIN_LETTERS = 12
MIN_PROBABILITY = 0.80


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


def detect_text_language(text: str, fallback: str | None = None) -> str:
    """The language of ``text``, trusting ``fallback`` (e.g. Whisper's) for short or unsure text."""
    letters = sum(ch.isalpha() for ch in text)
    guess: str | None = None
    if letters >= MIN_LETTERS:
        _ensure_seeded()
        from langdetect import LangDetectException, detect_langs

        try:
            best = detect_langs(text)[0]
        except LangDetectException:
            best = None
        if best is not None and best.prob >= MIN_PROBABILITY:
            guess = normalise(best.lang)
    return guess or normalise(fallback) or "und"
