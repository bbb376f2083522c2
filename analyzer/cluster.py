"""Candidate pairs + HDBSCAN -> groups of units that say the same line.

HDBSCAN finds the dense regions of the embedding space (one per script line), which
stops a chain of merely similar sentences from gluing two lines together; the candidate
graph decides membership, so a unit joins a group only through a strong link to another
medium. HDBSCAN alone leaves many short texts as noise, so noise units that have a strong
link are attached to the group of their best link instead of being thrown away.

How it scales. Two units can only share a group when a chain of candidate links joins
them, so HDBSCAN's hierarchy is built per connected component of the candidate graph
and the components are joined at the top by edges longer than any real distance: leaf
clusters never cross components, and HDBSCAN's own condensing and leaf selection
(``hdbscan``'s ``_tree_to_labels``) run once over the whole forest, as if it had been
given all linked units at once. Each component's minimum spanning tree of mutual
reachability (min_samples=1) is exact up to ``ClusterOptions.dense_max`` units (the
dense matrix, as HDBSCAN computes it); a larger component (a greeting said by 50,000
media) uses the graph of its ``knn`` nearest neighbours plus its candidate links, which
holds the short edges such a tree is made of. Nothing is quadratic in the corpus: memory
is O(pairs + dense_max^2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.similarity import Pair, PairTable, SearchOptions, ivf_neighbours, unique

# A component's HDBSCAN tree joins the others above this distance (unit vectors: <= 2).
_APART = 4.0


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
    # Components up to this many units get HDBSCAN's exact (dense) spanning tree; larger
    # ones the tree of their k-nearest-neighbour graph (memory stays O(dense_max^2)).
    dense_max: int = 2048
    knn: int = 10


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


def component_labels(
    vectors: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    options: ClusterOptions,
    tick: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """HDBSCAN leaf labels (-1 = noise) for ``vectors``, hierarchy built per component of (a, b)."""
    from hdbscan._hdbscan_linkage import label
    from hdbscan.hdbscan_ import _tree_to_labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(vectors)
    if n < max(2, options.min_cluster_size):
        return np.full(n, -1)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    count, component = connected_components(graph, directed=False)
    order = np.argsort(component, kind="stable")
    bounds = np.searchsorted(component[order], np.arange(count + 1))
    edges_of = _edges_by_component(component, a, b, count)
    trees: list[np.ndarray] = []
    for c in range(count):
        nodes = order[bounds[c] : bounds[c + 1]]
        if len(nodes) >= 2:
            local = edges_of(c)
            trees.append(_spanning_tree(vectors, nodes, local, options))
        if tick and (c % 256 == 0 or c == count - 1):
            tick(c + 1, count)
    heads = order[bounds[:-1]]
    bridges = np.column_stack([heads[:-1], heads[1:], np.full(count - 1, _APART)])
    forest = np.concatenate([*trees, bridges]) if trees else bridges
    forest = forest[np.argsort(forest[:, 2], kind="stable")]
    tree = label(np.ascontiguousarray(forest, dtype=np.float64))
    labels, *_ = _tree_to_labels(
        None,
        tree,
        options.min_cluster_size,
        "leaf",  # fine-grained: one cluster per line, not per topic
        True,  # allow_single_cluster: a corpus with one line is one cluster
    )
    return np.asarray(labels)


def _edges_by_component(
    component: np.ndarray, a: np.ndarray, b: np.ndarray, count: int
) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(component[a], kind="stable")
    bounds = np.searchsorted(component[a][order], np.arange(count + 1))

    def edges(c: int) -> tuple[np.ndarray, np.ndarray]:
        pick = order[bounds[c] : bounds[c + 1]]
        return a[pick], b[pick]

    return edges


def _spanning_tree(
    vectors: np.ndarray, nodes: np.ndarray, links: tuple[np.ndarray, np.ndarray], options: ClusterOptions
) -> np.ndarray:
    """Minimum spanning tree (rows: node, node, weight) of one component's mutual reachability."""
    if len(nodes) <= options.dense_max:
        from hdbscan._hdbscan_linkage import mst_linkage_core
        from scipy.spatial.distance import cdist

        x = vectors[nodes].astype(np.float64)
        if len(nodes) <= 256:  # HDBSCAN's own arithmetic (no dot-product rounding)
            dist = cdist(x, x)
        else:
            sq = np.einsum("ij,ij->i", x, x)
            dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0))
        np.fill_diagonal(dist, 0.0)
        core = np.partition(dist, min(options.min_samples, len(nodes) - 1), axis=1)[:, options.min_samples]
        reach = np.maximum(dist, np.maximum(core[:, None], core[None, :]))
        tree = mst_linkage_core(reach)
    else:
        tree = _knn_spanning_tree(vectors[nodes].astype(np.float32), nodes, links, options)
    tree[:, 0] = nodes[tree[:, 0].astype(np.int64)]
    tree[:, 1] = nodes[tree[:, 1].astype(np.int64)]
    return tree


