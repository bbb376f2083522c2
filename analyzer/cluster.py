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

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.records import Unit
from analyzer.similarity import Pair, PairTable, SearchOptions, ivf_neighbours, said_again, unique
from analyzer.units import Clock, aligned, framing, parts, stream_edges, whole_sentences

# A component's HDBSCAN tree joins the others above this distance (unit vectors: <= 2).
_APART = 4.0


def _voices(units: Sequence[Unit], voices: Mapping[str, str] | None) -> list[str]:
    """Per unit: the recording its medium carries (a re-upload's original, see
    ``analyzer.coordination.find_reuploads``). A re-upload says every line exactly as its
    original does; counted as another medium, it makes each of its units agree with a
    group perfectly, whatever that unit says."""
    if not voices:
        return [u.media_id for u in units]
    return [voices.get(u.media_id, u.media_id) for u in units]


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
    local = vectors[linked].astype(np.float64)
    group = _merge_close_groups(local, la, lb, strength, group, options.link_threshold)
    copies = table.jaccard >= options.verbatim_jaccard
    _, block = connected_components(
        coo_matrix((np.ones(int(copies.sum())), (la[copies], lb[copies])), shape=(m, m)), directed=False
    )
    count = int(group.max()) + 1
    inside = np.flatnonzero(group[la] == group[lb])
    inside = inside[np.argsort(group[la[inside]], kind="stable")]  # each group's links together
    link_bounds = np.searchsorted(group[la[inside]], np.arange(count + 1))
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(count + 1))
    groups: list[list[int]] = []
    for g in range(count):
        part = order[bounds[g] : bounds[g + 1]]
        if len(part) >= 2:
            pick = inside[link_bounds[g] : link_bounds[g + 1]]
            links = (la[pick], lb[pick], strength[pick])
            groups.extend(linked[c].tolist() for c in _coherent_parts(local, part, block, links, options, 2))
    groups.sort(key=lambda g: g[0])
    return groups


def _coherent_parts(
    vectors: np.ndarray,
    members: np.ndarray,
    block: np.ndarray,
    links: tuple[np.ndarray, np.ndarray, np.ndarray],
    options: ClusterOptions,
    depth: int,
) -> list[np.ndarray]:
    """A merged group split into the parts whose members agree (see ``_agreeing_members``).

    What leaves a group is not thrown away: verbatim copies leave together, and the
    leavers are grouped again along their own ``links`` (a, b, strength: centroid merge
    from their blocks, then the same test, ``depth`` more times). Two lines glued together
    by a bridging sentence so come apart as two groups instead of one losing its place.
    After the last test, a part of several blocks is no group, but the copies in it are:
    two media saying "I always liked mysterious characters more." word for word had left a
    group of the line's pieces with a sentence like theirs, and went nowhere.
    """
    keep, left = _agreeing_members(vectors, members, block, options)
    parts = [keep] if len(keep) >= 2 else []
    if len(left) < 2:
        return parts
    left = np.sort(left)
    a, b, strength = links
    pa = np.minimum(np.searchsorted(left, a), len(left) - 1)
    pb = np.minimum(np.searchsorted(left, b), len(left) - 1)
    among = (left[pa] == a) & (left[pb] == b)  # links between two leavers
    pa, pb, strength = pa[among], pb[among], strength[among]
    start = unique(block[left], return_inverse=True)[1]
    regrouped = _merge_close_groups(vectors[left], pa, pb, strength, start, options.link_threshold)
    order = np.argsort(regrouped, kind="stable")
    for part in np.split(order, np.flatnonzero(np.diff(regrouped[order])) + 1):
        if len(part) < 2:
            continue
        if depth > 0:
            within = np.isin(pa, part) & np.isin(pb, part)
            sub = (left[pa[within]], left[pb[within]], strength[within])
            parts.extend(_coherent_parts(vectors, left[part], block, sub, options, depth - 1))
        else:  # copies of one another stay together: they share their words
            ids, counts = np.unique(block[left[part]], return_counts=True)
            parts.extend(left[part][block[left[part]] == b] for b in ids[counts >= 2].tolist())
    return parts


