from __future__ import annotations

from collections import Counter

import pytest

from analyzer.records import Cue, Segment, Word
from analyzer.units import split_sentences, units_from_cues, units_from_segments


def _sentences(text, language):
    return [text[a:b] for a, b in split_sentences(text, language)]


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
    assert _sentences(text, language) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an opening quote after a sentence end belongs to the next sentence, and a quoted
        # cry goes on to say who said it
        (
            'Everyone is in the living room. "This is it!" he exclaimed. We left.',
            ["Everyone is in the living room.", '"This is it!" he exclaimed.', "We left."],
        ),
        ("He left. “Are you?” she asked.", ["He left.", "“Are you?” she asked."]),
        ("Il est parti. « On y va ? » dit-il.", ["Il est parti.", "« On y va ? » dit-il."]),
        (
            "Hola a todos. ¿Estás diciendo que no? ¡Qué bien!",
            ["Hola a todos.", "¿Estás diciendo que no?", "¡Qué bien!"],
        ),
        # a quote closing a sentence stays on it; a new sentence after a cry stays apart
        ('He said: "We are free." Then he left.', ['He said: "We are free."', "Then he left."]),
        ('"Stop!" He ran.', ['"Stop!"', "He ran."]),
    ],
)
def test_units_quotation_marks_stay_with_their_sentence(text, expected):
    from analyzer.units import ends_sentence

    language = "fr" if "«" in text else "es" if "¿" in text else "en"
    sentences = _sentences(text, language)
    assert sentences == expected
    assert all(ends_sentence(s) for s in sentences)


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


def _segments(media_id, *texts, gap=150):
    """Segments said one after the other, each word 300 ms, ``gap`` between segments."""
    out, t = [], 0
    for text in texts:
        words = []
        for token in text.split():
            words.append(Word(t, t + 300, token, 0.9))
            t += 300
        out.append(Segment(media_id, words[0].start_ms, t, text, "en", 0.8, words=tuple(words)))
        t += gap
    return out


def test_units_an_unpunctuated_segment_ends_a_sentence_only_where_the_speech_is():
    # Whisper left the whole stretch unpunctuated: the segment's end is the best sign of a
    # sentence end, even with no pause after it
    bare = _segments("m-6", "are you saying tom is not canadian", "i did not think so")
    assert [u.text for u in units_from_segments(bare)] == [
        "are you saying tom is not canadian",
        "i did not think so",
    ]
    # it punctuates the next segment: a segment with no stop is part of a sentence
    punctuated = _segments("m-7", "Are you saying", "Tom isn't Canadian?", "I did not think so.")
    assert [u.text for u in units_from_segments(punctuated)] == [
        "Are you saying Tom isn't Canadian?",
        "I did not think so.",
    ]
    # a pause still ends a sentence there (PAUSE_MS)
    paused = _segments("m-8", "Hi everyone", "The new water plant opened.", gap=900)
    assert [u.text for u in units_from_segments(paused)] == ["Hi everyone", "The new water plant opened."]


def _unit(media, start, end, text, language="en", source="asr", track="asr"):
    from analyzer.records import Unit

    return Unit(f"{media}-{start}", media, start, end, text, language, source, track)


def test_units_windows_join_adjacent_sentences_of_one_source_only():
    from analyzer.units import windows

    units = [
        _unit("m1", 0, 1000, "We are free"),
        _unit("m1", 1300, 2500, "to live our lives."),
        _unit("m1", 9000, 9800, "Much later."),  # too far from the last to be one stretch
        _unit("m1", 1000, 2000, "Nous sommes libres.", "fr", "subtitle", "s:fr"),
        _unit("m2", 0, 800, "我们是", "zh"),
        _unit("m2", 900, 1500, "自由的。", "zh"),
        _unit("m2", 1600, 2000, "Thank you.", "en"),  # another language: no window
    ]
    found = {(w.media_id, w.text, w.start_ms, w.end_ms, w.track) for w in windows(units)}
    assert found == {
        ("m1", "We are free to live our lives.", 0, 2500, "asr"),
        ("m2", "我们是自由的。", 0, 1500, "asr"),
    }
    assert not {w.id for w in windows(units)} & {u.id for u in units}


