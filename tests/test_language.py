from __future__ import annotations

import pytest

from analyzer.language import detect_text_language, normalise


@pytest.mark.parametrize(
    ("code", "expected"), [("zh-cn", "zh"), ("EN", "en"), ("pt_BR", "pt"), (None, None), ("", None)]
)
def test_language_normalise(code, expected):
    assert normalise(code) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nous sommes libres de vivre notre vie comme nous le voulons dans cette vallée.", "fr"),
        ("Ich bin hier geboren und aufgewachsen und niemand hat mich je zu etwas gezwungen.", "de"),
        ("We are free to live our lives the way we choose in this valley.", "en"),
        ("Мы свободны жить так, как мы хотим, в этой долине.", "ru"),
    ],
)
def test_language_detects_sentences(text, expected):
    assert detect_text_language(text, fallback="en") == expected


def test_language_short_text_trusts_the_audio_language():
    assert detect_text_language("Hallo!", fallback="de") == "de"
    assert detect_text_language("ok", fallback=None) == "und"


def test_language_is_repeatable():
    text = "Gracias al plan del gobierno, mis hijos estudian gratis."
    assert len({detect_text_language(text) for _ in range(5)}) == 1