def _agreeing_members(
    vectors: np.ndarray, members: np.ndarray, block: np.ndarray, options: ClusterOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, left): the members whose average cosine to the rest of their group reaches the link threshold.

    One link above the threshold brings a unit into a group (HDBSCAN noise joins its
    strongest link, groups merge along links), and a sentence that merely resembles a
    script line, as thousands of ordinary sentences do, has such a link. A recital agrees
    with the whole group on average; a coincidence agrees with one or two members. Verbatim
    copies of one another (one ``block``) are judged together, by their average cosine
    to the members outside the block: they share their words, whatever the embedding
    says of each, but two lines each copied verbatim and glued together by a bridge
    must still come apart. The least agreeing blocks below the bar leave (the smaller
    first on a tie; at most a quarter of the group a round, or one block no larger than
    half of it, so when two lines were glued together the larger keeps its place) and the
    averages are recomputed until none is below. Averages come from sums, not a dense
    block: a group of 100,000 recitals costs O(n * dim) a round.
    """
    keep = members
    gone: list[np.ndarray] = []
    while len(keep) >= 2:
        ids, inverse = unique(block[keep], return_inverse=True)
        if len(ids) < 2:
            break
        sums = _group_sums(inverse, vectors[keep], len(ids))
        counts = np.bincount(inverse, minlength=len(ids)).astype(np.float64)
        n = len(keep)
        total = sums.sum(axis=0)
        average = (sums @ total - np.einsum("ij,ij->i", sums, sums)) / (counts * (n - counts))
        low = np.flatnonzero(average < options.link_threshold)
        if len(low) == 0:
            break
        low = low[np.lexsort((counts[low], np.round(average[low], 6)))]
        leaving: list[int] = []
        removed = 0.0
        for k in low.tolist():
            fits = removed + counts[k] <= max(1, n // 4) or (not leaving and 2 * counts[k] <= n)
            if not fits:
                break
            leaving.append(k)
            removed += counts[k]
        if not leaving:
            break
        out = np.isin(inverse, leaving)
        gone.append(keep[out])
        keep = keep[~out]
    apart = len(keep) == 2 and block[keep[0]] != block[keep[1]]
    if apart and float(vectors[keep[0]] @ vectors[keep[1]]) < options.link_threshold:
        gone.append(keep)
        keep = keep[:0]
    left = np.concatenate(gone) if gone else keep[:0]
    return keep, left


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


def attach_alternatives(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    alternatives: Sequence[Unit],
    alternative_vectors: np.ndarray,
    threshold: float,
    alone: Sequence[bool] | None = None,
    voices: Mapping[str, str] | None = None,
) -> list[list[int]]:
    """Groups after other readings of the same speech (windows) took the places they fit best.

    An alternative is a stretch of one medium's text cut differently from its units (two
    adjacent sentences read as one, see ``analyzer.units.windows``). It may join the group
    it agrees with best, by the bar ``_agreeing_members`` holds every member to (average
    cosine to the group's members >= ``threshold``), only in the place of a member of that
    group it overlaps (same medium, source and track: a window never enters a group
    alone, which on coarse ASR segments let stretches of two utterances in, measured),
    and only where it agrees better than every member it overlaps agrees with that
    member's own group: those members then leave. So a line cut in two by ASR counts whole, while a
    window of two different lines, which agrees with either line's group less than the
    line itself does, changes nothing. Agreement is always with the members from other
    media: a window contains its own sentence, and agreeing with oneself is no evidence.
    Groups are fixed while alternatives are placed (strongest first), so the result does
    not depend on their order. Where two other media of a group say it in the
    alternative's (or member's) language, agreement is with those only: a translation's
    cosine runs lower, and averaged in it made a group of two media's first words ("the
    sea was raging") look closer to the whole English line than the line's own group in
    English and Arabic (benchmarks/quality.py: pair F1 +0.004 to +0.014 on four seeds).

    A part of one unit (``analyzer.units.parts``) may enter a group alone, as it lies
    inside the unit, but never takes the unit out of another group: its first words may
    read like some other line better than the whole reads like its own ("don t be" of
    "don t be ashamed of yourself"), and the rest of the line would then count nowhere
    (benchmarks/quality.py: pair F1 +0.01 on both seeds).

    ``alone`` marks alternatives found word for word in a known line (``analyzer.units.
    aligned``): they may enter a group without a member to replace, and they outrank the
    units they overlap that are not a whole sentence (``analyzer.units.whole_sentences``:
    a segment holding two lines is no better a member than the stretch that says one of
    them, the other line's stretch can take its place in the other group; and the two
    pieces of a sentence cut in two are no better than the stretch that says it whole,
    even where another medium cut it at the same word and a piece sits in a group of two
    identical pieces). A member of another group that an alternative overlaps for less
    than half of the member's time is no rival and stays: a stretch found from a word
    before its line (word times blur) took "我請我父親幫忙" out of its line's group.

    ``groups`` may hold alternatives already (indices into ``[*units, *alternatives]``):
    a second round after the groups of two lines were split (``split_glued_lines``,
    ``split_by_script``) places the cuts that agreed with neither line's half of the
    glued group (benchmarks/quality.py: pair F1 +0.001 to +0.017 on four seeds); the ones
    placed stay, and hold their places as members do.

    Returns groups of indices into ``[*units, *alternatives]``.
    """
    if not groups or not alternatives:
        return [list(g) for g in groups]
    n = len(units)
    # what a found line outranks: units that are not a whole sentence as punctuated
    whole = set()
    if alone is not None and any(alone):
        ids = whole_sentences(units)
        whole = {i for i, u in enumerate(units) if u.id in ids}
    query = np.asarray(alternative_vectors, dtype=np.float32)

    def rows(members: Sequence[int]) -> np.ndarray:  # vectors of units and placed alternatives
        idx = np.asarray(members, dtype=np.int64)
        return np.concatenate([vectors[idx[idx < n]], query[idx[idx >= n] - n]]).astype(np.float64)

    def unit_of(i: int) -> Unit:
        return units[i] if i < n else alternatives[i - n]

    sums = np.stack([rows(g).sum(axis=0) for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    # each group's members per medium, and per language and medium: what a member or an
    # alternative of that medium leaves out, and the members that say it in its language
    voice = dict(voices or {})
    own: dict[tuple[int, str], tuple[np.ndarray, int]] = {}
    tongue: dict[tuple[int, str, str], tuple[np.ndarray, int]] = {}
    for g, members in enumerate(groups):
        for i, row in zip(members, rows(members), strict=True):
            u = unit_of(i)
            key = (g, voice.get(u.media_id, u.media_id))
            total, count = own.get(key, (0.0, 0))
            own[key] = (total + row, count + 1)
            for k in ((g, u.language, ""), (g, u.language, key[1])):
                total, count = tongue.get(k, (0.0, 0))
                tongue[k] = (total + row, count + 1)

    def agreement(vector: np.ndarray, g: int, media_id: str, language: str) -> float:
        # with the other media that say the line in the same language where two do (a
        # translation's cosine runs lower: averaged in, it would favour a group of pieces
        # in one language over the line's own group in two), else with all of them
        name = voice.get(media_id, media_id)
        peers, peer_count = tongue.get((g, language, ""), (0.0, 0))
        mine, mine_count = tongue.get((g, language, name), (0.0, 0))
        if peer_count - mine_count >= 2:
            return float(vector @ (peers - mine)) / (peer_count - mine_count)
        total, count = own.get((g, name), (0.0, 0))
        others = sizes[g] - count
        return float(vector @ (sums[g] - total)) / others if others > 0 else -np.inf

    best = np.full(len(alternatives), -1, dtype=np.int64)
    score = np.full(len(alternatives), -np.inf)
    qa, qg = _candidate_groups(query, sums, sizes, threshold)
    for a, g in zip(qa.tolist(), qg.tolist(), strict=True):
        value = agreement(query[a].astype(np.float64), g, alternatives[a].media_id, alternatives[a].language)
        if value >= threshold and value > score[a]:
            best[a], score[a] = g, value
    # per medium, source and track: (start, end, index, agreement) of what holds a place
    placed: dict[tuple[str, str, str], list[tuple[int, int, int, float]]] = {}
    group_of: dict[int, int] = {}
    for g, members in enumerate(groups):
        for i, row in zip(members, rows(members), strict=True):
            u = unit_of(i)
            fit = agreement(row, g, u.media_id, u.language)
            placed.setdefault((u.media_id, u.source, u.track), []).append((u.start_ms, u.end_ms, i, fit))
            group_of[i] = g
    # the units of each alternative's stream, for the alternatives that join somewhere
    streams: dict[tuple[str, str, str], list[Unit]] = {}
    for u in units:
        streams.setdefault((u.media_id, u.source, u.track), []).append(u)
    within = {
        a: streams.get((alternatives[a].media_id, alternatives[a].source, alternatives[a].track), [])
        for a in np.flatnonzero(best >= 0).tolist()
    }

    out: list[set[int]] = [set(g) for g in groups]
    for a in np.argsort(-score, kind="stable").tolist():
        if best[a] < 0:
            break
        if n + a in group_of:
            continue  # placed already (an earlier round)
        alt = alternatives[a]
        spans = placed.setdefault((alt.media_id, alt.source, alt.track), [])
        overlapped = [s for s in spans if min(s[1], alt.end_ms) > max(s[0], alt.start_ms)]
        inside = any(u.start_ms <= alt.start_ms and alt.end_ms <= u.end_ms for u in within.get(a, ()))
        free = alone is not None and bool(alone[a])
        if not (free or inside) and not any(group_of[s[2]] == best[a] for s in overlapped):
            continue  # it takes the place of a member of that group, or lies inside one unit
        if inside and not free and any(group_of[s[2]] != best[a] for s in overlapped):
            continue  # a part may not take its unit out of another group (see above)
        # a member of another group that it only touches at an edge (less than half of the
        # member's time: a word where word times blur) keeps its place and is no rival
        shared = [min(s[1], alt.end_ms) - max(s[0], alt.start_ms) for s in overlapped]
        overlapped = [
            s
            for s, ms in zip(overlapped, shared, strict=True)
            if group_of[s[2]] == best[a] or 2 * ms >= s[1] - s[0]
        ]
        if any(s[3] >= score[a] for s in overlapped if not (free and s[2] < n and s[2] not in whole)):
            continue
        for s in overlapped:
            spans.remove(s)
            out[group_of.pop(s[2])].discard(s[2])
        spans.append((alt.start_ms, alt.end_ms, n + a, float(score[a])))
        out[int(best[a])].add(n + a)
        group_of[n + a] = int(best[a])
    return [sorted(g) for g in out if len(g) >= 2]


def loosely_placed(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    threshold: float,
    linked: np.ndarray | None = None,
    voices: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Per unit: True when it agrees with its group's other media less than halfway from
    ``threshold`` to identical meaning, or is in no group but has a candidate link
    (``linked``; without it, every unit in no group).

    Only such units need other cuts of their speech (``analyzer.units.parts``): a unit that
    says one line agrees with that line's group closely, while one that holds two lines
    agrees with either group loosely, or with none though it resembles a recital. A unit
    with no link at all resembles nothing said elsewhere (most independent speech). Cutting
    only these keeps the extra embeddings to the units that can gain from them.
    """
    loose = np.ones(len(units), dtype=bool) if linked is None else linked.astype(bool).copy()
    bar = (1.0 + threshold) / 2
    for members in groups:
        idx = np.asarray(members, dtype=np.int64)
        block = vectors[idx].astype(np.float64)
        total = block.sum(axis=0)
        media = np.array(_voices([units[i] for i in members], voices))
        _, inverse = np.unique(media, return_inverse=True)
        own = _group_sums(inverse, block, int(inverse.max()) + 1)[inverse]  # same medium's sum
        counts = np.bincount(inverse)[inverse]
        others = len(idx) - counts
        agree = np.where(others > 0, np.einsum("ij,ij->i", block, total - own) / np.maximum(others, 1), -1.0)
        loose[idx] = agree < bar
    return loose