def _knn_spanning_tree(
    x: np.ndarray, nodes: np.ndarray, links: tuple[np.ndarray, np.ndarray], options: ClusterOptions
) -> np.ndarray:
    """Spanning tree of mutual reachability over the kNN graph plus the candidate links."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    m = len(nodes)
    xf = x
    qa, qb, cos = ivf_neighbours(xf, options.knn, -2.0, None, SearchOptions())
    dist_knn = np.sqrt(np.maximum(2.0 - 2.0 * cos.astype(np.float64), 0.0))
    core = np.full(m, np.inf)
    np.minimum.at(core, qa, dist_knn)  # min_samples=1: distance to the nearest other unit
    position = np.searchsorted(nodes, links[0]), np.searchsorted(nodes, links[1])
    ea = np.concatenate([qa, position[0]])
    eb = np.concatenate([qb, position[1]])
    cos = np.empty(len(ea))
    for lo in range(0, len(ea), 65536):  # in chunks: two gathered rows per edge add up
        cos[lo : lo + 65536] = np.einsum("ij,ij->i", xf[ea[lo : lo + 65536]], xf[eb[lo : lo + 65536]])
    d = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0))
    core = np.where(np.isfinite(core), core, 0.0)
    weight = np.maximum(d, np.maximum(core[ea], core[eb])) + 1e-12  # sparse graphs drop zeros
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    keep = lo != hi
    graph = _min_duplicates(lo[keep], hi[keep], weight[keep], m)
    tree = minimum_spanning_tree(graph).tocoo()
    return np.column_stack([tree.row, tree.col, tree.data - 1e-12]).astype(np.float64)


def _min_duplicates(lo: np.ndarray, hi: np.ndarray, weight: np.ndarray, m: int) -> Any:
    """A sparse graph keeping the lightest of repeated edges (scipy would add them up)."""
    from scipy.sparse import csr_matrix

    key = lo.astype(np.int64) * m + hi
    order = np.lexsort((weight, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    pick = order[first]
    return csr_matrix((weight[pick], (lo[pick], hi[pick])), shape=(m, m))


def group_units(
    vectors: np.ndarray,
    pairs: Sequence[Pair],
    options: ClusterOptions,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[list[int]]:
    """Groups of unit indices (each of size >= 2), from candidate pairs and HDBSCAN."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    table = PairTable.of(pairs)
    if len(table) == 0:
        return []
    linked, inverse = unique(np.concatenate([table.a, table.b]), return_inverse=True)
    la, lb = inverse[: len(table)], inverse[len(table) :]

    def tick(done: int, total: int) -> None:
        if progress:
            progress("cluster", done, total)

    labels = component_labels(vectors[linked], la, lb, options, tick)
    strength = table.strength().astype(np.float64)
    same = (labels[la] == labels[lb]) & (labels[la] != -1)
    join = (table.jaccard >= options.verbatim_jaccard) | same
    # noise joins the group of its strongest link (the first such link on ties, as listed)
    ends = np.concatenate([la, lb])
    others = np.concatenate([lb, la])
    power = np.concatenate([strength, strength])
    listed = np.concatenate([2 * np.arange(len(table)), 2 * np.arange(len(table)) + 1])
    noisy = labels[ends] == -1
    ends, others, power, listed = ends[noisy], others[noisy], power[noisy], listed[noisy]
    order = np.lexsort((listed, -power, ends))
    first = np.ones(len(order), dtype=bool)
    first[1:] = ends[order][1:] != ends[order][:-1]
    best = order[first]
    ua = np.concatenate([la[join], ends[best]])
    ub = np.concatenate([lb[join], others[best]])
    m = len(linked)
    _, group = connected_components(coo_matrix((np.ones(len(ua)), (ua, ub)), shape=(m, m)), directed=False)
    group = _merge_close_groups(
        vectors[linked].astype(np.float64), la, lb, strength, group, options.link_threshold
    )
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    parts = [linked[part] for part in np.split(order, bounds) if len(part) >= 2]
    verbatim = np.zeros(len(vectors), dtype=bool)
    copies = table.jaccard >= options.verbatim_jaccard
    verbatim[table.a[copies]] = verbatim[table.b[copies]] = True
    kept = (_agreeing_members(vectors, part, verbatim, options) for part in parts)
    groups = [members.tolist() for members in kept if len(members) >= 2]
    groups.sort(key=lambda g: g[0])
    return groups


