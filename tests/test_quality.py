"""The quality benchmark's scoring on tiny hand-made inputs (not the benchmark itself)."""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
from pathlib import Path

import pytest

from analyzer.records import Unit

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
_spec = importlib.util.spec_from_file_location("chorus_bench_quality", _PATH)
assert _spec and _spec.loader
quality = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = quality  # dataclasses look their module up
_spec.loader.exec_module(quality)
Utterance = quality.Utterance
assign = quality.assign
average_precision = quality.average_precision
line_recall = quality.line_recall
pair_scores = quality.pair_scores
paraphrase = quality.paraphrase
run_cosimilar = quality.run_cosimilar
word_set = quality.word_set


def test_quality_pair_scores_count_pairs_not_items():
    gold = ["A", "A", "A", "B", "B", None]
    # One A is missed, a B joins A's group, the independent line is grouped with the other B.
    predicted = [0, 0, None, 0, 1, 1]
    p, r, f1 = pair_scores(gold, predicted)
    # predicted pairs: group 0 has 3 (1 true: the two A's), group 1 has 1 (false)
    # gold pairs: A has 3, B has 1 -> 4
    assert (p, r) == pytest.approx((1 / 4, 1 / 4))
    assert f1 == pytest.approx(0.25)
    assert pair_scores(gold[:5], [0, 0, 0, 1, 1]) == (1.0, 1.0, 1.0)


def test_quality_pair_scores_per_language_keep_pairs_touching_it():
    gold = ["A", "A", "A"]
    predicted = [0, 0, None]
    in_fr = [False, False, True]  # the French recital was missed: every pair touching it is lost
    assert pair_scores(gold, predicted, in_fr) == (1.0, 0.0, 0.0)
    assert pair_scores(gold, predicted, [True, False, False])[1] == pytest.approx(0.5)


def test_quality_line_recall_is_share_in_main_group():
    recall = line_recall(["A", "A", "A", "A", "B", "B"], [0, 0, 1, None, None, None])
    assert recall == {"A": 0.5, "B": 0.0}


def test_quality_average_precision_punishes_boilerplate_above_and_duplicates():
    # groups: 0 = a greeting, 1 = line A, 2 = line A again (duplicate), 3 = line B
    gold = [None, None, "A", "A", "A", "B", "B"]
    predicted = [0, 0, 1, 1, 2, 3, 3]
    ap = average_precision(4, gold, predicted, {"A", "B"})
    assert ap == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision(2, ["A", "A", "B", "B"], [0, 0, 1, 1], {"A", "B"}) == 1.0
    assert average_precision(1, ["A", "A"], [0, 0], {"A", "B"}) == 0.5  # B never found


def _unit(i, media, start, end, text="x", language="en"):
    return Unit(f"u{i}", media, start, end, text, language, "asr", "asr")


def test_quality_assign_uses_the_unit_covering_most_of_the_utterance():
    utterances = [
        Utterance("m1", 0, 1000, "a", "en", "script", "A"),
        Utterance("m1", 1200, 3000, "b", "en", "own"),
        Utterance("m2", 0, 1000, "a", "en", "script", "A"),
    ]
    units = [_unit(0, "m1", 0, 1100), _unit(1, "m1", 1150, 1600), _unit(2, "m2", 0, 1000)]
    # unit 1 covers a quarter of the second utterance only: it is not assigned
    assert assign(utterances, units, [[0, 2], [1]]) == [0, None, 0]


def test_quality_unit_ceiling_groups_units_by_the_line_most_of_them_recite():
    utterances = [
        Utterance("m1", 0, 1000, "hello", "en", "generic"),
        Utterance("m1", 1100, 3000, "a", "en", "script", "A"),
        Utterance("m2", 0, 1000, "a", "en", "script", "A"),
        Utterance("m2", 1200, 2000, "b", "en", "script", "B"),
        Utterance("m3", 0, 900, "b", "en", "script", "B"),
    ]
    # m1's single unpunctuated unit holds the greeting and line A: one vote each, and the
    # tie goes to the first seen, the greeting, so even ideal grouping loses m1's recital.
    units = [
        _unit(0, "m1", 0, 3000),
        _unit(1, "m2", 0, 1000),
        _unit(2, "m2", 1200, 2000),
        _unit(3, "m3", 0, 900),
    ]
    corpus = quality.Corpus({}, utterances, {}, {"A": "a", "B": "b"}, {})
    groups = quality.unit_ceiling(corpus, units).groups
    assert sorted(sorted(g) for g in groups) == [[1], [2, 3]]


