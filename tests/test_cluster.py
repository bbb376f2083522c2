from __future__ import annotations

from dataclasses import replace

import numpy as np

from analyzer.cluster import ClusterOptions, group_units
from analyzer.similarity import semantic_pairs


def _cloud(rng, centre, n, spread):
    points = centre + rng.normal(scale=spread, size=(n, centre.size))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_cluster_separates_lines_and_ignores_unlinked_units():
    rng = np.random.default_rng(7)
    dim = 32
    a, b = rng.normal(size=dim), rng.normal(size=dim)
    vectors = np.vstack(
        [
            _cloud(rng, a, 5, 0.05),
            _cloud(rng, b, 4, 0.05),
            _cloud(rng, rng.normal(size=dim), 1, 0.0),
            _cloud(rng, rng.normal(size=dim), 1, 0.0),
        ]
    ).astype(np.float32)
    media = [f"m{i}" for i in range(len(vectors))]
    pairs = [p for p in _pairs(vectors, media)]
    groups = group_units(vectors, pairs, ClusterOptions(link_threshold=0.9))
    assert sorted(map(sorted, groups)) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]


def test_cluster_verbatim_links_always_join():
    from analyzer.similarity import Pair

    vectors = np.eye(4, dtype=np.float32)
    groups = group_units(
        vectors, [Pair(0, 1, 0.1, 0.95), Pair(2, 3, 0.1, 0.9)], ClusterOptions(link_threshold=0.9)
    )
    assert sorted(groups) == [[0, 1], [2, 3]]


def test_cluster_verbatim_copies_stay_a_group_when_they_leave_with_others():
    from analyzer.cluster import _coherent_parts

    e = np.eye(16)
    x, y, z = e[0], e[1], e[2]
    core = [x + 0.05 * e[3 + i] for i in range(6)]  # a line's recitals
    copy = 0.2 * x + np.sqrt(1 - 0.04) * y  # one medium's line, copied verbatim by another
    near = 0.1 * x + 0.8 * y + np.sqrt(1 - 0.65) * z  # a sentence like it
    vectors = np.array([*core, copy, copy, near])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    block = np.array([0, 1, 2, 3, 4, 5, 6, 6, 7])  # 6 and 7 share their words
    a = np.array([0, 6, 6, 7, 0, 1, 2, 3, 4, 5])
    b = np.array([6, 7, 8, 8, 1, 2, 3, 4, 5, 0])
    links = (a, b, np.einsum("ij,ij->i", vectors[a], vectors[b]))
    options = ClusterOptions(link_threshold=0.5)
    # the copies and the sentence like them leave the line together and regroup as one;
    # at the last depth that part is no group, but the copies within it still are
    parts = _coherent_parts(vectors, np.arange(9), block, links, options, 0)
    assert sorted(map(sorted, map(list, parts))) == [[0, 1, 2, 3, 4, 5], [6, 7]]


def _pairs(vectors, media):
    from analyzer.similarity import Pair

    found = semantic_pairs(vectors, media, k=10, threshold=0.9)
    return [Pair(i, j, s, 0.0) for (i, j), s in sorted(found.items())]


def test_cluster_average_linkage_rejoins_a_split_line_but_not_a_neighbour_line():
    from analyzer.similarity import Pair

    rng = np.random.default_rng(11)
    dim = 48
    line, other = rng.normal(size=dim), rng.normal(size=dim)
    line, other = line / np.linalg.norm(line), other / np.linalg.norm(other)
    variant = line + 0.25 * other  # the same line in other words: close to it on average
    neighbour = 0.6 * line + 0.8 * other  # another line on the same topic
    vectors = np.vstack(
        [_cloud(rng, line, 4, 0.01), _cloud(rng, variant, 2, 0.0), _cloud(rng, neighbour, 2, 0.01)]
    ).astype(np.float32)
    pairs = _pairs(vectors[:4], [f"m{i}" for i in range(4)])
    # Units 4 and 5 are one speaker's ASR and subtitle (same medium: no pair between them);
    # one over-strong link from the script into the neighbour line must not glue them.
    pairs += [Pair(3, 4, 0.97, 0.0), Pair(2, 5, 0.97, 0.0), Pair(6, 7, 0.99, 0.0), Pair(3, 6, 0.93, 0.0)]
    groups = sorted(group_units(vectors, pairs, ClusterOptions(link_threshold=0.9)))
    assert groups == [[0, 1, 2, 3, 4, 5], [6, 7]]


def _clouds(seed: int, lines: int = 12, per_line: int = 9, dim: int = 32):
    rng = np.random.default_rng(seed)
    vectors = np.vstack([_cloud(rng, rng.normal(size=dim), per_line, 0.06) for _ in range(lines)])
    return vectors.astype(np.float32)


def _partition(labels):
    blocks = {}
    for i, label in enumerate(labels):
        if label != -1:
            blocks.setdefault(label, []).append(i)
    return sorted(map(tuple, blocks.values())), {i for i, label in enumerate(labels) if label == -1}


def test_cluster_component_hierarchy_reproduces_hdbscan_on_one_component():
    """The spanning-tree assembly gives HDBSCAN's own leaf clusters and noise."""
    from analyzer.cluster import component_labels, hdbscan_labels

    vectors = _clouds(3)
    chain = np.arange(len(vectors) - 1)  # one component: every unit linked to the next
    options = ClusterOptions(link_threshold=0.9)
    ours = component_labels(vectors, chain, chain + 1, options)
    theirs = hdbscan_labels(vectors, options)
    assert _partition(ours) == _partition(theirs)


