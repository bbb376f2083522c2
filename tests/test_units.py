from __future__ import annotations

import pytest

from analyzer.records import Cue, Segment, Word
from analyzer.units import split_sentences, units_from_cues, units_from_segments


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "我们是自由的。我在这里出生长大！你相信吗？",
            "zh",
            ["我们是自由的。", "我在这里出生长大！", "你相信吗？"],
        ),
        ("We are free. I was born here! Are you?", "en", ["We are free.", "I was born here!", "Are you?"]),
        ("Nous sommes libres. Je suis né ici.", "fr", ["Nous sommes libres.", "Je suis né ici."]),
        ("Мы свободны. Я родился здесь.", "ru", ["Мы свободны.", "Я родился здесь."]),
        ("Biz erkin. Men bu yerde tug'ildim.", "qq", ["Biz erkin.", "Men bu yerde tug'ildim."]),
    ],
)
def test_units_split_sentences_per_language(text, language, expected):
    assert [text[a:b] for a, b in split_sentences(text, language)] == expected


def test_units_asr_sentences_are_timed_by_their_words():
    words = [
        ("We", 0, 200),
        ("are", 200, 400),
        ("free.", 400, 900),
        ("Born", 1500, 1800),
        ("and", 1800, 1900),
        ("raised", 1900, 2300),
        ("here.", 2300, 2800),
    ]
    segment = Segment(
        "m-1",
        0,
        2800,
        "We are free. Born and raised here.",
        "en",
        0.9,
        words=tuple(Word(s, e, t, 0.9) for t, s, e in words),
    )
    units = units_from_segments([segment])
    assert [(u.text, u.start_ms, u.end_ms) for u in units] == [
        ("We are free.", 0, 900),
        ("Born and raised here.", 1500, 2800),
    ]
    assert all(u.source == "asr" and u.media_id == "m-1" for u in units)


def test_units_a_sentence_split_over_two_cues_becomes_one_unit():
    cues = [
        Cue("m-2", "sidecar:a.en.srt", 1000, 2000, "We are free to live", "en"),
        Cue("m-2", "sidecar:a.en.srt", 2000, 3000, "the way we choose.", "en"),
        Cue("m-2", "sidecar:a.en.srt", 3500, 4500, "Thank you.", "en"),
    ]
    units = units_from_cues(cues, "en")
    assert [u.text for u in units] == ["We are free to live the way we choose.", "Thank you."]
    assert (units[0].start_ms, units[0].end_ms) == (1000, 3000)
    assert units[1].start_ms >= 3500
    assert units[0].source == "subtitle" and units[0].track == "sidecar:a.en.srt"


def test_units_chinese_cues_join_without_spaces_and_split_on_full_stops():
    cues = [
        Cue("m-3", "stream:2", 0, 1000, "我们是自由的。我在", "zh"),
        Cue("m-3", "stream:2", 1000, 2000, "这里出生。", "zh"),
    ]
    units = units_from_cues(cues, None)
    assert [u.text for u in units] == ["我们是自由的。", "我在这里出生。"]
    assert units[0].language == "zh"


def test_units_ids_are_stable_and_distinct():
    cue = [Cue("m-4", "t", 0, 1000, "One line here. Another line here.", "en")]
    first, second = units_from_cues(cue, "en"), units_from_cues(cue, "en")
    assert [u.id for u in first] == [u.id for u in second]
    assert len({u.id for u in first}) == 2


def test_units_an_unpunctuated_pause_ends_a_sentence():
    words = [
        ("Hi", 0, 200),
        ("everyone", 200, 700),
        ("The", 1600, 1700),
        ("new", 1700, 1900),
        ("water", 1900, 2200),
        ("plant", 2200, 2600),
    ]
    segment = Segment(
        "m-5",
        0,
        2600,
        "Hi everyone The new water plant",
        "en",
        0.8,
        words=tuple(Word(s, e, t, 0.9) for t, s, e in words),
    )
    assert [u.text for u in units_from_segments([segment])] == ["Hi everyone", "The new water plant"]
