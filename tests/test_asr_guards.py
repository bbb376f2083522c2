"""Hallucination guards: rules on text and scores, and real decodes of non-speech."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.transcribe import GuardOptions, TranscribeOptions
from analyzer.transcribe.guards import (
    COMPRESSION,
    LOW_LOGPROB,
    NO_SPEECH,
    REPETITION,
    check,
    compression_ratio,
    is_loop,
    repeated_segments,
)

GUARDS = GuardOptions()
SPEECH = "And so my fellow Americans, ask not what your country can do for you."


@pytest.mark.parametrize(
    ("text", "looping"),
    [
        ("Thank you. Thank you. Thank you. Thank you. Thank you.", True),
        ("I'm sorry, I'm sorry, I'm sorry, I'm sorry.", True),
        ("1,5,5,5,5,5,5,5,5,5,5,5,5,5,5", True),
        ("谢谢谢谢谢谢谢谢谢谢谢谢谢谢", True),
        ("Thank you. Thank you.", False),
        ("no no no no", False),
        (SPEECH, False),
        ("我们在这个山谷里自由地生活，我们选择自己的生活方式。", False),
    ],
)
def test_asr_guards_repetition_loops(text, looping):
    assert is_loop(text, GUARDS) is looping


def test_asr_guards_speech_passes_every_check():
    assert check(SPEECH, avg_logprob=-0.2, no_speech_prob=0.1, options=GUARDS) == ()


def test_asr_guards_each_rule_names_itself():
    assert REPETITION in check("Thank you. " * 6, -0.1, 0.1, GUARDS)
    assert COMPRESSION in check("la " * 40, -0.2, 0.1, GUARDS)
    assert compression_ratio("la " * 40) > GUARDS.max_compression_ratio
    assert check(SPEECH, -1.5, 0.9, GUARDS) == (NO_SPEECH,)  # Whisper's silence rule
    assert check(SPEECH, -1.5, 0.1, GUARDS) == (LOW_LOGPROB,)
    assert check(SPEECH, -0.3, 0.95, GUARDS) == ()  # confident text over a "silent" window stays


def test_asr_guards_identical_consecutive_segments_are_a_loop():
    segments = [("asr", "How are you?")] * 3 + [("asr", "We are free."), ("x", "Hi."), ("x", "hi")]
    assert repeated_segments(segments, GUARDS) == {0, 1, 2}


@pytest.fixture(scope="module")
def no_vad():
    from analyzer.transcribe import create

    return create(TranscribeOptions(vad=False))


def _tones(seconds: int) -> np.ndarray:
    """Music-like: a chord of four sines swelling and fading (no words in it)."""
    t = np.arange(16_000 * seconds) / 16_000
    notes = (220.0, 277.18, 329.63, 440.0)
    chord = sum(np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(np.pi * t + i)) for i, f in enumerate(notes))
    return (0.1 * chord / len(notes)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("signal", ["silence", "tones"])
def test_asr_guards_flag_what_whisper_writes_over_non_speech(no_vad, signal):
    audio = np.zeros(16_000 * 20, dtype=np.float32) if signal == "silence" else _tones(20)
    transcript = no_vad.transcribe(audio, "m-noise")
    assert transcript.details, "Whisper wrote nothing; the guards were not exercised"
    assert all(d.flags for d in transcript.details)
    assert transcript.segments == ()  # nothing of it is used as speech


@pytest.mark.slow
def test_asr_guards_vad_keeps_silence_from_the_decoder():
    from analyzer.transcribe import create

    transcript = create(TranscribeOptions()).transcribe(np.zeros(16_000 * 10, dtype=np.float32), "m-silent")
    assert transcript.details == () and transcript.segments == ()