def _agreeing_members(
    vectors: np.ndarray, members: np.ndarray, verbatim: np.ndarray, options: ClusterOptions
) -> np.ndarray:
    """The members whose average cosine to the rest of their group reaches the link threshold.

    One link above the threshold brings a unit into a group (HDBSCAN noise joins its
    strongest link, groups merge along links), and a sentence that merely resembles a
    script line, as thousands of ordinary sentences do, has such a link. A recital agrees
    with the whole group on average; a coincidence agrees with one or two members. The
    least agreeing members below the bar leave (at most a quarter of the group a round, so
    when two lines were glued together the larger keeps its place while the other
    leaves) and the averages are recomputed until none is below. Averages come from
    sums, not a dense block: a group of 100,000 recitals costs O(n * dim) a round.
    Units with a verbatim copy (``verbatim``) always stay: they share their words with
    another member, whatever the embedding says.
    """
    keep = members
    while len(keep) > 2:
        block = vectors[keep].astype(np.float64)
        total = block.sum(axis=0)
        average = (block @ total - np.einsum("ij,ij->i", block, block)) / (len(keep) - 1)
        low = np.flatnonzero((average < options.link_threshold) & ~verbatim[keep])
        if len(low) == 0:
            break
        worst = low[np.argsort(average[low], kind="stable")][: max(1, len(keep) // 4)]
        keep = np.delete(keep, worst)
    pair_disagrees = len(keep) == 2 and float(vectors[keep[0]] @ vectors[keep[1]]) < options.link_threshold
    if pair_disagrees and not verbatim[keep].any():
        return keep[:0]
    return keep


def _merge_close_groups(
    vectors: np.ndarray,
    la: np.ndarray,
    lb: np.ndarray,
    strength: np.ndarray,
    group: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """Merge groups joined by a candidate link when their centroids say the same thing.

    HDBSCAN's leaf clusters can split one line (a variant wording, or the recitals in one
    language and those in another form their own clusters); merging by centroid puts them
    back without letting one strong pair glue two different lines together. A centroid
    averages its members' noise away, so a line's English and Spanish recitals agree
    better as groups than as typical pairs (benchmarks/quality.py: pair recall 0.54 ->
    0.70). The cosine of two centroids is the cosine of the groups' vector sums, so each
    test costs one dot product, not a block of them.
    """
    order = np.argsort(-strength, kind="stable")  # strongest link first
    while True:
        count = int(group.max()) + 1
        sums = _group_sums(group, vectors, count)
        across = order[group[la[order]] != group[lb[order]]]
        if len(across) == 0:
            return group
        parent = list(range(count))
        find = _finder(parent)
        changed = False
        for p in across.tolist():
            ra, rb = find(int(group[la[p]])), find(int(group[lb[p]]))
            if ra == rb:
                continue
            lengths = np.linalg.norm(sums[ra]) * np.linalg.norm(sums[rb])
            if float(sums[ra] @ sums[rb]) / max(float(lengths), 1e-12) >= threshold:
                keep, gone = min(ra, rb), max(ra, rb)
                parent[gone] = keep
                sums[keep] += sums[gone]
                changed = True
        if not changed:
            return group
        roots = np.array([find(g) for g in range(count)])
        group = unique(roots[group], return_inverse=True)[1]


def _finder(parent: list[int]) -> Callable[[int], int]:
    """Union-find's find with path halving over ``parent`` (unions write ``parent``)."""

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    return find


def _group_sums(group: np.ndarray, vectors: np.ndarray, count: int) -> np.ndarray:
    """Sum of the vectors in each group (a sparse one-hot product; np.add.at is slow)."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))), shape=(count, len(group)))
    return np.asarray(onehot @ vectors, dtype=np.float64)
