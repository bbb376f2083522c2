from __future__ import annotations

import pytest

from analyzer.language import detect_text_language, letter_count, normalise, reconcile, text_language_probs


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


def test_language_reconcile_long_text_outweighs_an_unsure_voice():
    text = "Nous sommes libres de vivre notre vie comme nous le voulons dans cette vallée."
    probs = text_language_probs(text)
    language, probability = reconcile({"th": 0.3, "fr": 0.25}, probs, letter_count(text))
    assert language == "fr" and probability > 0.9


def test_language_reconcile_short_text_trusts_the_voice():
    language, probability = reconcile({"de": 0.9, "en": 0.05}, text_language_probs("Hallo!"), 5)
    assert language == "de" and 0.8 < probability <= 1.0


def test_language_reconcile_agreeing_sides_are_surer_than_either():
    text = "We are free to live our lives the way we choose in this valley."
    _, alone = reconcile({"en": 0.6, "de": 0.3}, {}, 0)
    _, both = reconcile({"en": 0.6, "de": 0.3}, text_language_probs(text), letter_count(text))
    assert both > alone


def test_language_reconcile_with_no_evidence_is_undetermined():
    assert reconcile({}, {}, 0) == ("und", 0.0)
    assert text_language_probs("ok") == {}
