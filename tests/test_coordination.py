from __future__ import annotations

import numpy as np
import pytest

from analyzer.coordination import (
    MediaInfo,
    ScoreOptions,
    build_talking_points,
    content_words,
    find_reuploads,
    looks_random_handle,
)
from analyzer.records import Source, Unit


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("@freevalley_voice_x7k2q", True),
        ("@valleylife_93fj1", True),
        ("user_839271", True),
        ("@SarahHikes", False),
        ("@toms_kitchen", False),
        ("@news_2024", False),
        (None, False),
    ],
)
def test_coordination_random_handles(handle, expected):
    assert looks_random_handle(handle) is expected


def test_coordination_content_words_ignore_stop_words():
    assert content_words("Hello everyone, welcome back to my channel.", "en") <= 3
    assert content_words("We are free to live our lives the way we choose in this valley.", "en") >= 4
    assert content_words("我们是自由的", "zh") == 3


def _unit(i, media, text, start, language="en"):
    return Unit(f"u{i}", media, start, start + 2000, text, language, "asr", "asr")


def test_coordination_reupload_needs_same_words_at_same_times():
    lines = [
        "We are free to live our lives here.",
        "Nobody forces me to do anything.",
        "Foreign media tell lies.",
    ]
    units = [_unit(i, "a", t, 1000 + 3000 * i) for i, t in enumerate(lines)]
    units += [_unit(10 + i, "b", t, 1200 + 3000 * i) for i, t in enumerate(lines)]  # same recording
    units += [_unit(20 + i, "c", t, 500 + 4100 * i) for i, t in enumerate(lines)]  # another speaker
    media = {
        "a": MediaInfo("a", Source(published="2024-03-11"), 10_000),
        "b": MediaInfo("b", Source(published="2024-03-14"), 10_100),
        "c": MediaInfo("c", Source(published="2024-03-12"), 10_000),
    }
    assert find_reuploads(units, media, 0.8) == {"b": "a"}


def test_coordination_generic_lines_rank_below_specific_ones():
    rng = np.random.default_rng(3)
    script, greeting = rng.normal(size=16), rng.normal(size=16)
    units, vectors = [], []
    for i in range(4):
        units.append(
            _unit(2 * i, f"m{i}", "We are free to live our lives the way we choose in this valley.", 0)
        )
        units.append(_unit(2 * i + 1, f"m{i}", "Hello everyone, welcome back to my channel.", 5000))
        vectors += [script + rng.normal(scale=0.01, size=16), greeting + rng.normal(scale=0.01, size=16)]
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    media = {
        f"m{i}": MediaInfo(f"m{i}", Source(channel=f"c{i}", handle=f"@voice_{i}x9k2"), 9000) for i in range(4)
    }
    generic = (greeting / np.linalg.norm(greeting))[None, :].astype(np.float32)
    groups = [[0, 2, 4, 6], [1, 3, 5, 7]]
    points = build_talking_points(
        groups, units, matrix, media, generic, ScoreOptions(semantic_threshold=0.85)
    )
    assert next(p.label for p in points).startswith("We are free")
    assert points[0].id == "tp-0001" and points[0].n_media == 4 and points[0].n_channels == 4
    assert points[0].parts.accounts == 1.0
    assert points[1].parts.specificity < points[0].parts.specificity
    assert all(m.relation == "verbatim" for m in points[0].members)


def test_coordination_one_medium_alone_is_not_a_talking_point():
    units = [_unit(0, "a", "A line said twice.", 0), _unit(1, "a", "A line said twice.", 4000)]
    vectors = np.ones((2, 4), dtype=np.float32) / 2
    media = {"a": MediaInfo("a", Source(), 9000)}
    assert build_talking_points([[0, 1]], units, vectors, media, np.zeros((0, 4)), ScoreOptions(0.85)) == []


def _tp(tp_id, media_ids, specificity=1.0):
    from analyzer.records import Member, ScoreParts, TalkingPoint

    members = tuple(Member(_unit(i, m, "x", 0), 1.0, "verbatim") for i, m in enumerate(media_ids))
    parts = ScoreParts(1, 1, specificity, 1, 1)
    return TalkingPoint(tp_id, tp_id, members, 1.0, parts, len(media_ids), 1, ("en",))


