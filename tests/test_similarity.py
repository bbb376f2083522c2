from __future__ import annotations

import numpy as np
import pytest

from analyzer.similarity import candidate_pairs, lexical_pairs, normalise_text, semantic_pairs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("We are FREE!", "we are free"),
        ("  «Мы свободны»  ", "мы свободны"),
        ("我们，是自由的。", "我们 是自由的"),
    ],
)
def test_similarity_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


def test_similarity_lexical_pairs_link_near_copies_across_media_only():
    texts = [
        "We are free to live our lives the way we choose.",
        "We are free to live our lives as we choose.",
        "We are free to live our lives the way we choose.",
        "The weather was lovely on the river trail.",
    ]
    groups = ["a", "b", "a", "c"]
    pairs = lexical_pairs(texts, groups, 0.5)
    assert (0, 1) in pairs and (1, 2) in pairs
    assert (0, 2) not in pairs  # same medium: a speaker repeating themself is no script
    assert not any(3 in key for key in pairs)


def test_similarity_semantic_pairs_respect_threshold_and_media():
    vectors = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.98, 0.2]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = semantic_pairs(vectors, ["a", "b", "c", "a"], k=3, threshold=0.95)
    assert set(pairs) == {(0, 1), (1, 3)}
    assert all(score >= 0.95 for score in pairs.values())


def test_similarity_candidate_pairs_carry_both_scores():
    texts = ["hello there friend", "hello there friend", "something else"]
    vectors = np.eye(3, dtype=np.float32)
    pairs = candidate_pairs(texts, vectors, ["a", "b", "c"], semantic_threshold=0.9, lexical_threshold=0.5)
    assert len(pairs) == 1
    assert pairs[0].jaccard == 1.0 and pairs[0].cosine == 0.0


# ---- the approximate search used past SearchOptions.exact_max_units ----------------------------


