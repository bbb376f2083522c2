"""Candidate pairs of units from different media: lexical (character shingles) and semantic.

Lexical links catch verbatim and near-verbatim copies in any script (character n-grams
need no word boundaries); semantic links (cosine of multilingual embeddings) catch
paraphrases and translations. Only pairs across different media are ever candidates:
a speaker repeating themself is not a script.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SHINGLE = 3
# A shingle shared by more units than this is boilerplate ("the", "我们") and carries no
# evidence; skipping it keeps the inverted index from going quadratic.
MAX_POSTING = 2000


@dataclass(frozen=True)
class Pair:
    """Two units from different media that may say the same thing."""

    a: int
    b: int
    cosine: float
    jaccard: float


def normalise_text(text: str) -> str:
    """Case-folded text without punctuation or symbols, single spaces (for verbatim tests)."""
    kept = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        category = unicodedata.category(ch)
        kept.append(" " if category[0] in "PSZC" else ch)
    return " ".join("".join(kept).split())


def shingles(text: str, n: int = SHINGLE) -> frozenset[str]:
    norm = normalise_text(text)
    if len(norm) <= n:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def lexical_pairs(
    texts: Sequence[str], groups: Sequence[str], threshold: float
) -> dict[tuple[int, int], float]:
    """Pairs (i < j, different groups) whose shingle Jaccard is at least ``threshold``."""
    sets = [shingles(t) for t in texts]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for sh in s:
            postings[sh].append(i)
    overlap: dict[tuple[int, int], int] = defaultdict(int)
    for members in postings.values():
        if len(members) > MAX_POSTING:
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if groups[i] != groups[j]:
                    overlap[(i, j)] += 1
    found: dict[tuple[int, int], float] = {}
    for (i, j), shared in overlap.items():
        union = len(sets[i]) + len(sets[j]) - shared
        score = shared / union if union else 0.0
        if score >= threshold:
            found[(i, j)] = score
    return found


def semantic_pairs(
    vectors: np.ndarray, groups: Sequence[str], k: int, threshold: float, block: int = 2048
) -> dict[tuple[int, int], float]:
    """Each unit's ``k`` nearest units from other media with cosine >= ``threshold``.

    Exact search in row blocks: memory is O(block x n), not O(n^2).
    """
    n = len(vectors)
    found: dict[tuple[int, int], float] = {}
    if n < 2:
        return found
    group_ids = np.unique(np.asarray(groups), return_inverse=True)[1]
    for start in range(0, n, block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(start, min(n, start + block))
        same = group_ids[rows][:, None] == group_ids[None, :]
        sims[same] = -1.0
        take = min(k, n - 1)
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take] if take < n else None
        for r, i in enumerate(rows):
            candidates = top[r] if top is not None else np.arange(n)
            for j in candidates:
                score = float(sims[r, j])
                if score >= threshold:
                    key = (int(min(i, j)), int(max(i, j)))
                    found[key] = max(found.get(key, -1.0), score)
    return found


def candidate_pairs(
    texts: Sequence[str],
    vectors: np.ndarray,
    groups: Sequence[str],
    semantic_threshold: float,
    lexical_threshold: float,
    k: int = 20,
) -> list[Pair]:
    """Lexical and semantic candidates merged; each pair carries both similarities."""
    lexical = lexical_pairs(texts, groups, lexical_threshold)
    semantic = semantic_pairs(vectors, groups, k, semantic_threshold)
    pairs = []
    for key in sorted(set(lexical) | set(semantic)):
        i, j = key
        cosine = semantic.get(key, float(vectors[i] @ vectors[j]))
        pairs.append(Pair(i, j, cosine, lexical.get(key, 0.0)))
    return pairs
