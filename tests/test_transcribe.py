from __future__ import annotations

import itertools

import pytest

from analyzer.media import decode_audio
from analyzer.transcribe import TranscribeOptions, create
from tests.conftest import shared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper():
    return create(TranscribeOptions())


def test_transcribe_jfk_gives_the_known_text_with_word_times(whisper):
    transcript = whisper.transcribe(decode_audio(str(shared("audio/openai-whisper/jfk.flac"))), "m-jfk")
    text = " ".join(s.text for s in transcript.segments).lower()
    assert "ask not what your country can do for you" in text
    assert "ask what you can do for your country" in text
    assert transcript.language == "en" and all(s.language == "en" for s in transcript.segments)
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) >= 20
    assert all(a.start_ms <= b.start_ms for a, b in itertools.pairwise(words))
    assert all(0 < s.confidence <= 1 for s in transcript.segments)


def test_transcribe_labels_each_segment_language(whisper):
    audio = decode_audio(str(shared("audio/faster-whisper/multilingual.mp3")))
    transcript = whisper.transcribe(audio[: 16_000 * 60], "m-multi")
    languages = [s.language for s in transcript.segments]
    assert "en" in languages and "de" in languages
    first_de = languages.index("de")
    assert "en" in languages[:first_de]