def test_cluster_large_components_use_the_neighbour_graph_with_the_same_groups():
    vectors = _clouds(4, lines=10, per_line=30)
    media = [f"m{i}" for i in range(len(vectors))]
    pairs = _pairs(vectors, media)
    dense = group_units(vectors, pairs, ClusterOptions(link_threshold=0.9))
    sparse = group_units(vectors, pairs, ClusterOptions(link_threshold=0.9, dense_max=8, knn=8))
    assert dense == sparse
    assert len(dense) == 10 and all(len(g) == 30 for g in dense)


def test_cluster_accepts_a_pair_table_and_keeps_the_list_result():
    from analyzer.similarity import PairTable

    vectors = _clouds(5)
    pairs = _pairs(vectors, [f"m{i}" for i in range(len(vectors))])
    options = ClusterOptions(link_threshold=0.9)
    assert group_units(vectors, PairTable.of(pairs), options) == group_units(vectors, pairs, options)
    assert group_units(vectors, [], options) == []


def _unit(media, start, end, text="x", language="en"):
    from analyzer.records import Unit

    return Unit(f"{media}-{start}", media, start, end, text, language, "asr", "asr")


def test_cluster_a_window_replaces_the_halves_of_a_line_cut_in_two():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(3)
    dim = 32
    line, other, greeting = rng.normal(size=dim), rng.normal(size=dim), rng.normal(size=dim)
    recitals = _cloud(rng, line, 4, 0.05)
    # medium m9 said the line with a pause in it: two halves, each only half the line
    half_a = _cloud(rng, line + 1.4 * other, 1, 0.0)
    half_b = _cloud(rng, line + 1.4 * greeting, 1, 0.0)
    vectors = np.vstack([recitals, half_a, half_b]).astype(np.float32)
    units = [_unit(f"m{i}", 0, 3000) for i in range(4)] + [_unit("m9", 0, 1500), _unit("m9", 1700, 3000)]
    groups = [[0, 1, 2, 3, 4]]  # the first half made it in, weakly
    whole = _cloud(rng, line, 1, 0.02).astype(np.float32)
    window = _unit("m9", 0, 3000, "both halves")
    out = attach_alternatives(groups, units, vectors, [window], whole, threshold=0.5)
    assert out == [[0, 1, 2, 3, 6]]  # index 6: the window, in place of half 4


def test_cluster_a_window_of_two_lines_changes_nothing():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(4)
    dim = 32
    first, second = rng.normal(size=dim), rng.normal(size=dim)
    vectors = np.vstack([_cloud(rng, first, 3, 0.05), _cloud(rng, second, 3, 0.05)]).astype(np.float32)
    units = [_unit(f"m{i}", 0, 1000) for i in range(3)] + [_unit(f"m{i}", 1200, 2000) for i in range(3)]
    groups = [[0, 1, 2], [3, 4, 5]]
    both = _cloud(rng, first + second, 1, 0.0).astype(np.float32)  # "line one line two" of m0
    out = attach_alternatives(groups, units, vectors, [_unit("m0", 0, 2000)], both, threshold=0.5)
    assert out == groups
    far = _cloud(rng, rng.normal(size=dim), 1, 0.0).astype(np.float32)  # agrees with no group
    assert attach_alternatives(groups, units, vectors, [_unit("m7", 0, 2000)], far, threshold=0.5) == groups


def test_cluster_only_loosely_placed_units_are_cut():
    from analyzer.cluster import loosely_placed

    rng = np.random.default_rng(6)
    dim = 32
    line, other = rng.normal(size=dim), rng.normal(size=dim)
    other -= (other @ line) / (line @ line) * line  # another line: unrelated in meaning
    other *= np.linalg.norm(line) / np.linalg.norm(other)
    recitals = _cloud(rng, line, 4, 0.05)
    two_lines = _cloud(rng, line + other, 1, 0.0)  # a unit that holds this line and another
    alone = _cloud(rng, other, 1, 0.0)  # in no group
    vectors = np.vstack([recitals, two_lines, alone]).astype(np.float32)
    units = [_unit(f"m{i}", 0, 3000) for i in range(6)]
    loose = loosely_placed([[0, 1, 2, 3, 4]], units, vectors, threshold=0.5)
    assert loose.tolist() == [False, False, False, False, True, True]


def test_cluster_a_unit_linked_to_nothing_is_not_cut():
    from analyzer.cluster import loosely_placed

    vectors = np.eye(3, dtype=np.float32)
    units = [_unit(f"m{i}", 0, 3000) for i in range(3)]
    linked = np.array([False, True, False])
    assert loosely_placed([], units, vectors, 0.5, linked).tolist() == [False, True, False]
    assert loosely_placed([], units, vectors, 0.5).tolist() == [True, True, True]


def test_cluster_an_aligned_stretch_may_enter_alone_and_replaces_weaker_members():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(8)
    dim = 32
    line, other = rng.normal(size=dim), rng.normal(size=dim)
    vectors = np.vstack([_cloud(rng, line, 3, 0.05), _cloud(rng, other, 2, 0.0)]).astype(np.float32)
    # m8 said the line across two unpunctuated units, each mostly something else: in no group
    units = [_unit(f"m{i}", 0, 2000) for i in range(3)] + [_unit("m8", 0, 3000), _unit("m8", 3000, 6000)]
    groups = [[0, 1, 2]]
    stretch = _unit("m8", 2000, 4000, "the line")
    fits = _cloud(rng, line, 1, 0.02).astype(np.float32)
    assert attach_alternatives(groups, units, vectors, [stretch], fits, 0.5) == groups  # a window may not
    assert attach_alternatives(groups, units, vectors, [stretch], fits, 0.5, [True]) == [[0, 1, 2, 5]]
    # it still has to agree with the group by meaning
    far = _cloud(rng, other, 1, 0.0).astype(np.float32)
    assert attach_alternatives(groups, units, vectors, [stretch], far, 0.5, [True]) == groups