def test_units_parts_cut_only_unpunctuated_units_and_share_out_time():
    from analyzer.units import parts

    merged = _unit("m1", 0, 6000, "hey guys welcome back we are free to live our lives")
    found = parts([merged, _unit("m1", 7000, 9000, "We are free to live our lives here.")], max_cuts=8)
    texts = {u.text for u in found}
    assert "we are free to live our lives" in texts and "hey guys welcome back" in texts
    assert all(u.media_id == "m1" and 0 <= u.start_ms < u.end_ms <= 6000 for u in found)
    assert all(len(u.text.split()) >= 3 for u in found)  # no part under three words
    line = next(u for u in found if u.text == "we are free to live our lives")
    assert line.end_ms == 6000 and 2600 < line.start_ms < 2700  # 18 of 41 letters come first
    assert (
        len(parts([_unit("m2", 0, 900, "我们是自由的人民生活幸福", "zh")])) == 2
    )  # one cut: 6 + 6 characters


def test_units_aligned_finds_a_known_line_across_unpunctuated_segments():
    from analyzer.units import aligned

    units = [
        # references: whole punctuated sentences of other media
        _unit("m1", 0, 2000, "We are free to live our lives!"),
        _unit("m2", 0, 1500, "N'oubliez pas"),  # a sentence cut in two: its tail is no reference
        _unit("m2", 1600, 2600, "de vous abonner."),
        # an unpunctuated transcript: the line's start ends one segment, its end opens the next
        _unit("m3", 0, 3000, "hey guys welcome back we are free"),
        _unit("m3", 3000, 6000, "to live our lives the harvest was good this year"),
        _unit("m4", 0, 2000, "n oubliez pas de vous abonner merci"),
    ]
    scan = [False, False, False, True, True, True]
    found = aligned(units, scan, units[:3], [0, 1, 1])
    assert [(u.media_id, u.text) for u in found] == [("m3", "we are free to live our lives")]
    line = found[0]
    assert line.start_ms == 2000 and line.end_ms == 4076  # 18 of 27 letters before; 14 of 39 after
    assert line.id not in {u.id for u in units}
    # unpunctuated runs are always searched; a punctuated sentence only when flagged
    assert aligned(units, [False] * 6, units[:3], [0, 1, 1]) == found
    longer = [units[0], _unit("m5", 0, 4000, "Well, we are free to live our lives, they said.")]
    assert aligned(longer, [False, False], units[:1], [0]) == []
    assert [u.text for u in aligned(longer, [False, True], units[:1], [0])] == [
        "we are free to live our lives"
    ]
    # a stretch as wide as a unit is no news
    whole = [_unit("m5", 0, 900, "we are free to live our lives")]
    assert aligned([units[0], *whole], [False, True], units[:1], [0]) == []


def test_units_aligned_reads_unspaced_scripts_by_character_and_keeps_the_words_as_said():
    from analyzer.units import aligned

    units = [
        _unit("m1", 0, 2000, "我们是自由的人民。", "zh"),
        _unit("m2", 0, 3000, "大家好我们是自由的人民谢谢", "zh"),
        _unit("m3", 0, 2000, "Don't forget the harvest festival!"),
        _unit("m4", 0, 4000, "Hello again, friends don't forget the harvest festival bye"),
    ]
    found = aligned(units, [False, True, False, True], [units[0], units[2]], [0, 1])
    assert sorted(u.text for u in found) == ["don't forget the harvest festival", "我们是自由的人民"]


def test_units_found_lines_and_parts_are_timed_by_their_words():
    from analyzer.units import aligned, parts, unit_clock

    # an unpunctuated segment: a greeting said slowly, then the line said fast (words touch,
    # as faster-whisper's do)
    words = [("hey", 0, 1500), ("guys", 1500, 3000), ("we", 3000, 3200), ("are", 3200, 3400)]
    words += [("free", 3400, 3800), ("to", 3800, 3900), ("live", 3900, 4300), ("here", 4300, 4800)]
    segment = Segment(
        "m3",
        0,
        4800,
        "hey guys we are free to live here",
        "en",
        0.9,
        words=tuple(Word(s, e, t, 0.9) for t, s, e in words),
    )
    units = units_from_segments([segment])
    assert [u.text for u in units] == ["hey guys we are free to live here"]
    clock = unit_clock([segment])
    reference = _unit("m1", 0, 2000, "We are free to live here!")
    found = aligned([reference, *units], [False, True], [reference], [0], clock)
    assert [(u.text, u.start_ms, u.end_ms) for u in found] == [("we are free to live here", 3000, 4800)]
    # without the words, the time is shared out by characters: the slow greeting is lost
    (guessed,) = aligned([reference, *units], [False, True], [reference], [0])
    assert guessed.start_ms < 2000
    cut = {u.text: (u.start_ms, u.end_ms) for u in parts(units, max_cuts=2, min_words=2, clock=clock)}
    assert cut["hey guys"] == (0, 3000) and cut["we are free to live here"] == (3000, 4800)