def test_coordination_scripts_group_lines_that_travel_together():
    from analyzer.coordination import group_scripts

    media = {m: MediaInfo(m, Source(), 1000) for m in "abcdefgh"}
    media["h"] = MediaInfo("h", Source(), 1000, duplicate_of="a")
    points = [
        _tp("tp-1", "abcd"),
        _tp("tp-2", "abch"),  # h is a re-upload of a: counts as a
        _tp("tp-3", "bcd"),
        _tp("tp-4", "efg"),  # another campaign
        _tp("tp-5", "ef"),
        _tp("tp-6", "ag"),  # shares one medium with each: not enough
        _tp("tp-7", "abcd", specificity=0.15),  # a greeting the same media say: boilerplate
    ]
    scripts = group_scripts(points, media)
    assert [(s.talking_points, s.media) for s in scripts] == [
        (("tp-1", "tp-2", "tp-3"), ("a", "b", "c", "d")),
        (("tp-4", "tp-5"), ("e", "f", "g")),
    ]
    assert [s.id for s in scripts] == ["script-01", "script-02"]


def test_coordination_a_short_line_counts_and_a_repeated_filler_does_not():
    """ "We are free." (one content word) recited once per medium is a script line; "Okay."
    said several times in each medium is a filler, whatever its length."""
    rng = np.random.default_rng(5)
    line, filler = rng.normal(size=16), rng.normal(size=16)
    units, vectors, groups = [], [], [[], []]
    for i in range(5):
        groups[0].append(len(units))
        units.append(_unit(len(units), f"m{i}", "We are free.", 1000))
        vectors.append(line + rng.normal(scale=0.01, size=16))
        for start in (3000, 9000, 15000):
            groups[1].append(len(units))
            units.append(_unit(len(units), f"m{i}", "Okay.", start))
            vectors.append(filler + rng.normal(scale=0.01, size=16))
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    media = {f"m{i}": MediaInfo(f"m{i}", Source(channel=f"c{i}"), 20000) for i in range(5)}
    points = build_talking_points(groups, units, matrix, media, np.zeros((0, 16)), ScoreOptions(0.85))
    assert [p.label for p in points][:1] == ["We are free."]
    assert points[0].parts.specificity == 1.0
    assert all(p.parts.specificity == 0.0 for p in points if p.label == "Okay.")


def test_coordination_a_line_said_across_unrelated_scripts_is_boilerplate():
    """No prototype knows "Salut la compagnie" or "Hasta pronto": said by the reciters of
    two unrelated scripts and by independent speakers, none of which holds half its media,
    it ranks below every scripted line; a one-line campaign, whose reciters recite no
    script, keeps its place."""
    rng = np.random.default_rng(7)
    meanings = {name: rng.normal(size=16) for name in ["a1", "a2", "b1", "b2", "hello", "solo"]}
    said = {
        "a1": ["a0", "a1", "a2", "a3"],
        "a2": ["a0", "a1", "a2", "a3"],
        "b1": ["b0", "b1", "b2", "b3"],
        "b2": ["b0", "b1", "b2", "b3"],
        "hello": ["a0", "a1", "b0", "i0", "i1", "i2", "i3", "i4"],  # scripts' share 2/8 each
        "solo": ["c0", "c1", "c2", "c3", "c4"],
    }
    texts = {"hello": "Salut la compagnie !", "solo": "We are free."}
    units, vectors, groups = [], [], []
    for name, media_ids in said.items():
        groups.append([])
        for k, m in enumerate(media_ids):
            groups[-1].append(len(units))
            units.append(
                _unit(len(units), m, texts.get(name, f"Script line {name} with its own words."), 1000 * k)
            )
            vectors.append(meanings[name] + rng.normal(scale=0.01, size=16))
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    media = {m: MediaInfo(m, Source(channel=m), 20000) for ms in said.values() for m in ms}
    points = build_talking_points(groups, units, matrix, media, np.zeros((0, 16)), ScoreOptions(0.85))
    by_label = {p.label: p for p in points}
    hello = by_label["Salut la compagnie !"]
    assert hello.parts.specificity == 0.5  # the largest script share, 2/8, over the bar of 1/2
    assert points[-1] is hello
    assert by_label["We are free."].parts.specificity == 1.0
    assert all(p.parts.specificity == 1.0 for p in points if p is not hello)