def test_cluster_an_aligned_stretch_outranks_an_unpunctuated_unit_but_not_a_sentence():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(9)
    dim = 32
    line, both = rng.normal(size=dim), rng.normal(size=dim)
    vectors = np.vstack(
        [_cloud(rng, line, 3, 0.05), _cloud(rng, both, 3, 0.01)]  # three "line + next line" units
    ).astype(np.float32)
    units = [_unit(f"m{i}", 0, 2000) for i in range(3)] + [_unit(f"m{i}", 0, 6000, "x y") for i in (7, 8, 9)]
    groups = [[0, 1, 2], [3, 4, 5]]  # the two-line units agree closely with each other
    stretch = _unit("m8", 0, 3000, "the line")
    fits = _cloud(rng, line, 1, 0.1).astype(np.float32)  # less closely than they do
    out = attach_alternatives(groups, units, vectors, [stretch], fits, 0.5, [True])
    assert out == [[0, 1, 2, 6], [3, 5]]
    said = [*units[:4], _unit("m8", 0, 6000, "x y."), units[5]]  # a punctuated sentence keeps its place
    assert attach_alternatives(groups, said, vectors, [stretch], fits, 0.5, [True]) == groups


def test_cluster_an_aligned_stretch_leaves_a_member_it_only_touches_where_it_was():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(9)
    dim = 32
    line, both = rng.normal(size=dim), rng.normal(size=dim)
    vectors = np.vstack([_cloud(rng, line, 3, 0.05), _cloud(rng, both, 3, 0.01)]).astype(np.float32)
    units = [_unit(f"m{i}", 0, 2000) for i in range(3)] + [_unit(f"m{i}", 0, 6000, "x y") for i in (7, 8, 9)]
    groups = [[0, 1, 2], [3, 4, 5]]
    fits = _cloud(rng, line, 1, 0.1).astype(np.float32)
    # m8's stretch of the line starts on the unit's last word (word times blur): the unit
    # says another line and keeps its place in that line's group
    edge = _unit("m8", 5600, 9000, "the line")
    assert attach_alternatives(groups, units, vectors, [edge], fits, 0.5, [True]) == [[0, 1, 2, 6], [3, 4, 5]]
    # over most of the unit's time, the stretch takes it (it says this line, see above)
    most = _unit("m8", 2000, 9000, "the line")
    assert attach_alternatives(groups, units, vectors, [most], fits, 0.5, [True]) == [[0, 1, 2, 6], [3, 5]]


def test_cluster_an_alternative_is_judged_by_the_recitals_in_its_language():
    from analyzer.cluster import attach_alternatives
    from analyzer.records import Unit

    rng = np.random.default_rng(12)
    e = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    english = e[0]
    arabic = 0.55 * e[0] + np.sqrt(1 - 0.55**2) * e[1]  # a translation: cosine 0.55
    piece = 0.85 * e[0] + np.sqrt(1 - 0.85**2) * e[2]  # the line's first words
    vectors = np.vstack(
        [_cloud(rng, english, 3, 0.01), _cloud(rng, arabic, 3, 0.01), _cloud(rng, piece, 2, 0.01)]
    ).astype(np.float32)

    def unit(media, start, end, text, language="en"):
        return Unit(f"{media}-{start}", media, start, end, text, language, "asr", "asr")

    units = [unit(f"e{i}", 0, 2000, "The sea was raging against them.") for i in range(3)]
    units += [unit(f"a{i}", 0, 2000, "كان البحر هائجا ضدهم.", "ar") for i in range(3)]
    units += [unit("m8", 0, 1000, "the sea was raging"), unit("m9", 0, 1000, "the sea was raging")]
    groups = [[0, 1, 2, 3, 4, 5], [6, 7]]  # the line in two languages; two media's first words
    stretch = unit("m8", 0, 2000, "the sea was raging against them")  # found word for word in m8
    fits = _cloud(rng, english, 1, 0.01).astype(np.float32)
    # averaged with the Arabic recitals the line's group agrees 0.78, the pieces 0.85; with
    # the English recitals the line's group agrees 1.0: the stretch joins its line
    out = attach_alternatives(groups, units, vectors, [stretch], fits, 0.5, [True])
    assert out == [[0, 1, 2, 3, 4, 5, 8]]  # the piece it replaced leaves; m9's alone is no group


def test_cluster_a_second_round_places_what_the_first_could_not_and_keeps_what_it_placed():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(13)
    e = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    first, second = e[0], 0.3 * e[0] + np.sqrt(1 - 0.09) * e[1]  # two lines of one script
    vectors = np.vstack([_cloud(rng, first, 3, 0.01), _cloud(rng, second, 3, 0.01)]).astype(np.float32)
    units = [_unit(f"m{i}", 0, 2000) for i in range(6)] + [_unit("m8", 0, 6000, "x y z w")]
    vectors = np.vstack([vectors, _cloud(rng, first + second, 1, 0.0)]).astype(np.float32)
    cuts = [_unit("m8", 0, 3000, "x y"), _unit("m8", 3000, 6000, "z w")]  # m8's unit in two parts
    cut_vectors = np.vstack([_cloud(rng, first, 1, 0.01), _cloud(rng, second, 1, 0.01)]).astype(np.float32)
    # the two lines glued in one group: each part agrees with it 0.65 on average, under the bar
    glued = [[0, 1, 2, 3, 4, 5]]
    assert attach_alternatives(glued, units, vectors, cuts, cut_vectors, 0.7) == glued
    # once split, each part finds its line, taking the unit's place
    split = [[0, 1, 2], [3, 4, 5]]
    assert attach_alternatives(split, units, vectors, cuts, cut_vectors, 0.7) == [[0, 1, 2, 7], [3, 4, 5, 8]]
    # a part placed in an earlier round stays where it is, once
    placed = [[0, 1, 2, 7], [3, 4, 5]]
    assert attach_alternatives(placed, units, vectors, cuts, cut_vectors, 0.7) == [[0, 1, 2, 7], [3, 4, 5, 8]]


