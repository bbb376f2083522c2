"""Candidate pairs + HDBSCAN -> groups of units that say the same line.

HDBSCAN finds the dense regions of the embedding space (one per script line), which
stops a chain of merely similar sentences from gluing two lines together; the candidate
graph decides membership, so a unit joins a group only through a strong link to another
medium. HDBSCAN alone leaves many short texts as noise, so noise units that have a strong
link are attached to the group of their best link instead of being thrown away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer.similarity import Pair


@dataclass(frozen=True)
class ClusterOptions:
    # Cosine at which two units say the same thing (the embedding model's link_threshold):
    # two groups merge when their average cross-similarity reaches it (average linkage,
    # which, unlike single links, does not chain distinct lines together).
    link_threshold: float
    min_cluster_size: int = 2
    min_samples: int = 1
    # Lexical Jaccard at or above this is a verbatim copy: always the same group.
    verbatim_jaccard: float = 0.8


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def hdbscan_labels(vectors: np.ndarray, options: ClusterOptions) -> np.ndarray:
    """HDBSCAN labels (-1 = noise) over L2-normalised vectors (euclidean ~ cosine)."""
    if len(vectors) < max(2, options.min_cluster_size):
        return np.full(len(vectors), -1)
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=options.min_cluster_size,
        min_samples=options.min_samples,
        metric="euclidean",
        cluster_selection_method="leaf",  # fine-grained: one cluster per line, not per topic
        allow_single_cluster=True,
    )
    return np.asarray(clusterer.fit_predict(vectors.astype(np.float64)))


def group_units(vectors: np.ndarray, pairs: Sequence[Pair], options: ClusterOptions) -> list[list[int]]:
    """Groups of unit indices (each of size >= 2), from candidate pairs and HDBSCAN."""
    linked = sorted({p.a for p in pairs} | {p.b for p in pairs})
    if not linked:
        return []
    local = {unit: pos for pos, unit in enumerate(linked)}
    labels = hdbscan_labels(vectors[linked], options)
    label_of = {unit: int(labels[local[unit]]) for unit in linked}

    uf = _UnionFind(len(vectors))
    best: dict[int, tuple[float, int]] = {}
    for p in pairs:
        la, lb = label_of[p.a], label_of[p.b]
        strength = max(p.cosine, p.jaccard)
        if p.jaccard >= options.verbatim_jaccard or (la == lb and la != -1):
            uf.union(p.a, p.b)
        for x, y in ((p.a, p.b), (p.b, p.a)):
            if label_of[x] == -1 and strength > best.get(x, (-1.0, -1))[0]:
                best[x] = (strength, y)
    for unit, (_, neighbour) in best.items():
        uf.union(unit, neighbour)  # noise joins the group of its strongest link

    _merge_close_groups(vectors, pairs, uf, options.link_threshold)
    groups: dict[int, list[int]] = defaultdict(list)
    for unit in linked:
        groups[uf.find(unit)].append(unit)
    return [sorted(g) for g in groups.values() if len(g) >= 2]


def _merge_close_groups(vectors: np.ndarray, pairs: Sequence[Pair], uf: _UnionFind, threshold: float) -> None:
    """Merge groups joined by a candidate link when they are close on average.

    HDBSCAN's leaf clusters can split one line (e.g. a speaker's ASR and subtitle units of
    a variant wording form their own tiny cluster); average linkage puts them back
    without letting one strong pair glue two different lines together.
    """
    changed = True
    while changed:
        changed = False
        members: dict[int, list[int]] = defaultdict(list)
        for unit in sorted({p.a for p in pairs} | {p.b for p in pairs}):
            members[uf.find(unit)].append(unit)
        for p in sorted(pairs, key=lambda q: -max(q.cosine, q.jaccard)):
            ra, rb = uf.find(p.a), uf.find(p.b)
            if ra == rb or ra not in members or rb not in members:
                continue
            average = float((vectors[members[ra]] @ vectors[members[rb]].T).mean())
            if average >= threshold:
                uf.union(ra, rb)
                merged = members.pop(ra) + members.pop(rb)
                members[uf.find(ra)] = merged
                changed = True
