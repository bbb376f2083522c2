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