class _Groups:
    """Groups built one at a time: each member one medium's unit saying ``direction``."""

    def __init__(self, rng, dim):
        self.rng, self.dim = rng, dim
        self.units, self.vectors, self.groups = [], [], []

    def add(self, media_ids, direction, language="en"):
        self.groups.append([])
        n = len(self.groups)
        for m in media_ids:
            self.groups[-1].append(len(self.units))
            self.units.append(_unit(m, 1000 * n, 1000 * n + 900, language=language))
            self.vectors.append(direction + self.rng.normal(scale=0.02, size=self.dim))

    def matrix(self):
        matrix = np.array(self.vectors, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_cluster_a_line_split_by_language_merges_by_its_script():
    from analyzer.cluster import merge_parallel_groups

    rng = np.random.default_rng(10)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    l1, l2, l3, alt, other = basis[:5]
    english, german, elsewhere = ["e0", "e1", "e2", "e3"], ["d0", "d1", "d2", "d3"], ["y0", "y1", "y2", "y3"]
    built = _Groups(rng, 16)
    group, units, groups = built.add, built.units, built.groups
    group(english + german, l1)  # two lines whose translations linked: one group each
    group(english + german, l2)
    group(english, l3)  # the third line's translation did not link: two groups
    group(german, 0.4 * l3 + np.sqrt(1 - 0.16) * alt)  # cosine 0.4 with the English recitals
    group(elsewhere, 0.5 * l3 + np.sqrt(1 - 0.25) * other)  # closer in meaning, but no script
    matrix = built.matrix()
    merged = merge_parallel_groups(groups, units, matrix, floor=0.21)
    assert sorted(merged) == sorted([groups[0], groups[1], sorted(groups[2] + groups[3]), groups[4]])
    # under the model's mismatch floor, two texts are unrelated: nothing merges
    assert sorted(merge_parallel_groups(groups, units, matrix, floor=0.45)) == sorted(groups)
    # a different line of the same script, said by the same media, never merges
    from dataclasses import replace

    said_by_english = [
        replace(u, media_id=f"e{groups[3].index(i)}") if i in groups[3] else u for i, u in enumerate(units)
    ]
    assert sorted(merge_parallel_groups(groups, said_by_english, matrix, floor=0.21)) == sorted(groups)


def test_cluster_a_line_in_two_languages_is_closest_to_itself_not_to_its_language():
    from analyzer.cluster import merge_parallel_groups

    rng = np.random.default_rng(21)
    basis = np.linalg.qr(rng.normal(size=(64, 64)))[0]
    l1, l2, l3, alt, fragment, en, ru = basis[:7]  # en, ru: each language's own direction
    built = _Groups(rng, 64)
    units, groups = built.units, built.groups

    def group(media_ids, content, language):
        built.add(media_ids, content + 0.8 * (en if language == "en" else ru), language)

    english, russian, more = (
        [f"e{i}" for i in range(4)],
        [f"r{i}" for i in range(4)],
        [f"r{i}" for i in range(4, 8)],
    )
    for line in (l1, l2):  # the script's two other lines, one group per language
        group(english, line, "en")
        group(russian + more, line, "ru")
    group(english, l3, "en")  # the third line: its translation never linked
    group(russian, 0.4 * l3 + np.sqrt(1 - 0.16) * alt, "ru")
    group(more, fragment, "ru")  # other reciters' fragment: nothing alike but the language
    for k in range(10):  # the rest of the corpus, in both languages
        for language in ("en", "ru"):
            group([f"{language}x{k}{j}" for j in range(3)], basis[7 + 2 * k + (language == "ru")], language)
    matrix = built.matrix()
    line_en, line_ru, other = groups[4], groups[5], groups[6]
    centroid = [matrix[g].mean(axis=0) for g in (line_en, line_ru, other)]
    # the Russian recitals sit closer to the Russian fragment than to their own line in English
    assert centroid[1] @ centroid[2] > centroid[1] @ centroid[0] > 0.21
    merged = merge_parallel_groups(groups, units, matrix, floor=0.21)
    assert sorted(line_en + line_ru) in merged
    assert other in merged


def test_cluster_parallel_merges_repeat_until_a_line_is_whole():
    from analyzer.cluster import merge_parallel_groups

    rng = np.random.default_rng(22)
    basis = np.linalg.qr(rng.normal(size=(32, 32)))[0]
    l1, l2, l3, alt, alt2 = basis[:5]
    built = _Groups(rng, 32)
    units, groups = built.units, built.groups

    def group(media_ids, direction):
        built.add(media_ids, direction / np.linalg.norm(direction))

    english, arabic, more = (
        [f"e{i}" for i in range(4)],
        [f"a{i}" for i in range(4)],
        [f"b{i}" for i in range(4)],
    )
    group(english + arabic + more, l1)
    group(english + arabic + more, l2)
    group(english, l3)  # the third line in English
    group(arabic, 0.45 * l3 + 0.89 * alt)  # and in Arabic, in two groups close to each other
    group(more, 0.45 * l3 + 0.85 * alt + 0.3 * alt2)
    for k in range(4):  # others, saying other things
        group([f"x{k}{j}" for j in range(3)], basis[5 + k])
    matrix = built.matrix()
    # the English group's closest is the first Arabic one, whose closest is the second: one
    # round merges the two Arabic groups only; the next one the line's English recitals
    merged = merge_parallel_groups(groups, units, matrix, floor=0.21)
    assert sorted(merged) == sorted([*groups[:2], sorted(groups[2] + groups[3] + groups[4]), *groups[5:]])
    # only the English group may merge, and what it becomes: the line ends whole as well
    assert len(merge_parallel_groups(groups, units, matrix, floor=0.21, only=[2])) == len(groups) - 2


def test_cluster_two_campaigns_in_two_languages_do_not_vouch_for_each_other():
    from analyzer.cluster import merge_parallel_groups

    rng = np.random.default_rng(23)
    basis = np.linalg.qr(rng.normal(size=(32, 32)))[0]

    def script(weights):
        """An English campaign of three lines and an Arabic one whose lines resemble them
        (cosine ``weights``); four media each, no medium in both."""
        built = _Groups(rng, 32)
        for n, w in enumerate(weights):
            line, alt = basis[2 * n], basis[2 * n + 1]
            built.add([f"e{k}" for k in range(4)], line, "en")
            built.add([f"a{k}" for k in range(4)], w * line + np.sqrt(1 - w * w) * alt, "ar")
        for k in range(4):  # others, saying other things
            built.add([f"x{k}{j}" for j in range(3)], basis[6 + k], ("en", "ar")[k % 2])
        return built

    # each line only loosely like the other campaign's (0.3: above the mismatch floor, below
    # the link threshold); each pair is the other's closest, and taken together their
    # profiles agree: every pair vouches for the others
    apart = script([0.3, 0.3, 0.3])
    matrix = apart.matrix()
    assert len(merge_parallel_groups(apart.groups, apart.units, matrix, floor=0.21)) == len(apart.groups) - 3
    # a pair counts as one line in the others' profiles only when it is as close as a link
    merged = merge_parallel_groups(apart.groups, apart.units, matrix, floor=0.21, link=0.45)
    assert sorted(merged) == sorted(apart.groups)
    # one script in two languages: two lines' translations plainly alike vouch for the third
    one = script([0.7, 0.7, 0.3])
    merged = merge_parallel_groups(one.groups, one.units, one.matrix(), floor=0.21, link=0.45)
    lines = [sorted(one.groups[2 * n] + one.groups[2 * n + 1]) for n in range(3)]
    assert sorted(merged) == sorted([*lines, *one.groups[6:]])


def test_cluster_parallel_merge_with_no_pair_to_test_changes_nothing():
    from analyzer.cluster import merge_parallel_groups

    units = [_unit(f"m{i % 2}", 1000 * i, 1000 * i + 900) for i in range(4)]
    vectors = np.eye(4, dtype=np.float32)
    vectors[1] = vectors[0]
    vectors[3] = (vectors[2] + vectors[0]) / np.sqrt(2)
    groups = [[0, 1], [2, 3]]  # close enough to test, but two media each: too few to tell
    assert merge_parallel_groups(groups, units, vectors, 0.21) == groups
    assert merge_parallel_groups(groups[:1], units, vectors, 0.21) == groups[:1]
    assert merge_parallel_groups([], units, vectors, 0.21) == []


def test_cluster_a_same_topic_sentence_outside_the_script_leaves_a_lone_recital_stays():
    from analyzer.cluster import drop_coincidences

    rng = np.random.default_rng(12)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, line_c, topic = basis[:4]
    units, vectors, groups = [], [], [[], [], []]

    def say(g, media_id, direction, noise=0.02):
        groups[g].append(len(units))
        units.append(_unit(media_id, 1000 * len(units), 1000 * len(units) + 900))
        vectors.append(direction + rng.normal(scale=noise, size=16))

    for k in range(5):  # five reciters say lines A and B of one script
        say(0, f"r{k}", line_a)
        say(1, f"r{k}", line_b)
    say(0, "i0", 0.6 * line_a + 0.8 * topic, 0.0)  # an independent on A's topic: cosine 0.6
    say(0, "l0", line_a)  # a lone reciter of A, word for word
    for k in range(4):  # a one-line campaign: no script to judge by
        say(2, f"c{k}", line_c)
    say(2, "j0", 0.6 * line_c + 0.8 * topic, 0.0)
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    out = drop_coincidences(groups, units, matrix, threshold=0.5)
    independent = groups[0][5]
    assert out == [[i for i in groups[0] if i != independent], groups[1], groups[2]]
    assert drop_coincidences(groups[:1], units, matrix, 0.5) == groups[:1]  # alone: no script known


def test_cluster_those_who_leave_a_line_together_saying_one_thing_are_a_line_of_their_own():
    from analyzer.cluster import drop_coincidences, merge_parallel_groups, said_alike

    rng = np.random.default_rng(14)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, other, topic, x1, x2, y1, y2 = basis[:8]
    units, vectors, groups = [], [], [[], [], [], [], [], []]

    def say(g, media_id, direction, noise=0.02, language="en"):
        groups[g].append(len(units))
        units.append(replace(_unit(media_id, 1000 * len(units), 1000 * len(units) + 900), language=language))
        vectors.append(direction + rng.normal(scale=noise, size=16))

    for k in range(10):  # ten reciters say lines A and B of one script
        say(0, f"r{k}", line_a)
        say(1, f"r{k}", line_b)
    near = 0.6 * line_a + 0.8 * other  # another campaign's line on A's subject: cosine 0.6
    for k in range(3):  # three of its English reciters were grouped with A
        say(0, f"o{k}", near, 0.01)
        say(2, f"o{k}", x1)  # and say two more lines of their script
        say(3, f"o{k}", x2)
    for k in range(3):  # its Arabic reciters: the line (cosine 0.5 to the English), the script
        say(4, f"a{k}", 0.5 * near + np.sqrt(0.75) * topic, 0.01, "ar")
        say(2, f"a{k}", x1, language="ar")
        say(3, f"a{k}", x2, language="ar")
    say(5, "s0", y1)  # and two independents on nothing in particular
    say(5, "s1", y2)
    say(0, "i0", 0.6 * line_a + 0.8 * topic, 0.0)  # an independent on A's subject
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    kept = drop_coincidences(groups, units, matrix, threshold=0.5)
    leavers = [i for i in groups[0] if units[i].media_id.startswith("o")]
    assert kept[0] == [i for i in groups[0] if units[i].media_id.startswith("r")]
    alike = said_alike(groups, kept, units, matrix, threshold=0.5)
    assert alike == [leavers]  # the independent, alike with no one, is in none
    merged = merge_parallel_groups([*kept, *alike], units, matrix, 0.21, only=[len(kept)])
    assert sorted(leavers + groups[4]) in merged  # with its Arabic recitals
    assert kept[0] in merged and kept[1] in merged
    # the groups not named in ``only`` keep the first round's decisions
    assert merge_parallel_groups([*kept, *alike], units, matrix, 0.21, only=[]) == [*kept, *alike]


def test_cluster_a_reciters_aside_next_to_the_line_leaves_a_line_of_two_sentences_stays():
    from analyzer.cluster import drop_asides

    rng = np.random.default_rng(15)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line, aside, half = basis[:3]
    units, vectors = [], []

    def say(media_id, start, direction, noise=0.02, source="asr"):
        units.append(replace(_unit(media_id, start, start + 900), source=source))
        vectors.append(direction + rng.normal(scale=noise, size=16))
        return len(units) - 1

    group = [say(f"r{k}", 5000, line) for k in range(5)]  # five voices say the line once
    group.append(say("r5", 1000, 0.7 * line + np.sqrt(0.51) * aside, 0.0))  # r5: an aside first
    group.append(say("r5", 5000, line))
    group.append(say("r0", 5000, line, source="subtitle"))  # the same line in r0's subtitles
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert drop_asides([group], units, matrix, threshold=0.5) == [[i for i in group if i != 5]]
    # a line of two sentences: most voices say it in two members, both stay
    units, vectors = [], []
    two = []
    for k in range(4):
        two += [say(f"t{k}", 1000, line), say(f"t{k}", 3000, 0.7 * line + np.sqrt(0.51) * half, 0.0)]
    two.append(say("t9", 1000, line))
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert drop_asides([two], units, matrix, threshold=0.5) == [two]


def test_cluster_a_lone_translation_is_not_judged_as_a_coincidence():
    from dataclasses import replace

    from analyzer.cluster import drop_coincidences

    rng = np.random.default_rng(13)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, other = basis[:3]
    units, vectors, groups = [], [], [[], []]
    for k in range(5):
        for g, direction in ((0, line_a), (1, line_b)):
            groups[g].append(len(units))
            units.append(_unit(f"r{k}", 1000 * len(units), 1000 * len(units) + 900))
            vectors.append(direction + rng.normal(scale=0.02, size=16))
    groups[0].append(len(units))  # a Spanish reciter of A alone, heard roughly: cosine 0.6
    units.append(replace(_unit("s0", 0, 900), language="es"))
    vectors.append(0.6 * line_a + 0.8 * other)
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert drop_coincidences(groups, units, matrix, threshold=0.5) == groups
    english = [replace(u, language="en") for u in units]  # the same sentence in English leaves
    assert drop_coincidences(groups, english, matrix, threshold=0.5) == [groups[0][:-1], groups[1]]


def test_cluster_a_lone_copy_is_judged_against_its_own_language():
    from dataclasses import replace

    from analyzer.cluster import drop_coincidences

    rng = np.random.default_rng(14)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, german = basis[:3]
    units, vectors, groups = [], [], [[], []]

    def say(g, media_id, direction, language="en"):
        groups[g].append(len(units))
        units.append(replace(_unit(media_id, 1000 * len(units), 1000 * len(units) + 900), language=language))
        vectors.append(direction + rng.normal(scale=0.02, size=16))

    for k in range(3):  # English reciters say lines A and B
        say(0, f"e{k}", line_a)
        say(1, f"e{k}", line_b)
    for k in range(6):  # German reciters too: a translation sits further off (cosine 0.45)
        say(0, f"d{k}", 0.45 * line_a + np.sqrt(1 - 0.45**2) * german, "de")
        say(1, f"d{k}", line_b, "de")
    say(0, "l0", line_a)  # a lone English reciter of A, word for word
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    # against every other medium it agrees about 0.6 (under the bar of 0.75); against the
    # English ones, which say the line as it does, about 1
    assert drop_coincidences(groups, units, matrix, threshold=0.5) == groups


def test_cluster_a_part_does_not_take_a_unit_out_of_another_group():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(15)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line, other = basis[:2]
    vectors = np.vstack(
        [
            _cloud(rng, line, 3, 0.02),
            _cloud(rng, other, 3, 0.02),
            (0.6 * line + 0.8 * other)[None, :],  # m9's unit: in the line's group, loosely
        ]
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    units = [_unit(f"m{i}", 0, 3000) for i in range(6)] + [_unit("m9", 0, 3000, "the line said whole")]
    groups = [[0, 1, 2, 6], [3, 4, 5]]
    part = _unit("m9", 0, 900, "the line")  # its first words, which read like the other line
    close = (other + 0.01 * line)[None, :].astype(np.float32)
    assert attach_alternatives(groups, units, vectors, [part], close, 0.5) == groups
    # a unit in no group (or in the same group) is still open to its parts
    out = attach_alternatives([[0, 1, 2], [3, 4, 5]], units, vectors, [part], close, 0.5)
    assert out == [[0, 1, 2], [3, 4, 5, 7]]


def test_cluster_a_line_split_by_language_with_its_whole_script_still_merges():
    from dataclasses import replace

    from analyzer.cluster import merge_parallel_groups

    rng = np.random.default_rng(16)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    english, french = [f"e{k}" for k in range(4)], [f"f{k}" for k in range(4)]
    units, vectors, groups = [], [], []
    for n in range(3):  # no translation linked: every line is an English and a French group
        line, alt = basis[2 * n], basis[2 * n + 1]
        for media_ids, direction in ((english, line), (french, 0.4 * line + np.sqrt(1 - 0.16) * alt)):
            groups.append([])
            for m in media_ids:
                groups[-1].append(len(units))
                unit = _unit(m, 1000 * len(groups), 1000 * len(groups) + 900)
                units.append(replace(unit, language=m[0].replace("e", "en").replace("f", "fr")))
                vectors.append(direction + rng.normal(scale=0.02, size=16))
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    # the English recitals' other lines are English groups, the French ones' French: the
    # profiles meet only where the other lines' two groups count as one
    merged = merge_parallel_groups(groups, units, matrix, floor=0.21)
    assert sorted(merged) == sorted(sorted(groups[2 * n] + groups[2 * n + 1]) for n in range(3))
    # all in one language, the English and the French media are two scripts as far as
    # anything shows (two campaigns of three lines): no pair of groups is one line in two
    # languages, no profile column is shared, and no line merges into the other script
    english_only = [replace(u, language="en") for u in units]
    assert sorted(merge_parallel_groups(groups, english_only, matrix, floor=0.21)) == sorted(groups)


def test_cluster_a_reupload_is_no_second_voice_for_its_original():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(17)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line, half, rest = basis[:3]
    recitals = [line + rng.normal(scale=0.02, size=16) for _ in range(4)]
    first_half = 0.6 * line + 0.8 * half  # m1 said the line with a pause in it
    second_half = 0.6 * line + 0.8 * rest
    vectors = np.vstack([*recitals, first_half, first_half, second_half, second_half]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    units = [_unit(f"r{i}", 0, 3000) for i in range(4)]
    units += [
        _unit("m1", 0, 1500),
        _unit("m1-copy", 0, 1500),
        _unit("m1", 1600, 3000),
        _unit("m1-copy", 1600, 3000),
    ]
    # the re-upload's first half agrees with the original's perfectly: a group of its own
    groups = [[0, 1, 2, 3, 6, 7], [4, 5]]
    window = _unit("m1", 0, 3000, "the whole line")
    whole = (line + rng.normal(scale=0.02, size=16))[None, :].astype(np.float32)
    assert attach_alternatives(groups, units, vectors, [window], whole, 0.5) == groups
    voices = {"m1-copy": "m1"}  # one recording: the half agrees with no one else
    out = attach_alternatives(groups, units, vectors, [window], whole, 0.5, voices=voices)
    assert out == [[0, 1, 2, 3, 7, 8]]


def _glued(rng, pause_between: bool, same_side_repeat: bool = False):
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, topic = basis[:3]
    a = 0.75 * topic + np.sqrt(1 - 0.75**2) * line_a  # two lines on one topic: cosine 0.56
    b = 0.75 * topic + np.sqrt(1 - 0.75**2) * line_b
    units, vectors, members = [], [], []
    for k in range(4):
        first, second = "Coffee does not interest me.", "Let me buy you a cup of coffee."
        said = [(0, a, first), (3000, b, second)]
        if same_side_repeat:  # the first line again, nearly word for word
            said = [(0, a, first), (3000, a, "Coffee really does not interest me.")]
        for start, direction, text in said:
            members.append(len(units))
            units.append(_unit(f"r{k}", start, start + 1000 if pause_between else start + 3000, text))
            vectors.append(direction + rng.normal(scale=0.02, size=16))
        if pause_between:  # another sentence of theirs between the two
            units.append(_unit(f"r{k}", 1500, 2500))
            vectors.append(basis[5 + k])
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return units, matrix, members


def test_cluster_two_lines_said_apart_by_the_same_reciters_come_apart():
    from analyzer.cluster import split_glued_lines

    units, vectors, members = _glued(np.random.default_rng(18), pause_between=True)
    out = split_glued_lines([members], units, vectors)
    assert sorted(out) == sorted([members[0::2], members[1::2]])


def test_cluster_a_line_in_two_sentences_or_said_twice_stays_one_group():
    from analyzer.cluster import split_glued_lines

    rng = np.random.default_rng(19)
    units, vectors, members = _glued(rng, pause_between=False)  # one after the other
    assert split_glued_lines([members], units, vectors) == [members]
    units, vectors, members = _glued(rng, pause_between=True, same_side_repeat=True)
    assert split_glued_lines([members], units, vectors) == [members]


def _two_campaigns(rng, first_line, second_line):
    """Campaign a (media a0-a3) and b (b0-b3), three lines each; their first lines in one
    group (the last), the others in a group per line."""
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    units, vectors, groups = [], [], []
    lines = {"a": [first_line, basis[8], basis[9]], "b": [second_line, basis[10], basis[11]]}
    for campaign, directions in lines.items():
        for n, direction in enumerate(directions):
            groups.append([])
            for k in range(4):
                groups[-1].append(len(units))
                units.append(_unit(f"{campaign}{k}", 1000 * n, 1000 * n + 900))
                vectors.append(direction + rng.normal(scale=0.02, size=16))
    glued = sorted(groups[0] + groups[3])
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return units, matrix, [groups[1], groups[2], groups[4], groups[5], glued], (groups[0], groups[3])


def test_cluster_two_campaigns_lines_on_one_subject_come_apart():
    from analyzer.cluster import split_by_script

    rng = np.random.default_rng(20)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    topic, a, b = basis[:3]
    first = 0.8 * topic + 0.6 * a  # "Tom has a brother named John." / "I don't consider Tom
    second = 0.8 * topic + 0.6 * b  # a friend.": cosine 0.64, said by no one reciter of both
    units, vectors, groups, (line_a, line_b) = _two_campaigns(rng, first, second)
    assert sorted(split_by_script(groups, units, vectors)) == sorted([*groups[:4], line_a, line_b])


def test_cluster_a_line_two_campaigns_share_stays_whole():
    from analyzer.cluster import split_by_script

    rng = np.random.default_rng(21)
    motto = rng.normal(size=16)  # "We are free.", said by both campaigns
    units, vectors, groups, _ = _two_campaigns(rng, motto, motto)
    assert split_by_script(groups, units, vectors) == groups


def test_cluster_an_aligned_stretch_outranks_the_tail_of_a_sentence_cut_in_two():
    from analyzer.cluster import attach_alternatives

    rng = np.random.default_rng(22)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line, head, tail = basis[:3]
    vectors = np.vstack(
        [
            _cloud(rng, line, 3, 0.02),  # three media say "Tom showed Mary his new phone."
            (0.7 * line + 0.71 * head)[None, :],  # m8: "Tom showed Mary" | "his new phone."
            tail[None, :],
            tail[None, :],  # m9 cut it at the same word: the two tails are one group
        ]
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    units = [_unit(f"m{i}", 0, 2000, "Tom showed Mary his new phone.") for i in range(3)]
    units += [_unit("m8", 0, 1000, "Tom showed Mary"), _unit("m8", 1000, 2000, "his new phone.")]
    units += [_unit("m9", 1000, 2000, "his new phone.")]
    groups = [[0, 1, 2, 3], [4, 5]]
    stretch = _unit("m8", 0, 2000, "Tom showed Mary his new phone")
    fits = _cloud(rng, line, 1, 0.05).astype(np.float32)
    out = attach_alternatives(groups, units, vectors, [stretch], fits, 0.5, [True])
    assert out == [[0, 1, 2, 6]]  # the line whole; the tail left alone is no group
    # a whole sentence keeps its place: "Tom showed Mary." ends one
    said = [*units[:3], _unit("m8", 0, 1000, "Tom showed Mary."), *units[4:]]
    out = attach_alternatives(groups, said, vectors, [stretch], fits, 0.5, [True])
    assert out == groups


def test_cluster_two_speakers_who_say_something_alike_by_chance_are_no_group():
    from analyzer.cluster import drop_coincidences

    rng = np.random.default_rng(23)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    topic, a, b, line = basis[:4]
    units = [
        _unit("i0", 0, 1000, "This car won't start."),
        _unit("i1", 0, 1000, "He can't afford to buy a new car."),
        _unit("c0", 0, 1000, "We are free."),
        _unit("c1", 0, 1000, "We are free, really."),
        _unit("t0", 0, 1000, "This car won't start."),
        _unit("t1", 0, 1000, "This car will not start."),
    ]
    vectors = np.vstack(
        [
            0.6 * topic + 0.8 * a,
            0.6 * topic + 0.8 * b,
            line,
            line,
            0.6 * topic + 0.8 * a,
            0.6 * topic + 0.8 * b,
        ]
    ).astype(np.float32)
    groups = [[0, 1], [2, 3], [4, 5]]
    # loosely alike (cosine 0.36) in other words: two people on one subject; said alike or
    # in the same words, two media are a (small) chorus
    assert drop_coincidences(groups, units, vectors, threshold=0.3) == [[2, 3], [4, 5]]
    three = [*units, _unit("i2", 0, 1000, "My car broke down.")]
    matrix = np.vstack([vectors, (0.6 * topic + 0.8 * basis[5])[None, :]]).astype(np.float32)
    assert drop_coincidences([[0, 1, 6], [2, 3]], three, matrix, threshold=0.3) == [[0, 1, 6], [2, 3]]


def test_cluster_a_shared_greeting_is_no_script_context():
    from analyzer.cluster import drop_coincidences

    rng = np.random.default_rng(24)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    line_a, line_b, hello, topic, own = basis[:5]
    units, vectors, groups = [], [], [[], [], []]

    def say(g, media_id, start, direction):
        if g is not None:
            groups[g].append(len(units))
        units.append(_unit(media_id, start, start + 900))
        vectors.append(direction + rng.normal(scale=0.02, size=16))

    for k in range(5):  # reciters open with a greeting, say lines A and B, then their own words
        say(2, f"r{k}", 0, hello)
        say(0, f"r{k}", 1000, line_a)
        say(1, f"r{k}", 2000, line_b)
        say(None, f"r{k}", 3000, rng.normal(size=16))
    for k in range(2):  # independents who greet the same way, and say their own things
        say(2, f"i{k}", 0, hello)
        say(0 if k == 0 else None, f"i{k}", 1000, 0.6 * line_a + 0.8 * topic)  # i0: A's subject
        say(None, f"i{k}", 2000, own)
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    out = drop_coincidences(groups, units, matrix, threshold=0.5)
    independent = groups[0][-1]
    # the greeting opens every video it is in: i0 saying it is no sign of reciting line B
    assert out == [[i for i in groups[0] if i != independent], groups[1], groups[2]]