def test_coordination_a_line_that_opens_or_closes_every_video_frames_it():
    """No prototype knows "Servus beinand!": the reciters of one script say it, and as
    many speakers who recite nothing, and it opens every video it is in, where a script
    line sits inside. A one-line campaign's clips (all edge) and a campaign's own opening
    line, said by its reciters, keep their places."""
    rng = np.random.default_rng(9)
    meaning = {name: rng.normal(size=16) for name in ["servus", "a1", "a2", "motto", "free"]}
    units, vectors, groups = [], [], {name: [] for name in meaning}

    def say(name, media_id, start, text=None):
        if name in groups:
            groups[name].append(len(units))
        units.append(_unit(len(units), media_id, text or f"Words of {name}, said here.", start))
        vectors.append(meaning.get(name, rng.normal(size=16)) + rng.normal(scale=0.01, size=16))

    for i in range(4):  # reciters of script a: an opening greeting, two lines, own words
        say("servus", f"a{i}", 0, "Servus beinand!")
        say("a1", f"a{i}", 3000)
        say(f"own-a{i}", f"a{i}", 6000)
        say("a2", f"a{i}", 9000)
    for i in range(5):  # speakers who recite nothing, with the same opening
        say("servus", f"i{i}", 0, "Servus beinand!")
        say(f"own-i{i}", f"i{i}", 3000)
        say(f"more-i{i}", f"i{i}", 6000)
    for i in range(4):  # campaign b opens with its motto
        say("motto", f"b{i}", 0, "Greetings from the free valley!")
        say(f"own-b{i}", f"b{i}", 3000)
        say(f"more-b{i}", f"b{i}", 6000)
    for i in range(3):  # clips of one sentence: the line opens and closes each
        say("free", f"c{i}", 0, "We are free.")
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    media = {u.media_id: MediaInfo(u.media_id, Source(channel=u.media_id), 40000) for u in units}
    points = build_talking_points(
        list(groups.values()), units, matrix, media, np.zeros((0, 16)), ScoreOptions(0.85)
    )
    specificity = {p.label: p.parts.specificity for p in points}
    assert specificity["Servus beinand!"] == 0.0
    assert specificity["Greetings from the free valley!"] == 1.0
    assert specificity["We are free."] == 1.0
    assert points[-1].label == "Servus beinand!"


def test_coordination_a_line_recited_in_two_languages_is_as_tight_as_in_one():
    # the model puts a line's translations further apart than its copies: each language's
    # recitals are measured against their own medoid, so a chorus in two languages does not
    # rank below the same chorus in one
    rng = np.random.default_rng(5)
    english, french, loose = rng.normal(size=16), rng.normal(size=16), rng.normal(size=(4, 16))
    units, vectors = [], []
    for i in range(4):
        units.append(_unit(i, f"m{i}", "We are free to live our lives the way we choose.", 0))
        vectors.append(english + rng.normal(scale=0.05, size=16))
        units.append(_unit(10 + i, f"f{i}", "Nous sommes libres de vivre comme nous le voulons.", 0, "fr"))
        vectors.append(french + rng.normal(scale=0.05, size=16))
    for i in range(4):  # one language, words that differ as much as the two languages do
        units.append(_unit(20 + i, f"p{i}", f"Some loose paraphrase number {i} of a line.", 0))
        vectors.append(english + french + 1.5 * loose[i])
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    media = {u.media_id: MediaInfo(u.media_id, Source(channel=u.media_id), 9000) for u in units}
    options = ScoreOptions(semantic_threshold=0.3)
    bilingual = build_talking_points([list(range(8))], units, matrix, media, np.zeros((0, 16)), options)[0]
    english_only = build_talking_points([[0, 2, 4, 6]], units, matrix, media, np.zeros((0, 16)), options)[0]
    assert bilingual.parts.tightness >= english_only.parts.tightness - 0.02
    assert {m.relation for m in bilingual.members} == {"verbatim"}
    # a loose group in one language stays loose: the rule reads languages, not spread
    loose_group = [[0, 2, *range(8, 12)]]
    paraphrased = build_talking_points(loose_group, units, matrix, media, np.zeros((0, 16)), options)[0]
    assert paraphrased.parts.tightness < bilingual.parts.tightness - 0.2


def test_coordination_a_line_has_the_content_words_it_has_in_any_of_its_languages():
    # English's stop words cover all of "This is what you must do."; Russian's leave words
    rng = np.random.default_rng(6)
    line = rng.normal(size=16)
    units = [_unit(i, f"e{i}", "This is what you must do.", 0) for i in range(4)]
    units += [_unit(10 + i, f"r{i}", "Это то, что вы должны сделать.", 0, "ru") for i in range(3)]
    vectors = np.array([line + rng.normal(scale=0.01 if i < 4 else 0.1, size=16) for i in range(7)])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    media = {u.media_id: MediaInfo(u.media_id, Source(channel=u.media_id), 9000) for u in units}
    options = ScoreOptions(semantic_threshold=0.5)
    both = build_talking_points([list(range(7))], units, vectors, media, np.zeros((0, 16)), options)[0]
    assert both.label == "This is what you must do."  # the English recitals are the medoid
    assert both.parts.specificity == 1.0
    english = build_talking_points([[0, 1, 2, 3]], units, vectors, media, np.zeros((0, 16)), options)[0]
    assert english.parts.specificity == 0.0