def test_quality_cosimilar_baseline_groups_word_set_copies_across_media():
    units = [
        _unit(0, "m1", 0, 1, "We are free to live our lives here."),
        _unit(1, "m2", 0, 1, "we are free to live our lives here"),
        _unit(2, "m2", 5, 6, "We are free to live our lives here."),  # same medium as 1
        _unit(3, "m3", 0, 1, "Something else entirely is said here."),
        _unit(4, "m4", 0, 1, "我们是自由的人", "zh"),
        _unit(5, "m5", 0, 1, "我们是自由的人。", "zh"),
    ]
    groups = run_cosimilar(units).groups
    assert sorted(sorted(g) for g in groups) == [[0, 1, 2], [4, 5]]
    assert word_set("我们 是", "zh") == frozenset("我们是")


def test_quality_paraphrase_is_seeded_and_changes_the_line():
    line = "The new water plant brought clean water and jobs to every village."
    first = paraphrase(line, "en", random.Random(3))
    assert first == paraphrase(line, "en", random.Random(3))
    assert first != line
    assert paraphrase("我们的村庄有了干净的水和工作。", "zh", random.Random(1)).endswith("。")


def test_quality_word_times_follow_each_line_and_touch():
    # two lines in one segment with a second's pause between them
    words = quality._word_times([("we are free", 1000, 2100, "en"), ("thank you", 3100, 3900, "en")])
    assert [w.text for w in words] == ["we", "are", "free", "thank", "you"]
    assert words[0].start_ms == 1000 and words[3].start_ms == 3100  # each line starts on time
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(words))  # no gap inside a segment
    assert words[-1].end_ms == 3900
    # Chinese: one character a word
    assert [w.text for w in quality._word_times([("我们自由", 0, 800, "zh")])] == ["我", "们", "自", "由"]


def test_quality_explanation_sorts_lost_pairs_by_cause():
    def said(media, line, language="en", kind="script"):
        return Utterance(media, 0, 1000, "x", language, kind, line)

    utterances = [
        said("m1", "c0-L1"),
        said("m2", "c0-L1"),
        said("m3", "c0-L1", "fr"),  # the line in French, in a group of its own
        said("m4", "c0-L1"),  # in no group
        said("m1", "c0-L2"),  # a two-sentence line, with c0-L1's English recitals
        said("m5", "c1-L1"),  # another campaign's line, grouped with c0-L2
        said("m6", None, kind="own"),  # independent speech, grouped with c1-L1
        said("m7", None, kind="generic"),  # greetings count nowhere
        said("m2", "c0-L2"),  # the two-sentence line again, in no group
    ]
    lines = {"c0-L1": "We are free.", "c0-L2": "We are free. We are happy.", "c1-L1": "Vote."}
    corpus = quality.Corpus({}, utterances, {}, lines, {})
    missed, per_line, false = quality.missed_and_false_pairs(corpus, [0, 0, 1, None, 0, 2, 2, 2, None])
    assert missed == {
        ("split, two languages", "one-sentence line"): 2,
        ("in no group", "one-sentence line"): 3,
        ("in no group", "two-sentence line"): 1,
    }
    assert per_line == {"c0-L1": 5, "c0-L2": 1}
    assert false == {"another line of its script": 2, "independent speech": 1}
    grouped = quality.missed_and_false_pairs(corpus, [0, 0, 1, None, 3, 3, None, None, None])[2]
    assert grouped == {"another campaign's line": 1}