def other_cuts(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    pairs: PairTable,
    threshold: float,
    voices: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> tuple[list[Unit], list[Unit]]:
    """(parts, aligned stretches) of the units that grouping placed loosely.

    Loosely placed units (``loosely_placed``; in no group, only those with a candidate
    link in ``pairs``) are cut evenly into parts (``analyzer.units.parts``); they and every
    unpunctuated run are searched for nearly verbatim copies of the lines that the members
    of groups of two or more media say as whole sentences (``analyzer.units.aligned``,
    keyed by group). Both go to ``attach_alternatives``; an aligned stretch may enter a
    group alone (it may straddle two units, but its words were found in that line), a part
    because it lies inside one unit. ``clock``: the units' word times, where known
    (``analyzer.units.Clock``).
    """
    linked = np.zeros(len(units), dtype=bool)
    linked[pairs.a] = linked[pairs.b] = True
    loose = loosely_placed(groups, units, vectors, threshold, linked, voices)
    media = [set(_voices([units[i] for i in members], voices)) for members in groups]
    held = [(i, g) for g, members in enumerate(groups) if len(media[g]) >= 2 for i in members]
    cut = parts([u for u, keep in zip(units, loose, strict=True) if keep], clock=clock)
    found = aligned(units, loose.tolist(), [units[i] for i, _ in held], [g for _, g in held], clock)
    return cut, found


def _candidate_groups(
    queries: np.ndarray, sums: np.ndarray, sizes: np.ndarray, threshold: float, k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(query, group) pairs: each query's ``k`` groups of highest average cosine to their members.

    Exact (blocks of queries x groups) while that product is small; otherwise the groups'
    centroids are searched by IVF (a centroid's cosine bounds the average from above, so
    the nearest centroids hold the best groups).
    """
    count = len(queries)
    if len(sums) == 0 or count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if count * len(sums) <= 50_000_000:
        scaled = (sums / sizes[:, None]).astype(np.float32)
        k = min(k, len(sums))
        rows: list[np.ndarray] = []
        tops: list[np.ndarray] = []
        for lo in range(0, count, 4096):
            average = queries[lo : lo + 4096] @ scaled.T
            top = np.argpartition(-average, k - 1, axis=1)[:, :k]
            rows.append(np.repeat(np.arange(lo, lo + len(top)), k))
            tops.append(top.ravel())
        return np.concatenate(rows), np.concatenate(tops)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    both = np.concatenate([queries, centroids])
    side = np.concatenate([np.zeros(count, dtype=np.int64), np.ones(len(sums), dtype=np.int64)])
    qa, qb, _ = ivf_neighbours(both, k, threshold, side)
    pick = (qa < count) & (qb >= count)
    return qa[pick], qb[pick] - count


def _media_incidence(
    groups: Sequence[Sequence[int]], units: Sequence[Unit], voices: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, int]]:
    """(groups x media sparse 0/1 matrix, media id -> column): which media say each group."""
    from scipy.sparse import csr_matrix

    media_ids: dict[str, int] = {}
    rows, cols = [], []
    for g, members in enumerate(groups):
        for m in set(_voices([units[i] for i in members], voices)):
            rows.append(g)
            cols.append(media_ids.setdefault(m, len(media_ids)))
    incidence = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(groups), len(media_ids)))
    return incidence, media_ids


# Parallel groups: two groups of one script line in two languages share no medium (a
# reciter says a line once) while their media recite the same script. At most this share
# of the smaller group's media may say both (more: two lines of one script).
MAX_SHARED_MEDIA = 0.2
# The cosine of the two groups' profiles (the other groups their media recite, each
# weighed by its rarity) from which they stand in one script.
MIN_SAME_SCRIPT = 0.5
# Fewer media than this say too little of their script to tell.
MIN_PROFILE_MEDIA = 3


def merge_parallel_groups(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    floor: float,
    k: int = 5,
    voices: Mapping[str, str] | None = None,
    only: Collection[int] | None = None,
    link: float | None = None,
) -> list[list[int]]:
    """Groups of one line recited in two languages (or two wordings), merged by their script.

    A translation's cosine is often below the link threshold for a small multilingual
    model (e5-small: 10 % of Tatoeba translation pairs), so a line's English and German
    recitals can form two groups that no candidate link joins. Their script tells them
    apart from two different lines: the two groups' media recite the same other lines
    (profiles over the other groups, cosine >= MIN_SAME_SCRIPT) yet say this one
    in different media (<= MAX_SHARED_MEDIA of the smaller group say both), while two
    lines of one script are said by the same media. Among such pairs, two groups merge
    when each is the other's closest by centroid and that cosine is above ``floor`` (the
    model's mismatch threshold: below it two texts are unrelated). The other lines are
    often split by language the same way, so in the profiles each such pair of closest
    groups counts as one line (benchmarks/quality.py: pair F1 0.878 -> 0.891 and
    0.839 -> 0.869 on seeds 7 and 11), but only where the pair is as close as ``link`` (the
    model's link threshold; None: ``floor``): two campaigns each in its own language, their
    lines pairing up loosely (seed 13: an English and an Arabic script at 0.22-0.31), made
    each other's profiles agree, every loose pair vouching for the others, and merged line
    by line. A line whose translation is loose still merges where its script's other lines
    are plainly alike.

    Rounds repeat until none merges: a group merges once per round, so when a line's
    Arabic recitals were in two groups, the two merged and the line's English group, whose
    closest they were, waited for a round that never came (seed 3: 0.911 -> 0.919). The
    floor is judged without the languages' directions (see _language_centred): otherwise a
    later round lets a group that only shares the line's language join the line.

    ``only``: the groups that may merge (with any group), and what they become; the others'
    pairs are left as they are (a second pass for new groups must not redo the first one's
    decisions).
    """
    eligible = None if only is None else {i for g in only for i in groups[g]}
    current = [list(g) for g in groups]
    while True:
        may = None if eligible is None else [g for g, m in enumerate(current) if eligible.intersection(m)]
        merged = _merge_parallel_round(current, units, vectors, floor, k, voices, may, link)
        if len(merged) == len(current):
            return merged
        current = merged


def _merge_parallel_round(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    floor: float,
    k: int,
    voices: Mapping[str, str] | None,
    only: Collection[int] | None,
    link: float | None,
) -> list[list[int]]:
    """One round of merge_parallel_groups: pairs of groups each the other's closest."""
    from scipy.sparse import csr_matrix

    count = len(groups)
    if count < 2:
        return [list(g) for g in groups]
    incidence, media_ids = _media_incidence(groups, units, voices)
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    sums = np.stack([vectors[list(g)].astype(np.float64).sum(axis=0) for g in groups])
    centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    tongue = np.array([Counter(units[i].language for i in g).most_common(1)[0][0] for g in groups])
    # closest by what they say, not by the language they say it in (see _language_centred)
    centred = _language_centred(centroids, tongue)
    qa, qb = _candidate_groups(centred.astype(np.float32), centred, np.ones(count), -1.0, k + 1)
    keep = qa != qb
    if only is not None:
        may = np.zeros(count, dtype=bool)
        may[list(only)] = True
        keep &= may[qa] | may[qb]
    qa, qb = qa[keep], qb[keep]
    cosine = np.einsum("ij,ij->i", centred[qa], centred[qb])
    keep = cosine >= floor
    qa, qb, cosine = qa[keep], qb[keep], cosine[keep]
    if len(qa) == 0:
        return [list(g) for g in groups]
    profiles = (incidence @ incidence.T).tocsr()  # groups x groups: shared media
    shared = np.asarray(profiles[qa, qb]).ravel()
    smaller = np.minimum(sizes[qa], sizes[qb])
    fits = (shared <= MAX_SHARED_MEDIA * smaller) & (smaller >= MIN_PROFILE_MEDIA)
    if not fits.any():
        return [list(g) for g in groups]
    # a group said everywhere (a greeting) tells nothing of a script: columns weigh by rarity
    rarity = np.log(max(1, len(media_ids)) / np.maximum(sizes, 1))
    pa, pb = qa[fits], qb[fits]
    # the other lines may be split by language too (the English reciters' other lines in
    # English groups, the French ones' in French groups): the pairs that could be one line
    # said in two languages (each the other's closest, each mostly in another language)
    # count as one column of a profile, where they are as close as a link (a loose pair
    # vouching for the others is how two scripts became one). Two groups in one language
    # are not collapsed: in a script of two or three lines one wrong pair would make two
    # scripts' profiles one
    apart = (tongue[pa] != tongue[pb]) & (cosine[fits] >= (floor if link is None else link))
    column = _mutual_best(count, pa[apart], pb[apart], cosine[fits][apart])
    columns = csr_matrix((rarity, (np.arange(count), column)), shape=(count, int(column.max()) + 1))
    weighted = (profiles @ columns).tocsr()
    rows_a, rows_b = weighted[pa], weighted[pb]
    ca, cb = column[pa], column[pb]

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.asarray(weighted[r, c]).ravel()

    # each profile without the two groups' own columns (a group's own column is its size)
    aa, ab, ba, bb = at(pa, ca), at(pa, cb), at(pb, ca), at(pb, cb)
    two = ca != cb
    dot = np.asarray(rows_a.multiply(rows_b).sum(axis=1)).ravel() - aa * ba - two * ab * bb
    norm_a = np.asarray(rows_a.multiply(rows_a).sum(axis=1)).ravel() - aa**2 - two * ab**2
    norm_b = np.asarray(rows_b.multiply(rows_b).sum(axis=1)).ravel() - ba**2 - two * bb**2
    lengths = np.sqrt(np.maximum(norm_a, 0) * np.maximum(norm_b, 0))
    same_script = np.zeros(len(qa))
    same_script[fits] = np.where(lengths > 0, dot / np.maximum(lengths, 1e-12), 0.0)
    ok = fits & (same_script >= MIN_SAME_SCRIPT)
    root = _mutual_best(count, qa[ok], qb[ok], cosine[ok])
    merged: dict[int, list[int]] = {}
    for g, members in enumerate(groups):
        merged.setdefault(int(root[g]), []).extend(members)
    return [sorted(m) for m in merged.values()]


# A language's mean over this many groups is trusted half (fewer: shrunk towards none).
LANGUAGE_MEAN_PRIOR = 10


def _language_centred(centroids: np.ndarray, tongue: np.ndarray) -> np.ndarray:
    """Group centroids less their language's mean centroid, re-normalised.

    A multilingual model keeps a direction per language: two unrelated groups in one
    language sit closer than a line's two groups in two languages, so "each the other's
    closest" paired a line's Russian recitals with a Russian fragment group rather than
    with the line's English recitals. The mean over a language's groups (each group once,
    so one line recited by many media does not weigh more than any other) estimates that
    direction in any language; with few groups it is shrunk towards nothing
    (LANGUAGE_MEAN_PRIOR). benchmarks/quality.py: pair F1 0.883 -> 0.895 (seed 5) and
    0.902 -> 0.911 (seed 3), seeds 7 and 11 unchanged; a prior from 0 to 30 gives the same.
    """
    out = centroids.astype(np.float64).copy()
    for language in set(tongue.tolist()):
        rows = tongue == language
        n = int(rows.sum())
        out[rows] -= centroids[rows].mean(axis=0) * n / (n + LANGUAGE_MEAN_PRIOR)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _mutual_best(count: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per node of ``count``: a label shared with the node it is joined to, when each of the
    two is the other's heaviest edge (a, b, weight) — labels 0..n-1 in order of first node."""
    best = np.full(count, -1, dtype=np.int64)
    best_weight = np.full(count, -np.inf)
    for x0, y0, w in zip(a.tolist(), b.tolist(), weight.tolist(), strict=True):
        for x, y in ((x0, y0), (y0, x0)):
            if w > best_weight[x]:
                best[x], best_weight[x] = y, w
    parent = list(range(count))
    find = _finder(parent)
    for x in range(count):
        y = int(best[x])
        if y > x and best[y] == x:
            parent[find(y)] = find(x)
    return unique(np.array([find(x) for x in range(count)], dtype=np.int64), return_inverse=True)[1]


def _script_contexts(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    incidence: Any,
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None,
) -> Callable[[int], np.ndarray]:
    """Per group: its script context, the groups whose media overlap its own by
    MIN_CO_RECITAL both ways (two media or more). A greeting or a sign-off frames the
    videos of every kind of speaker (``analyzer.units.framing``): saying it is no sign of
    reciting anything, so it is no one's context. ``edges``: ``analyzer.units.stream_edges``
    of ``units``, when the caller has them."""
    if edges is None:
        edges = stream_edges(units)
    framed = np.array([2 * framing([units[i] for i in g], edges) > 1 for g in groups], dtype=bool)
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    shared = (incidence @ incidence.T).tocsr()

    def context(g: int) -> np.ndarray:
        row = shared.getrow(g)
        h, c = row.indices, row.data
        near = (c >= 2) & (c >= MIN_CO_RECITAL * sizes[g]) & (c >= MIN_CO_RECITAL * sizes[h])
        return h[(h != g) & near & ~framed[h]]

    return context


# A group holds two lines when at least this share of its media (and two) say two of its
# members apart in time, one on each side of a split.
MIN_TWICE_SAID = 1 / 4


def split_glued_lines(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    depth: int = 2,
) -> list[list[int]]:
    """Groups that hold two lines of one script, cut in two.

    Two lines on one topic ("Coffee does not interest me." / "Let me buy you a coffee.")
    can sit close enough in meaning to form one group, and their reciters then hold two
    of its members each. A reciter says a line once, or repeats it word for word; so when
    several media each say two members apart in time (another unit of theirs between
    them: not a line cut in two, nor a line of two sentences) in different words (not
    ``analyzer.similarity.said_again``: a line said again), and the direction that tells
    those pairs apart (the top singular vector of their differences: each pair is said in
    one language, so it is the same direction in every language) puts the two on
    different sides for at least MIN_TWICE_SAID of the group's media, the sides are two
    groups (each of two media or more; each is tested again, ``depth`` times).
    benchmarks/quality.py seed 5 (held out while this was built): pair F1 0.786 -> 0.818.
    """
    streams: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for u in units:
        streams.setdefault((u.media_id, u.source, u.track), []).append((u.start_ms, u.end_ms))
    out: list[list[int]] = []
    for members in groups:
        out.extend(_split_glued(list(members), units, vectors, streams, depth))
    return out


def _split_glued(
    members: list[int],
    units: Sequence[Unit],
    vectors: np.ndarray,
    streams: dict[tuple[str, str, str], list[tuple[int, int]]],
    depth: int,
) -> list[list[int]]:
    by_stream: dict[tuple[str, str, str], list[int]] = {}
    for i in members:
        u = units[i]
        by_stream.setdefault((u.media_id, u.source, u.track), []).append(i)
    twice: list[tuple[int, int]] = []  # per medium, its least alike pair said apart
    for key, said in by_stream.items():
        if len(said) < 2:
            continue
        said.sort(key=lambda i: units[i].start_ms)
        best: tuple[float, int, int] | None = None
        for x, i in enumerate(said):
            for j in said[x + 1 :]:
                gap = (units[i].end_ms, units[j].start_ms)
                if not any(gap[0] <= a and b <= gap[1] for a, b in streams[key]):
                    continue  # nothing said between them: one line cut in two, or two sentences
                if said_again(units[i].text, units[j].text):
                    continue  # the line again, in nearly its words
                cosine = float(vectors[i] @ vectors[j])
                if best is None or cosine < best[0]:
                    best = (cosine, i, j)
        if best is not None:
            twice.append((best[1], best[2]))
    media = {units[i].media_id for i in members}
    if depth <= 0 or len(twice) < max(2, MIN_TWICE_SAID * len(media)):
        return [members]
    # the members split at the pairs' middle along the direction that tells them apart
    first = vectors[[i for i, _ in twice]].astype(np.float64)
    second = vectors[[j for _, j in twice]].astype(np.float64)
    direction = np.linalg.svd(first - second, full_matrices=False)[2][0]
    middle = float(((first + second) / 2 @ direction).mean())
    side = (vectors[members].astype(np.float64) @ direction > middle).astype(np.int64)
    where = dict(zip(members, side.tolist(), strict=True))
    apart = sum(where[i] != where[j] for i, j in twice)
    parts = [[i for i, k in zip(members, side.tolist(), strict=True) if k == s] for s in (0, 1)]
    if apart < max(2, MIN_TWICE_SAID * len(media)) or any(
        len({units[i].media_id for i in part}) < 2 for part in parts
    ):
        return [members]
    return [p for part in parts for p in _split_glued(part, units, vectors, streams, depth - 1)]


# Two lines travel together (one script) when at least this share of each one's media
# also say the other.
MIN_CO_RECITAL = 1 / 3


def drop_asides(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    threshold: float,
    voices: Mapping[str, str] | None = None,
) -> list[list[int]]:
    """Groups without the sentences their reciters add of their own near the line.

    Where most voices say a line once, a stream that holds two different members of a
    group holds the line and an aside on its subject ("So far there has been no news."
    said before "The chances are that he has not heard the news yet.", or a greeting
    glued to the line it opens): the member that agrees best with the other voices
    stays, the others leave unless they agree at least halfway from ``threshold`` to
    identical meaning (a line said twice). A line of two sentences, which most voices
    say in two members, keeps both (benchmarks/quality.py: pair precision +0.006 to
    +0.017 on seeds 5, 7 and 11). A group left with one voice is dropped.
    """
    bar = (1.0 + threshold) / 2
    out: list[list[int]] = []
    for members in groups:
        kept = _without_asides(members, units, vectors, bar, voices)
        if len(set(_voices([units[i] for i in kept], voices))) >= 2:
            out.append(kept)
    return out


def _without_asides(
    members: Sequence[int],
    units: Sequence[Unit],
    vectors: np.ndarray,
    bar: float,
    voices: Mapping[str, str] | None,
) -> list[int]:
    """``members`` without the asides (see ``drop_asides``)."""
    if len(members) < 3:
        return list(members)
    idx = np.asarray(members, dtype=np.int64)
    block = vectors[idx].astype(np.float64)
    media = np.array(_voices([units[i] for i in members], voices))
    names, inverse = np.unique(media, return_inverse=True)
    if len(names) < 3 or np.sum(np.bincount(inverse) == 1) * 2 <= len(names):
        return list(members)
    own = _group_sums(inverse, block, len(names))[inverse]
    others = len(idx) - np.bincount(inverse)[inverse]
    agree = np.einsum("ij,ij->i", block, block.sum(axis=0) - own) / np.maximum(others, 1)
    streams: dict[tuple[str, str, str], list[int]] = {}
    for k, i in enumerate(members):
        u = units[i]
        streams.setdefault((u.media_id, u.source, u.track), []).append(k)
    aside: set[int] = set()
    for said in streams.values():
        if len(said) >= 2:
            best = max(said, key=lambda k: agree[k])
            aside.update(k for k in said if k != best and agree[k] < bar)
    return [i for k, i in enumerate(members) if k not in aside]


def _two_say_it_alike(
    members: Sequence[int],
    units: Sequence[Unit],
    vectors: np.ndarray,
    bar: float,
    voices: Mapping[str, str] | None,
) -> bool:
    """Whether a group of two voices says one thing: a member of each agree at least
    ``bar``, or share their wording (``analyzer.similarity.said_again``)."""
    voice = _voices([units[i] for i in members], voices)
    first = [i for i, v in zip(members, voice, strict=True) if v == voice[0]]
    second = [i for i, v in zip(members, voice, strict=True) if v != voice[0]]
    if float((vectors[first] @ vectors[second].T).max()) >= bar:
        return True
    return any(said_again(units[i].text, units[j].text) for i in first for j in second)


# Two lines of two scripts fall into one group when their media recite two scripts that share
# no reciter: at least this many media on each side.
MIN_SCRIPT_SIDE = 3


def split_by_script(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    voices: Mapping[str, str] | None = None,
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
) -> list[list[int]]:
    """Groups that hold one line of each of two scripts, cut in two.

    Two campaigns' lines on one subject ("Tom has a brother named John." / "I don't
    consider Tom a friend.") can sit close enough in meaning to form one group, though no
    reciter says both. The group's script context (the groups whose media overlap its own
    by MIN_CO_RECITAL both ways, as in ``drop_coincidences``) then falls into two sets of
    lines with no reciter in common (context groups join when they share half their media
    within this group). When two such sets each hold MIN_SCRIPT_SIDE of the group's media
    and the members of one set's media are less alike to the other's (cosine of their
    centroids) than to their own (mean cosine to their own centroid), the group is two
    lines: each member goes with its medium's set, one of neither with the closer centroid.
    A line two campaigns share is as alike across the sets as within them, and stays whole.
    """
    count = len(groups)
    if count < 3:
        return [list(g) for g in groups]
    incidence, media_ids = _media_incidence(groups, units, voices)
    context_of = _script_contexts(groups, units, incidence, edges)
    voice = _voices(units, voices)
    out: list[list[int]] = []
    for g, members in enumerate(groups):
        context = context_of(g)
        if len(context) < 2:
            out.append(list(members))
            continue
        mine = incidence.getrow(g).indices
        within = [
            frozenset(np.intersect1d(incidence.getrow(k).indices, mine).tolist()) for k in context.tolist()
        ]
        parent = list(range(len(within)))
        find = _finder(parent)
        for x in range(len(within)):
            for y in range(x + 1, len(within)):
                both = len(within[x] & within[y])
                if both and both >= 0.5 * min(len(within[x]), len(within[y])):
                    parent[find(y)] = find(x)
        sides: dict[int, set[int]] = {}
        for x, media in enumerate(within):
            sides.setdefault(find(x), set()).update(media)
        big = sorted((s for s in sides.values() if len(s) >= MIN_SCRIPT_SIDE), key=len, reverse=True)
        if len(big) < 2 or big[0] & big[1]:
            out.append(list(members))
            continue
        side_of = {m: k for k, s in enumerate(big[:2]) for m in s}
        where = np.array([side_of.get(media_ids[voice[i]], -1) for i in members])
        block = vectors[list(members)].astype(np.float64)
        centres = [block[where == k].sum(axis=0) for k in (0, 1)]
        centres = [c / max(float(np.linalg.norm(c)), 1e-12) for c in centres]
        alike = min(float((block[where == k] @ centres[k]).mean()) for k in (0, 1))
        if float(centres[0] @ centres[1]) >= alike:
            out.append(list(members))  # one line both scripts say
            continue
        rest = where < 0
        where[rest] = np.argmax(block[rest] @ np.stack(centres).T, axis=1)
        for k in (0, 1):
            part = [i for i, w in zip(members, where.tolist(), strict=True) if w == k]
            if len({voice[i] for i in part}) >= 2:
                out.append(part)
    return out


def drop_coincidences(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    threshold: float,
    voices: Mapping[str, str] | None = None,
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
) -> list[list[int]]:
    """Groups without the members that only resemble their line, judged by its script.

    A scripted line travels with the other lines of its script: most of its reciters say
    some of them too (the groups whose media overlap its own by MIN_CO_RECITAL both ways:
    its context). An independent speaker whose sentence happens to sit near the line in
    meaning says none of them. So in a group with a context, a member whose medium says
    nothing of it leaves, unless it agrees closely with the group's other media that say
    the line in its language (at least halfway from ``threshold`` to identical meaning, as
    ``loosely_placed`` holds; translations sit further off): a lone reciter of the line
    word for word stays, a same-topic sentence goes. A group without a context (a
    one-line campaign, a greeting) is left as it is, but for one of just two voices
    (re-uploads collapsed) that nowhere agree halfway nor share their wording
    (``analyzer.similarity.said_again``): two people who said something alike on one
    subject, nothing anyone recites (benchmarks/quality.py: 67 such groups on seed 7, 4
    true ones, which agree 0.77 or more; pair F1 +0.006 on seeds 5, 7 and 11). A group
    left with fewer than two media is dropped.
    """
    count = len(groups)
    if count < 2:
        return [list(g) for g in groups]
    incidence, media_ids = _media_incidence(groups, units, voices)
    context_of = _script_contexts(groups, units, incidence, edges)
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    by_media = incidence.T.tocsr()  # media x groups
    bar = (1.0 + threshold) / 2
    out: list[list[int]] = []
    for g, members in enumerate(groups):
        context = context_of(g)
        if len(context) == 0:
            if sizes[g] != 2 or _two_say_it_alike(members, units, vectors, bar, voices):
                out.append(list(members))
            continue
        in_context = np.zeros(count, dtype=bool)
        in_context[context] = True
        idx = np.asarray(members, dtype=np.int64)
        media = _voices([units[i] for i in members], voices)
        block = vectors[idx].astype(np.float64)
        names, inverse = np.unique(np.array(media), return_inverse=True)
        # agreement with the other media that say the line in the member's language
        tongue = np.unique(np.array([units[i].language for i in members]), return_inverse=True)[1]
        pair = tongue * len(names) + inverse
        own = _group_sums(pair, block, int(pair.max()) + 1)[pair]
        same = _group_sums(tongue, block, int(tongue.max()) + 1)[tongue]
        others = np.bincount(tongue)[tongue] - np.bincount(pair)[pair]
        agree = np.einsum("ij,ij->i", block, same - own) / np.maximum(others, 1)
        supported = {
            name for name in names.tolist() if in_context[by_media.getrow(media_ids[name]).indices].any()
        }
        # a translation's cosine runs lower: only a member with two other media saying the
        # line in its own language is judged (a lone Spanish recital in an English group stays)
        tongues = Counter((units[i].language, media[k]) for k, i in enumerate(members))
        peers = Counter(language for language, _ in tongues)
        keep = [
            i
            for k, i in enumerate(members)
            if media[k] in supported or agree[k] >= bar or peers[units[i].language] - 1 < 2
        ]
        if len(set(_voices([units[i] for i in keep], voices))) >= 2:
            out.append(keep)
    return out


def said_alike(
    before: Sequence[Sequence[int]],
    after: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    threshold: float,
    voices: Mapping[str, str] | None = None,
) -> list[list[int]]:
    """The members that left each group of ``before`` (in no group of ``after``: ``drop_
    coincidences``) and agree with another voice among them at least halfway from
    ``threshold`` to identical meaning, as groups of their own where two or more voices
    say it. Not coincidences, then, but another line that sat near this one: the
    reciters of another campaign's "Let's go early, shall we?" grouped with "We are
    leaving early tomorrow." and left it together (benchmarks/quality.py). ``merge_
    parallel_groups`` (``only`` these) then finds their recitals in other languages.
    """
    bar = (1.0 + threshold) / 2
    staying = {i for g in after for i in g}
    out: list[list[int]] = []
    for group in before:
        left = [i for i in group if i not in staying]
        if len(left) < 2:
            continue
        idx = np.asarray(left, dtype=np.int64)
        block = vectors[idx].astype(np.float64)
        media = np.array(_voices([units[i] for i in left], voices))
        close = (block @ block.T >= bar) & (media[:, None] != media[None, :])
        alike = close.any(axis=1)
        if len(set(media[alike].tolist())) >= 2:
            out.append(sorted(idx[alike].tolist()))
    return out


def refine_groups(
    groups: Sequence[Sequence[int]],
    every: Sequence[Unit],
    every_vector: np.ndarray,
    count: int,
    free: Sequence[bool],
    threshold: float,
    mismatch: float,
    voices: Mapping[str, str] | None = None,
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
) -> list[list[int]]:
    """The stages after ``attach_alternatives``, in the order a scan runs them.

    ``every``: the sentence units (the first ``count``), then their other cuts
    (``free``: per cut, whether it may enter a group alone, see ``attach_alternatives``);
    ``groups`` index it. Two lines of one script close in meaning are told apart by the
    reciters who say both (``split_glued_lines``), two campaigns' lines on one subject by
    the scripts their media recite (``split_by_script``); the cuts that found no place in a
    group of two lines then try its halves; a line's recitals in two languages that no
    link joined merge by their script (``merge_parallel_groups``); a reciter's own
    sentence next to the line leaves (``drop_asides``), and so do members that only
    resemble a line whose script their medium does not recite (``drop_coincidences``);
    those who left together saying one thing are a line of their own (``said_alike``),
    merged with its recitals in another language where they are found.
    ``threshold``, ``mismatch``: the model's link and mismatch thresholds;
    ``voices``: re-upload -> original; ``edges``: ``analyzer.units.stream_edges(every)``.
    """
    if edges is None:
        edges = stream_edges(every)
    units, vectors = every[:count], every_vector[:count]
    cuts, cut_vectors = every[count:], every_vector[count:]
    groups = split_glued_lines(groups, every, every_vector)
    groups = split_by_script(groups, every, every_vector, voices, edges)
    groups = attach_alternatives(groups, units, vectors, cuts, cut_vectors, threshold, free, voices)
    groups = merge_parallel_groups(groups, every, every_vector, mismatch, voices=voices, link=threshold)
    groups = drop_asides(groups, every, every_vector, threshold, voices)
    kept = drop_coincidences(groups, every, every_vector, threshold, voices, edges)
    alike = said_alike(groups, kept, every, every_vector, threshold, voices)
    only = range(len(kept), len(kept) + len(alike))
    return merge_parallel_groups(
        [*kept, *alike], every, every_vector, mismatch, voices=voices, only=only, link=threshold
    )
