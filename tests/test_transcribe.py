from __future__ import annotations

import itertools

import numpy as np
import pytest

from analyzer.media import decode_audio
from analyzer.transcribe import TRANSLATION_TRACK, AudioItem, TranscribeOptions, Transcript, create
from analyzer.transcribe.evidence import language_spans
from tests.conftest import shared

pytestmark = pytest.mark.slow


def _words(text: str) -> list[str]:
    return "".join(ch.lower() if ch.isalnum() else " " for ch in text).split()


@pytest.fixture(scope="module")
def whisper():
    return create(TranscribeOptions())


@pytest.fixture(scope="module")
def multilingual():
    return decode_audio(str(shared("audio/faster-whisper/multilingual.mp3")))


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
    assert all(d.flags == () and d.language_probability > 0.9 for d in transcript.details)


def test_transcribe_labels_each_segment_language(whisper, multilingual):
    transcript = whisper.transcribe(multilingual, "m-multi")
    languages = [s.language for s in transcript.segments]
    assert "en" in languages and "de" in languages
    first_de = languages.index("de")
    assert "en" in languages[:first_de]
    # The English reading ends before 30 s, the German one starts after it.
    for d in transcript.details:
        s = d.segment
        assert s.language == ("en" if s.end_ms <= 30_000 else "de"), (s.start_ms, s.text)
        assert 0.5 < d.language_probability <= 1.0
    spans = language_spans(transcript.details)
    assert [s.language for s in spans] == ["en", "de"]
    assert spans[0].end_ms <= 30_000 <= spans[1].start_ms
    assert 0.3 < transcript.language_probability < 0.7  # half of the speech is in each language


def test_transcribe_translate_adds_an_english_track_of_the_german_part(multilingual):
    german = multilingual[16_000 * 30 : 16_000 * 45]
    transcript = create(TranscribeOptions(translate=True)).transcribe(german, "m-de")
    assert {s.language for s in transcript.segments} == {"de"}
    assert transcript.translation, "no translation track"
    assert all(s.language == "en" for s in transcript.translation)
    english = _words(" ".join(s.text for s in transcript.translation))
    assert "software" in english and ("documentation" in english or "documents" in english)
    tracks = {d.track for d in transcript.details}
    assert tracks == {"asr", TRANSLATION_TRACK}


def test_transcribe_many_packs_short_files_and_gives_each_its_own_text(whisper):
    jfk = decode_audio(str(shared("audio/openai-whisper/jfk.flac")))
    clips = {
        "m-ljs2": ("audio/coqui-tts-ljspeech/LJ001-0002.flac", "in being comparatively modern"),
        "m-ljs8": ("audio/coqui-tts-ljspeech/LJ001-0008.flac", "has never been surpassed"),
        "m-go": ("audio/librosa-data/198-209-0000.ogg", None),
    }
    audios = {key: decode_audio(str(shared(path))) for key, (path, _) in clips.items()}
    items = [AudioItem("m-jfk", jfk), *(AudioItem(k, a) for k, a in audios.items()), AudioItem("m-copy", jfk)]
    found = whisper.transcribe_many(items)
    assert all(isinstance(t, Transcript) for t in found)
    by_id = dict(zip([i.media_id for i in items], found, strict=True))
    for key, (_, expected) in clips.items():
        text = " ".join(s.text for s in by_id[key].segments)
        if expected:
            assert " ".join(_words(text)) == expected, key
        duration = len(audios[key]) * 1000 / 16_000
        for s in by_id[key].segments:
            assert s.media_id == key and 0 <= s.start_ms <= s.end_ms <= duration + 50
            assert all(0 <= w.start_ms <= w.end_ms <= duration + 50 for w in s.words)
    jfk_text = " ".join(s.text for s in by_id["m-jfk"].segments)
    assert "ask not what your country can do for you" in jfk_text.lower()
    # The same audio under another id: transcribed once, reported under its own id.
    copy = by_id["m-copy"]
    assert [s.text for s in copy.segments] == [s.text for s in by_id["m-jfk"].segments]
    assert {s.media_id for s in copy.segments} == {"m-copy"}


def test_transcribe_many_reports_a_bad_item_without_failing_the_others(whisper):
    jfk = decode_audio(str(shared("audio/openai-whisper/jfk.flac")))
    bad = np.full(16_000 * 2, np.nan, dtype=np.float32)
    found = whisper.transcribe_many([AudioItem("m-bad", bad), AudioItem("m-jfk", jfk)])
    assert isinstance(found[1], Transcript) and found[1].segments
    assert isinstance(found[0], Exception) or found[0].segments == ()