def test_units_aligned_tries_each_line_of_a_group_that_open_alike():
    from analyzer.units import aligned

    # one group (key 0) holds two lines that open with the same words; the first reference
    # with "don t be" is the other line, whose stretch ("don t be") is half the line said
    units = [
        _unit("m1", 0, 2000, "Don't be worried about the harvest."),
        _unit("m2", 0, 2000, "Don't be ashamed of yourself, my friend."),
        _unit("m3", 0, 6000, "marilyn monroe died long ago don t be ashamed of yourself my friend i spent"),
    ]
    found = aligned(units, [False, False, True], units[:2], [0, 0])
    assert [u.text for u in found] == ["don t be ashamed of yourself my friend"]


def test_units_an_aligned_stretch_counts_repeated_words():
    from analyzer.units import _best_window

    def words(text):
        return text.split(" ")

    reference = Counter(words("tom sat on the bench"))
    # "tom tom sat ..." says one word more than the line: the stretch starts at the second
    assert _best_window(words("i saw tom tom sat on the bench"), reference) == (1.0, 3, 8)
    # a word the line says twice is kept twice ("i think ... i m")
    line = Counter(words("i think you know who i m talking about"))
    stream = words("so i think you know who i m talking about")
    assert _best_window(stream, line) == (1.0, 1, 10)


def test_units_a_word_ending_in_a_combining_mark_ends_its_sentence():
    # spaCy's Arabic tokenizer keeps the full stop on a word with tanween ("باكراً.")
    text = "لنذهب باكراً. سيكون سامي بخير."
    assert _sentences(text, "ar") == ["لنذهب باكراً.", "سيكون سامي بخير."]
    # or with a shadda inside it
    text = "أطلق سامي النّار على كلب متشرّد. لنذهب باكراً."
    first, second = "أطلق سامي النّار على كلب متشرّد.", "لنذهب باكراً."
    assert _sentences(text, "ar") == [first, second]
    # abbreviations and initials keep their full stop
    dotted = "He lives in the U.S. now. Ask Dr. Who about J. Smith and so on."
    assert _sentences(dotted, "en") == [
        "He lives in the U.S. now.",
        "Ask Dr. Who about J. Smith and so on.",
    ]
    english = "Hello Mr. Smith. How are you?"
    assert _sentences(english, "en") == ["Hello Mr. Smith.", "How are you?"]
    # the English "I" is a word, no initial, after a word in lower case
    text = "Neither do I. Are you falling in love with me? George W. Bush said so. I. Am I?"
    assert _sentences(text, "en") == [
        "Neither do I.",
        "Are you falling in love with me?",
        "George W. Bush said so.",
        "I. Am I?",
    ]


def test_units_stops_of_other_scripts_end_sentences_even_without_spaces():
    # spaCy's tokenizers leave these stops inside a word where a script writes no spaces
    cases = {
        "ja": ("これはペンです。あれは本です。", ["これはペンです。", "あれは本です。"]),
        "my": ("မင်္ဂလာပါ။ နေကောင်းလား။", ["မင်္ဂလာပါ။", "နေကောင်းလား။"]),
        "bo": ("བཀྲ་ཤིས་བདེ་ལེགས། ཁྱེད་རང་བདེ་པོ་ཡིན་པས།", ["བཀྲ་ཤིས་བདེ་ལེགས།", "ཁྱེད་རང་བདེ་པོ་ཡིན་པས།"]),
        "km": ("សួស្តី។ សុខសប្បាយទេ?", ["សួស្តី។", "សុខសប្បាយទេ?"]),
        "hy": ("Բարեւ։ Ինչպես ես", ["Բարեւ։", "Ինչպես ես"]),
        "ug": ("ئۇ كەلدى. سىز كەلدىڭىزمۇ؟ بىز ئەركىن", ["ئۇ كەلدى.", "سىز كەلدىڭىزمۇ؟", "بىز ئەركىن"]),
    }
    for language, (text, sentences) in cases.items():
        assert _sentences(text, language) == sentences, language
    # a closing quote stays with its sentence; a full stop in a number or after "Mr" ends none
    text = "我们是自由的！”他说。"
    assert _sentences(text, "zh") == ["我们是自由的！”", "他说。"]
    text = "He paid $2.50 to Mr. Smith. Then he left."
    assert _sentences(text, "en") == [
        "He paid $2.50 to Mr. Smith.",
        "Then he left.",
    ]