def _corpus(seed: int = 5, lines: int = 24, reciters: int = 12, loners: int = 400):
    """Script lines recited (with typos) by several media, plus independent sentences."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}x{'abcdefg'[i % 7]}" for i in range(3000)]
    dim = 48
    texts, vectors, media, line_of = [], [], [], []
    for line in range(lines):
        centre = rng.normal(size=dim)
        sentence = " ".join(rng.choice(words, 10))
        for r in range(reciters):
            chars = list(sentence)
            for i in rng.choice(len(chars), 2, replace=False):
                chars[i] = "z" if chars[i] != " " else " "
            texts.append("".join(chars) if r % 3 else sentence)  # every third reads it verbatim
            vectors.append(centre + rng.normal(scale=0.08, size=dim))
            media.append(f"m{r}-{line % 4}")
            line_of.append(line)
    for i in range(loners):
        texts.append(" ".join(rng.choice(words, 9)))
        vectors.append(rng.normal(size=dim))
        media.append(f"solo{i}")
        line_of.append(-1)
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return texts, matrix, media, np.array(line_of)


def _components(n, table):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    return connected_components(coo_matrix((np.ones(len(table)), (table.a, table.b)), shape=(n, n)))[1]


def test_similarity_approximate_search_links_every_exactly_linked_pair_and_nothing_else():
    from analyzer.similarity import SearchOptions

    texts, vectors, media, line_of = _corpus()
    exact = candidate_pairs(texts, vectors, media, 0.9, 0.5, 20, SearchOptions(exact_max_units=10**6))
    approx = candidate_pairs(texts, vectors, media, 0.9, 0.5, 20, SearchOptions(exact_max_units=0))
    component = _components(len(texts), approx)
    assert np.all(component[exact.a] == component[exact.b])  # recall: every exact link is kept
    assert np.all(line_of[approx.a] == line_of[approx.b])  # precision: only one line's units
    assert np.all(line_of[approx.a] >= 0)
    assert not np.any(np.asarray(media)[approx.a] == np.asarray(media)[approx.b])
    verbatim = approx.jaccard >= 0.999
    assert np.all(np.array([texts[i] for i in approx.a[verbatim]]) == [texts[j] for j in approx.b[verbatim]])


def test_similarity_identical_lines_are_linked_as_a_star_not_every_pair():
    from analyzer.similarity import SearchOptions

    n = 3000
    texts = ["We are free to live our lives the way we choose."] * n
    vectors = np.tile(np.eye(8, dtype=np.float32)[0], (n, 1))
    media = [f"m{i}" for i in range(n)]
    pairs = candidate_pairs(texts, vectors, media, 0.9, 0.5, 20, SearchOptions(exact_max_units=0))
    assert len(pairs) < 2 * n  # all 4.5 million pairs would also link them, at 1,500x the cost
    assert len(set(_components(n, pairs))) == 1
    assert np.all(pairs.jaccard == 1.0) and np.allclose(pairs.cosine, 1.0)


def test_similarity_shingle_sets_give_exact_jaccard_in_any_script():
    from analyzer.similarity import ShingleSets, jaccard, shingles

    texts = [
        "We are free to live our lives!",
        "we are FREE to live our life",
        "我们是自由的，我们选择。",
        "我们是自由的",
        "ab",
        "a",
        "abc",
        "",
        "Мы свободны жить как хотим.",
        "Мы свободны жить, как хотим",
    ]
    sets = ShingleSets(texts)
    a, b = np.triu_indices(len(texts), 1)
    fast = sets.jaccard(a, b)
    slow = [jaccard(shingles(texts[i]), shingles(texts[j])) for i, j in zip(a, b, strict=True)]
    assert np.allclose(fast, slow, atol=1e-6)
    assert list(sets.sizes()) == [len(shingles(t)) for t in texts]


def test_similarity_minhash_agreement_estimates_jaccard():
    from analyzer.similarity import ShingleSets

    texts, _, _, _ = _corpus(lines=6, reciters=4, loners=20)
    sets = ShingleSets(texts)
    signatures = sets.minhash(240, seed=3)
    a, b = np.triu_indices(len(texts), 1)
    estimate = (signatures[a] == signatures[b]).mean(axis=1)
    assert np.mean(np.abs(estimate - sets.jaccard(a, b))) < 0.03


def test_similarity_ivf_search_matches_brute_force_on_clustered_vectors():
    from analyzer.similarity import SearchOptions, ivf_neighbours

    _, vectors, media, _ = _corpus(lines=40, reciters=10, loners=600)
    groups = np.unique(media, return_inverse=True)[1]
    a, b, s = ivf_neighbours(vectors, 5, 0.9, groups, SearchOptions(list_size=64, probes=3))
    found = set(zip(a.tolist(), b.tolist(), strict=True))
    sims = vectors @ vectors.T
    sims[groups[:, None] == groups[None, :]] = -1
    expected = set()
    for i in range(len(vectors)):
        top = np.argsort(-sims[i])[:5]
        expected |= {(i, int(j)) for j in top if sims[i, j] >= 0.9}
    assert len(expected & found) / len(expected) >= 0.99
    assert np.all(s >= 0.9) and not np.any(groups[a] == groups[b])


def test_similarity_pair_table_reads_as_a_sequence_of_pairs():
    from analyzer.similarity import Pair, PairTable

    table = PairTable.of([Pair(0, 1, 0.9, 0.0), Pair(1, 2, 0.5, 0.8)])
    assert len(table) == 2 and table[1] == Pair(1, 2, 0.5, 0.8)
    assert list(table) == [table[0], table[1]] and table[:1] == [table[0]]
    assert np.allclose(table.strength(), [0.9, 0.8])
    assert PairTable.of(table) is table


def test_similarity_max_jaccard_to_other_media_equals_the_set_computation():
    from analyzer.similarity import jaccard, max_jaccard_other_media, shingles

    texts, _, media, _ = _corpus(lines=3, reciters=6, loners=5)
    texts = [*texts, "", "We are free.", "we are FREE"]
    media = [*media, "e1", "x1", "x1"]  # the last two share a medium: no credit
    sets = [shingles(t) for t in texts]
    fast = max_jaccard_other_media(sets, media)
    slow = [
        max((jaccard(sets[i], sets[j]) for j in range(len(texts)) if media[j] != media[i]), default=0.0)
        for i in range(len(texts))
    ]
    assert np.allclose(fast, slow, atol=1e-12)
    assert fast[-1] < 1.0 and fast[-3] == 0.0
    # once another medium says it too, the copy in x1 is verbatim again
    again = max_jaccard_other_media([*sets, shingles("We are free!")], [*media, "y1"])
    assert again[-2] == 1.0 and again[-1] == 1.0 and np.allclose(again[:-3], fast[:-2])


def test_similarity_differing_bytes_counts_what_a_byte_comparison_counts():
    from analyzer.similarity import _differing_bytes

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(500, 16), dtype=np.uint8)
    b = a.copy()
    changed = rng.random(a.shape) < 0.3
    b[changed] = rng.integers(0, 256, size=int(changed.sum()), dtype=np.uint8)
    counted = _differing_bytes(a.view(np.uint64) ^ b.view(np.uint64))
    assert np.array_equal(counted, (a != b).sum(axis=1)) and counted.max() > 0


def _crowded_signatures(side: int = 40, bands: int = 12, rows: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Twin members that share three crowded buckets and nothing else.

    Band 0 is one bucket of all members (words every sentence uses); band 4 groups the
    members of a grid row, band 8 those of a grid column, 80 members each; the two twins
    of a grid cell share all three. Every other value is random, so no sort order brings
    twins together.
    """
    rng = np.random.default_rng(8)
    cells = side * side
    signatures = rng.integers(0, 2**32 - 1, size=(2 * cells, bands * rows), dtype=np.uint32)
    cell = np.arange(2 * cells) // 2
    signatures[:, 0:rows] = 7
    signatures[:, 4 * rows : 5 * rows] = (cell // side)[:, None]
    signatures[:, 8 * rows : 9 * rows] = (side + cell % side)[:, None]
    twins = np.arange(0, 2 * cells, 2)
    return signatures, np.stack([twins, twins + 1], axis=1)


def test_similarity_lsh_finds_pairs_that_share_two_crowded_buckets():
    from analyzer.similarity import lsh_candidates

    signatures, twins = _crowded_signatures()
    n = len(signatures)
    a, b = lsh_candidates(signatures, bands=12, rows=3, window=24)
    found = set((a * n + b).tolist())
    missed = [pair for pair in twins.tolist() if pair[0] * n + pair[1] not in found]
    assert not missed  # a window of 24 in buckets of 80 and 3,200 alone misses about a quarter
    assert len(a) < 0.1 * n * (n - 1) / 2  # and far from every pair of the crowded buckets
