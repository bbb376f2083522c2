"""Candidate pairs of units from different media: lexical (character shingles) and semantic.

Lexical links catch verbatim and near-verbatim copies in any script (character n-grams
need no word boundaries); semantic links (cosine of multilingual embeddings) catch
paraphrases and translations. Only pairs across different media are ever candidates:
a speaker repeating themself is not a script.

Two ways to find them, with one meaning. Up to ``SearchOptions.exact_max_units`` units
the search is exact (an inverted index of shingles; blockwise matrix products), which is
what small corpora and the tests get. Past that, exact search grows with the square of
the corpus, so:

- identical texts (and identical vectors) are collapsed first: a line read out verbatim
  by 5,000 channels costs one search, and its copies are linked to one representative
  instead of to each other (a star, not 12.5 million pairs);
- semantic neighbours come from an inverted-file index (IVF) built here with numpy:
  spherical k-means cells, each vector searched in the cells of its ``probes`` nearest
  centroids with one matrix product per cell. On a 2-core CPU this measured faster than
  usearch's HNSW and faiss's IVF scan at the same recall (benchmarks/scale.py
  --compare-ann), because a product of two blocks runs in BLAS;
- lexical neighbours come from MinHash LSH (vectorised numpy MinHash of 3-gram shingle
  hashes, bands of ``lsh_rows`` rows), checked with exact Jaccard before they count.

Both keep each unit's ``k`` best partners, as the exact search does, so the pair count
grows with the corpus, not with its square. benchmarks/scale.py measures recall against
exact search.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

SHINGLE = 3
# A shingle shared by more units than this is boilerplate ("the", "我们") and carries no
# evidence; skipping it keeps the inverted index from going quadratic.
MAX_POSTING = 2000

Tick = Callable[[int, int], None]


@dataclass(frozen=True)
class Pair:
    """Two units from different media that may say the same thing."""

    a: int
    b: int
    cosine: float
    jaccard: float


class PairTable(Sequence[Pair]):
    """Candidate pairs as columns (a < b): millions of pairs without millions of objects.

    Reads like a ``Sequence[Pair]`` (``len``, indexing, iteration), so callers that want
    records still get them; the corpus stages use the arrays.
    """

    __slots__ = ("a", "b", "cosine", "jaccard")

    def __init__(self, a: np.ndarray, b: np.ndarray, cosine: np.ndarray, jaccard: np.ndarray) -> None:
        self.a = np.asarray(a, dtype=np.int64)
        self.b = np.asarray(b, dtype=np.int64)
        self.cosine = np.asarray(cosine, dtype=np.float32)
        self.jaccard = np.asarray(jaccard, dtype=np.float64)

    @classmethod
    def of(cls, pairs: Sequence[Pair]) -> PairTable:
        """The table of any sequence of pairs (a table is returned as it is)."""
        if isinstance(pairs, PairTable):
            return pairs
        return cls(
            np.array([p.a for p in pairs], dtype=np.int64),
            np.array([p.b for p in pairs], dtype=np.int64),
            np.array([p.cosine for p in pairs], dtype=np.float32),
            np.array([p.jaccard for p in pairs], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.a)

    @overload
    def __getitem__(self, index: int) -> Pair: ...

    @overload
    def __getitem__(self, index: slice) -> list[Pair]: ...

    def __getitem__(self, index: int | slice) -> Pair | list[Pair]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Pair(
            int(self.a[index]), int(self.b[index]), float(self.cosine[index]), float(self.jaccard[index])
        )

    def __iter__(self) -> Iterator[Pair]:
        for i in range(len(self)):
            yield self[i]

    def strength(self) -> np.ndarray:
        """The stronger of the two similarities, per pair."""
        return np.maximum(self.cosine, self.jaccard)


@dataclass(frozen=True)
class SearchOptions:
    """When the search turns approximate, and how approximate it may be."""

    # Exact search up to this many units: results identical to the exact method; above,
    # the approximate search (recall measured by benchmarks/scale.py).
    exact_max_units: int = 5000
    probes: int = 4  # IVF cells searched per vector
    list_size: int = 0  # vectors per IVF cell; 0: sqrt(n / probes), which balances the two products
    kmeans_iterations: int = 4
    # MinHash LSH: a Jaccard-0.5 pair shares one of 50 bands of 3 rows with p = 0.999 and
    # two with p = 0.99 (what finds it among thousands of look-alikes, see lsh_candidates)
    lsh_bands: int = 50
    lsh_rows: int = 3
    lsh_window: int = 24  # partners per member of a crowded LSH bucket (sorted by signature)
    seed: int = 0


class _Blanks(dict[int, str]):
    """str.translate table: punctuation, symbols, separators and controls become spaces.

    Filled lazily, one Unicode category lookup per distinct character ever seen, so
    normalising a million sentences is a C loop, not a Python one per character.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        value = " " if unicodedata.category(ch)[0] in "PSZC" else ch
        self[code] = value
        return value


_BLANKS = _Blanks()


def normalise_text(text: str) -> str:
    """Case-folded text without punctuation or symbols, single spaces (for verbatim tests)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(_BLANKS).split())


def shingles(text: str, n: int = SHINGLE) -> frozenset[str]:
    norm = normalise_text(text)
    if len(norm) <= n:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# Two things one medium said that share this much of their wording (character shingles)
# are one thing said twice: a filler, or a line repeated; less, they are two sentences.
REPEAT_JACCARD = 0.5


def said_again(a: str, b: str) -> bool:
    """Whether ``b`` says ``a`` again, in nearly its words (see REPEAT_JACCARD)."""
    return jaccard(shingles(a), shingles(b)) >= REPEAT_JACCARD


def unique(
    values: np.ndarray, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False
) -> Any:
    """``np.unique`` by sorting: numpy 2.4's hash-based ``np.unique`` is ~20x slower on millions of ints."""
    if not (return_index or return_inverse or return_counts):
        ordered = np.sort(values)
        return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.concatenate([[True], ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, bool)
    out: list[np.ndarray] = [ordered[first]]
    if return_index:
        out.append(order[first])  # the first occurrence: the sort is stable
    if return_inverse:
        inverse = np.empty(len(values), dtype=np.int64)
        inverse[order] = np.cumsum(first) - 1
        out.append(inverse)
    if return_counts:
        heads = np.flatnonzero(first)
        out.append(np.diff(np.append(heads, len(ordered))))
    return tuple(out)


# ---- exact search (small corpora) ----------------------------------------------------------


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
    a, b, s = _exact_neighbours(np.asarray(vectors, dtype=np.float32), group_ids, k, threshold, block)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    for i, j, score in zip(lo.tolist(), hi.tolist(), s.tolist(), strict=True):
        key = (i, j)
        if score > found.get(key, -2.0):
            found[key] = score
    return found


def _exact_neighbours(
    vectors: np.ndarray, group_ids: np.ndarray, k: int, threshold: float, block: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed (i, j, cosine): j among i's ``k`` nearest of another group, cosine >= threshold."""
    n = len(vectors)
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    take = min(k, n - 1)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        sims = vectors[rows] @ vectors.T
        sims[group_ids[rows][:, None] == group_ids[None, :]] = -1.0
        if take < n:
            top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        else:
            top = np.broadcast_to(np.arange(n), (len(rows), n))
        scores = np.take_along_axis(sims, top, axis=1)
        keep = scores >= threshold
        out.append((np.repeat(rows, keep.sum(axis=1)), top[keep], scores[keep]))
    return _concat3(out)


def _concat3(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64),
        np.concatenate([p[1] for p in parts]).astype(np.int64),
        np.concatenate([p[2] for p in parts]).astype(np.float32),
    )


# ---- identical items collapse into classes ----------------------------------------------------


@dataclass(frozen=True)
class IdenticalClasses:
    """Units that are identical (same normalised text, or same vector), as classes.

    ``group`` is a class's medium when all its units share one, else -1 (mixed): two
    classes of one and the same medium are never partners.
    """

    of: np.ndarray  # class of each unit
    rep: np.ndarray  # first unit of each class
    alt: np.ndarray  # first unit of each class from another medium than rep, or -1
    group: np.ndarray  # the class's one medium, or -1

    @classmethod
    def build(cls, inverse: np.ndarray, group_ids: np.ndarray) -> IdenticalClasses:
        count = int(inverse.max()) + 1 if len(inverse) else 0
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(count))
        rep = order[starts]
        rep_group = group_ids[rep]
        other = group_ids[order] != rep_group[inverse[order]]
        alt = np.full(count, -1, dtype=np.int64)
        # first "other" unit per class: scan in reverse so the first one is written last
        cls_of_other = inverse[order][other][::-1]
        alt[cls_of_other] = order[other][::-1]
        group = np.where(alt < 0, rep_group, -1)
        return cls(inverse.astype(np.int64), rep.astype(np.int64), alt, group.astype(np.int64))

    def within(self, group_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Star links inside each class: every unit to rep (or to alt when it shares rep's medium)."""
        units = np.arange(len(self.of))
        rep = self.rep[self.of]
        alt = self.alt[self.of]
        partner = np.where(group_ids != group_ids[rep], rep, alt)
        keep = (units != rep) & (partner >= 0) & (partner != units)
        return units[keep], partner[keep]

    def between(self, ca: np.ndarray, cb: np.ndarray, group_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One unit pair from different media for each class pair (dropped when none exists)."""
        ra, rb = self.rep[ca], self.rep[cb]
        aa, ab = self.alt[ca], self.alt[cb]
        ga, gb = group_ids[ra], group_ids[rb]
        x = np.where(ga != gb, ra, np.where(ab >= 0, ra, aa))
        y = np.where(ga != gb, rb, np.where(ab >= 0, ab, rb))
        ok = (x >= 0) & (y >= 0)
        ok[ok] = group_ids[x[ok]] != group_ids[y[ok]]
        return x[ok], y[ok]


# ---- shingle sets as arrays, MinHash, exact Jaccard --------------------------------------------


def _shingle_keys(norms: Sequence[str], lengths: np.ndarray, first: int) -> np.ndarray:
    """Sorted distinct (text << 32 | shingle hash) for texts numbered from ``first``."""
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.uint64)
    joined = "\x00".join(norms) + "\x00\x00\x00"
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    # every position whose 3-gram lies inside its text, plus one padded key for short texts
    text_of = np.repeat(np.arange(len(norms)), lengths + 1)
    offset = np.arange(len(text_of)) - starts[text_of]
    length = lengths[text_of]
    full = offset + SHINGLE <= length
    short = (offset == 0) & (length > 0) & (length < SHINGLE)
    p = np.flatnonzero(full | short)
    c0, c1, c2 = cp[p], cp[p + 1], cp[p + 2]
    is_short = short[p]
    # a short text's key is its code points padded with zeros (NUL never occurs in text)
    c1 = np.where(is_short & (length[p] < 2), 0, c1)
    c2 = np.where(is_short, 0, c2)
    packed = (c0 << np.uint64(42)) | (c1 << np.uint64(21)) | c2
    hashed = (packed * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    return unique(((text_of[p] + first).astype(np.uint64) << np.uint64(32)) | hashed)


class ShingleSets:
    """Each text's set of character 3-gram shingles, as sorted 32-bit hashes in CSR form.

    Built with numpy over the texts' code points, 50,000 texts at a time (a 3-gram is
    three code points packed into 63 bits, then hashed to 32), so a million sentences
    cost seconds, not the minutes that a Python set per sentence would.
    """

    def __init__(self, texts: Sequence[str], normalised: bool = False) -> None:
        self._matrix: Any = None
        norms = list(texts) if normalised else [normalise_text(t) for t in texts]
        self.n = len(norms)
        lengths = np.fromiter((len(t) for t in norms), dtype=np.int64, count=len(norms))
        if lengths.sum() == 0:
            self.indptr = np.zeros(self.n + 1, dtype=np.int64)
            self.keys = np.zeros(0, dtype=np.uint32)
            return
        parts = []
        for lo in range(0, self.n, 50_000):  # chunks bound the int64 temporaries (memory)
            parts.append(_shingle_keys(norms[lo : lo + 50_000], lengths[lo : lo + 50_000], lo))
        combined = np.concatenate(parts)  # sorted: texts are the high bits, chunks in order
        owner = (combined >> np.uint64(32)).astype(np.int64)
        self.keys = (combined & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=self.n))]).astype(np.int64)

    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)

    def minhash(self, count: int, seed: int) -> np.ndarray:
        """(n, count) uint32 MinHash signatures; an empty set gets all-max (matches nothing).

        Hash i of a shingle is (a_i * x + b_i) >> 32 in 64-bit arithmetic (multiply-add-shift,
        universal for 32-bit keys); texts are taken a few million shingles at a time so the
        temporaries stay small whatever the corpus.
        """
        rng = np.random.default_rng(seed)
        mult = rng.integers(1, 2**63, size=count, dtype=np.uint64) | np.uint64(1)
        add = rng.integers(0, 2**63, size=count, dtype=np.uint64)
        sig = np.full((self.n, count), np.iinfo(np.uint32).max, dtype=np.uint32)
        sizes = self.sizes()
        budget = 8_000_000  # elements in one (shingles x hashes) temporary
        first = 0
        while first < self.n:
            last = int(np.searchsorted(self.indptr, self.indptr[first] + budget, side="right")) - 1
            last = min(self.n, max(first + 1, last))
            texts = first + np.flatnonzero(sizes[first:last] > 0)
            if len(texts):
                keys = self.keys[self.indptr[first] : self.indptr[last]].astype(np.uint64)
                heads = self.indptr[texts] - self.indptr[first]
                step = max(1, budget // max(1, len(keys)))
                for lo in range(0, count, step):
                    hi = min(count, lo + step)
                    hashed = (keys[:, None] * mult[None, lo:hi] + add[None, lo:hi]) >> np.uint64(32)
                    sig[texts, lo:hi] = np.minimum.reduceat(hashed, heads, axis=0)
            first = last
        return sig

    def matrix(self) -> Any:
        """The sets as a sparse 0/1 matrix (texts x distinct shingles), built once."""
        if self._matrix is None:
            from scipy.sparse import csr_matrix

            vocab, column = unique(self.keys, return_inverse=True)
            self._matrix = csr_matrix(
                (np.ones(len(column), dtype=np.float32), column.astype(np.int32), self.indptr),
                shape=(self.n, max(1, len(vocab))),
            )
        return self._matrix

    def intersections(self, a: np.ndarray, b: np.ndarray, chunk: int = 200_000) -> np.ndarray:
        """|S_a & S_b| for each pair, exactly (a sparse row-wise product)."""
        matrix = self.matrix()
        out = np.zeros(len(a), dtype=np.float32)
        for lo in range(0, len(a), chunk):
            hi = min(len(a), lo + chunk)
            both = matrix[a[lo:hi]].multiply(matrix[b[lo:hi]])
            out[lo:hi] = np.asarray(both.sum(axis=1)).ravel()
        return out

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Exact Jaccard of each pair's shingle sets (0 when either is empty)."""
        if len(a) == 0:
            return np.zeros(0, dtype=np.float32)
        shared = self.intersections(a, b)
        sizes = self.sizes().astype(np.float32)
        union = sizes[a] + sizes[b] - shared
        return np.where(union > 0, shared / np.maximum(union, 1), 0.0).astype(np.float32)


def max_jaccard_other_media(sets: Sequence[frozenset[str]], groups: Sequence[str]) -> np.ndarray:
    """For each set, its highest Jaccard with a set of another group (0.0 if none).

    What scoring asks of every member of a talking point ("is it a verbatim copy of
    someone else's?"), for all members at once and exactly (the shingle strings, not
    their hashes). Identical sets are compared once: a greeting said by 3,000 channels
    is one row, so the cost is the square of the distinct texts, in sparse products, not
    of the members in Python set operations. A set held by one group only is remembered
    with that group; each row keeps its best match and its best match outside the first
    one's group, which is enough to exclude any member's own group.
    """
    from scipy.sparse import csr_matrix

    m = len(sets)
    best = np.zeros(m, dtype=np.float64)
    if m < 2:
        return best
    distinct: dict[frozenset[str], int] = {}
    set_of = np.array([distinct.setdefault(s, len(distinct)) for s in sets], dtype=np.int64)
    group_of = np.unique(np.asarray(groups), return_inverse=True)[1].ravel().astype(np.int64)
    d = len(distinct)
    # owner[u]: the only group holding distinct set u, or -1 when two or more groups hold it
    pairs = unique(set_of * m + group_of)
    holders = np.bincount(pairs // m, minlength=d)
    owner = np.full(d, -1, dtype=np.int64)
    single = holders == 1
    owner[pairs[single[pairs // m]] // m] = pairs[single[pairs // m]] % m
    vocab: dict[str, int] = {}
    columns = [vocab.setdefault(g, len(vocab)) for s in distinct for g in s]
    sizes = np.array([len(s) for s in distinct], dtype=np.float64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    matrix = csr_matrix(
        (np.ones(len(columns)), np.array(columns, dtype=np.int64), indptr), shape=(d, max(1, len(vocab)))
    )
    transposed = matrix.T.tocsr()
    shared_cols = owner < 0
    shared_best = np.zeros(d)
    top_value, top_owner, second = np.zeros(d), np.full(d, -1, dtype=np.int64), np.zeros(d)
    rows_per_block = max(1, min(d, 2_000_000 // d))  # a block of at most ~16 MB per temporary
    for lo in range(0, d, rows_per_block):
        rows = np.arange(lo, min(d, lo + rows_per_block))
        inter = (matrix[rows] @ transposed).toarray()
        union = sizes[rows][:, None] + sizes[None, :] - inter
        score = np.where((sizes[rows][:, None] > 0) & (sizes[None, :] > 0), inter / np.maximum(union, 1), 0.0)
        shared_best[rows] = np.max(np.where(shared_cols[None, :], score, 0.0), axis=1)
        score[:, shared_cols] = 0.0
        top = np.argmax(score, axis=1)
        top_value[rows] = score[np.arange(len(rows)), top]
        top_owner[rows] = owner[top]
        score[owner[None, :] == top_owner[rows][:, None]] = 0.0
        second[rows] = score.max(axis=1)
    # a single-owner best from the member's own group does not count: take the second then
    own = top_owner[set_of] == group_of
    best = np.maximum(shared_best[set_of], np.where(own, second[set_of], top_value[set_of]))
    return best


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one hash per band of ``rows`` signature values (equal band, equal key)."""
    n, width = signatures.shape
    count = min(bands, width // rows)
    keys = np.zeros((n, count), dtype=np.uint64)
    for band in range(count):
        cols = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        for c in range(rows):
            key = key * np.uint64(0x100000001B3) + cols[:, c] + np.uint64(c + 1)
        keys[:, band] = key
    return keys


def lsh_candidates(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    window: int,
    blocked: np.ndarray | None = None,
    depth: int = 3,
    plausible: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) that share a whole band of their MinHash signatures.

    A bucket is sorted by the keys of the next ``depth`` bands and each member is paired
    with the next ``window`` members, so a bucket of a few members gives all its pairs and a
    crowded one gives each member its most alike neighbours instead of every pair.

    That sort misses pairs in crowds: at a million units, thousands of unrelated sentences
    made of common words share a band, and two of them at Jaccard 0.5 share about six of
    the bands, rarely one of the next ``depth``, so they sit far apart in every bucket (a
    wider window only finds them by luck, at a cost that grows with the crowd). A second
    pass therefore sorts, for each two bands, the members crowded in both by the two keys
    and pairs them as above: a pair sharing two bands is then found unless more than
    ``window`` others share the same two, and a pair sharing a small bucket was found
    there already. Only members crowded in both bands take part, so the pass grows with
    the crowds, not the corpus. ``blocked[i] == blocked[j] >= 0`` drops a pair, and so
    does ``plausible(i, j)`` when False (checked as pairs are found, before the costly
    de-duplication of pairs that several bands find).
    """
    n = len(signatures)
    empty = np.all(signatures == np.iinfo(np.uint32).max, axis=1)
    keys = band_keys(signatures, bands, rows)
    count = keys.shape[1]
    found = _PairSet(n, blocked, plausible)
    crowded = np.zeros((count, n), dtype=bool)  # member of a bucket the window does not cover
    for band in range(count):
        key = keys[:, band]
        # within a bucket, members that also share the next bands sit side by side
        # (only members of buckets of two or more: most texts are alone in most buckets)
        order = np.argsort(key)
        skey = key[order]
        same = skey[1:] == skey[:-1]
        paired = np.zeros(n, dtype=bool)
        paired[1:] |= same
        paired[:-1] |= same
        order = np.sort(order[paired])  # index order within ties, as a full lexsort keeps it
        order = order[~empty[order]]
        later = [keys[order, (band + d) % count] for d in range(depth, 0, -1)]
        order = order[np.lexsort((*later, key[order]))]
        skey = key[order]
        found.add_neighbours(order, skey, window)
        crowded[band, order] = _run_lengths(skey) > window + 1
    # bands b and b + 1 were covered by the sort above; each other two once
    for band in range(count):
        for offset in range(2, count // 2 + 1):
            other = (band + offset) % count
            if 2 * offset == count and other < band:
                continue
            members = np.flatnonzero(crowded[band] & crowded[other])
            if len(members) < 2:
                continue
            # one key for the two (a collision only adds candidates, which are checked)
            both = keys[members, band] * np.uint64(0x9E3779B97F4A7C15) + keys[members, other]
            order = np.argsort(both)
            found.add_neighbours(members[order], both[order], window)
    return found.pairs()


def _run_lengths(sorted_keys: np.ndarray) -> np.ndarray:
    """For each position of a sorted array: how many entries hold its value."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    lengths = np.diff(np.append(starts, len(sorted_keys)))
    return np.repeat(lengths, lengths)


class _PairSet:
    """Candidate pairs (i < j) packed as i * n + j, filtered as they come, de-duplicated now and then."""

    def __init__(
        self,
        n: int,
        blocked: np.ndarray | None,
        plausible: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    ) -> None:
        self.n = n
        self.blocked = blocked
        self.plausible = plausible
        self.seen = np.zeros(0, dtype=np.uint64)
        self.pending: list[np.ndarray] = []
        self.waiting = 0

    def add_neighbours(self, order: np.ndarray, sorted_keys: np.ndarray, window: int) -> None:
        """Each member of ``order`` with the next ``window`` members holding the same key."""
        for step in range(1, window + 1):
            if step >= len(order):
                break
            same = sorted_keys[step:] == sorted_keys[:-step]
            if not same.any():
                break
            self.add(order[:-step][same], order[step:][same])

    def add(self, i: np.ndarray, j: np.ndarray) -> None:
        if self.blocked is not None:
            keep = (self.blocked[i] != self.blocked[j]) | (self.blocked[i] < 0)
            i, j = i[keep], j[keep]
        if self.plausible is not None:
            keep = self.plausible(i, j)
            i, j = i[keep], j[keep]
        self.pending.append(np.minimum(i, j).astype(np.uint64) * np.uint64(self.n) + np.maximum(i, j))
        self.waiting += len(i)
        if self.waiting > max(4_000_000, 2 * len(self.seen)):  # repeats across bands: dedupe now and then
            self.seen = unique(np.concatenate([self.seen, *self.pending]))
            self.pending, self.waiting = [], 0

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        packed = unique(np.concatenate([self.seen, *self.pending]))
        return (packed // np.uint64(self.n)).astype(np.int64), (packed % np.uint64(self.n)).astype(np.int64)


def _top_k(a: np.ndarray, b: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Mask of pairs that are among the ``k`` best of ``a`` or of ``b`` (both directions)."""
    keep = np.zeros(len(a), dtype=bool)
    for x in (a, b):
        order = np.lexsort((-score, x))
        sx = x[order]
        first = np.searchsorted(sx, sx, side="left")
        rank = np.arange(len(sx)) - first
        keep[order[rank < k]] = True
    return keep


# ---- approximate semantic search: an inverted-file index on numpy --------------------------------


def _kmeans(vectors: np.ndarray, cells: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means centroids from a sample (cells are where density is)."""
    from scipy.sparse import csr_matrix

    sample = vectors[rng.choice(len(vectors), min(len(vectors), 32 * cells), replace=False)]
    centroids = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(iterations):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        onehot = csr_matrix(
            (np.ones(len(nearest), dtype=np.float32), (nearest, np.arange(len(nearest)))),
            shape=(cells, len(sample)),
        )
        sums = np.asarray(onehot @ sample, dtype=np.float32)
        counts = np.bincount(nearest, minlength=cells)
        empty = counts == 0
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return centroids


def ivf_neighbours(
    vectors: np.ndarray,
    k: int,
    threshold: float,
    group_ids: np.ndarray | None = None,
    options: SearchOptions | None = None,
    tick: Tick | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed (i, j, cosine): j among the ``k`` nearest of i with cosine >= ``threshold``.

    Vectors of one group (``group_ids[i] == group_ids[j] >= 0``) are never neighbours.
    Each vector lives in the cell of its nearest centroid and is searched in the cells of
    its ``probes`` nearest; cost grows as n^1.5, memory as n.
    """
    options = options or SearchOptions()
    n = len(vectors)
    if n < 2:
        return _concat3([])
    # a vector with no group (-1) gets one of its own, so one comparison masks self and group
    own = -1 - np.arange(n, dtype=np.int64)
    group_ids = own if group_ids is None else np.where(group_ids >= 0, group_ids, own)
    rng = np.random.default_rng(options.seed)
    list_size = options.list_size or max(64, int(math.sqrt(n / max(1, options.probes))))
    cells = max(1, n // list_size)
    probes = min(options.probes, cells)
    if cells <= probes:  # small enough: every vector against every other
        cells, probes = 1, 1
        centroids = np.zeros((1, vectors.shape[1]), dtype=np.float32)
    else:
        centroids = _kmeans(vectors, cells, options.kmeans_iterations, rng)
    probe = np.empty((n, probes), dtype=np.int32)
    for lo in range(0, n, 8192):
        scores = vectors[lo : lo + 8192] @ centroids.T
        for p in range(probes):
            best = np.argmax(scores, axis=1)
            probe[lo : lo + 8192, p] = best
            scores[np.arange(len(best)), best] = -np.inf
    home = probe[:, 0]
    members_order = np.argsort(home, kind="stable")
    members_bounds = np.searchsorted(home[members_order], np.arange(cells + 1))
    flat = probe.ravel()
    query_order = np.argsort(flat, kind="stable")
    query_bounds = np.searchsorted(flat[query_order], np.arange(cells + 1))
    query_of = (query_order // probes).astype(np.int64)
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for cell in range(cells):
        members = members_order[members_bounds[cell] : members_bounds[cell + 1]]
        queries = query_of[query_bounds[cell] : query_bounds[cell + 1]]
        if len(members) and len(queries):
            rows = max(64, min(4096, 8_000_000 // len(members)))  # a block of at most ~32 MB
            for lo in range(0, len(queries), rows):
                q = queries[lo : lo + rows]
                out.append(_block_top_k(vectors, q, members, group_ids, k, threshold))
        if tick and (cell % 64 == 0 or cell == cells - 1):
            tick(cell + 1, cells)
    a, b, s = _concat3(out)
    keep = _top_k_directed(a, s, k)
    return a[keep], b[keep], s[keep]


def _block_top_k(
    vectors: np.ndarray,
    queries: np.ndarray,
    members: np.ndarray,
    group_ids: np.ndarray,
    k: int,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sims = vectors[queries] @ vectors[members].T
    hits = sims >= threshold
    hits &= group_ids[queries][:, None] != group_ids[members][None, :]  # also drops i == j
    counts = hits.sum(axis=1)
    crowded = np.flatnonzero(counts > k)
    if len(crowded):  # more than k partners pass: keep the k best (all of them pass too)
        ranked = np.where(hits[crowded], sims[crowded], -2.0)
        top = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
        best = np.zeros((len(crowded), hits.shape[1]), dtype=bool)
        np.put_along_axis(best, top, True, axis=1)
        hits[crowded] = best
    r, c = np.nonzero(hits)
    return queries[r], members[c], sims[r, c]


def _top_k_directed(a: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    order = np.lexsort((-score, a))
    sa = a[order]
    first = np.searchsorted(sa, sa, side="left")
    keep = np.zeros(len(a), dtype=bool)
    keep[order[(np.arange(len(sa)) - first) < k]] = True
    return keep


# ---- the candidate search ------------------------------------------------------------------------


def identical_rows(rows: np.ndarray) -> np.ndarray:
    """Class ids (by first occurrence) of identical rows, from a 64-bit hash of their bytes."""
    if rows.shape[1] % 2:
        rows = np.concatenate([rows, np.zeros((len(rows), 1), dtype=rows.dtype)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64)
    rng = np.random.default_rng(12345)
    mult = np.bitwise_or(rng.integers(1, 2**63, size=words.shape[1], dtype=np.uint64), np.uint64(1))
    digest = np.zeros(len(rows), dtype=np.uint64)
    for c in range(words.shape[1]):
        digest = (digest ^ (words[:, c] * mult[c])) * np.uint64(0x9E3779B97F4A7C15)
    _, first, inverse = unique(digest, return_index=True, return_inverse=True)
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[np.argsort(first, kind="stable")] = np.arange(len(first))
    return renumber[inverse.ravel()]


def approximate_semantic_pairs(
    vectors: np.ndarray,
    group_ids: np.ndarray,
    k: int,
    threshold: float,
    options: SearchOptions | None = None,
    tick: Tick | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit pairs (a, b) from the IVF search over distinct vectors, plus identical-vector stars."""
    options = options or SearchOptions()
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    classes = IdenticalClasses.build(identical_rows(rows), group_ids)
    distinct = rows[classes.rep]
    ca, cb, _ = ivf_neighbours(distinct, k, threshold, classes.group, options, tick)
    x, y = classes.between(ca, cb, group_ids)
    wa, wb = classes.within(group_ids)
    return np.concatenate([x, wa]), np.concatenate([y, wb])


def lexical_class_pairs(
    sets: ShingleSets,
    class_group: np.ndarray,
    k: int,
    threshold: float,
    options: SearchOptions | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, jaccard) of texts (rows of ``sets``), each among the other's ``k`` best, Jaccard >= threshold.

    Candidates from MinHash LSH; a cheap estimate (signature agreement, 4 sigma below the
    threshold) drops the hopeless ones before exact Jaccard decides.
    """
    options = options or SearchOptions()
    count = options.lsh_bands * options.lsh_rows
    signatures = sets.minhash(count, options.seed)
    margin = 4.0 * math.sqrt(threshold * (1 - threshold) / count)
    # b-bit MinHash: the low 8 bits of each value, 8 values to a 64-bit word, so a pair's
    # agreement costs a few word operations instead of ``count`` comparisons
    words = -(-count // 8)
    low = np.zeros((len(signatures), 8 * words), dtype=np.uint8)
    low[:, :count] = signatures.astype(np.uint8)
    packed = low.view(np.uint64)
    chance = 1.0 / 256  # two different values share their low 8 bits this often

    def plausible(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        keep = np.empty(len(i), dtype=bool)
        for lo in range(0, len(i), 200_000):
            agree = count - _differing_bytes(packed[i[lo : lo + 200_000]] ^ packed[j[lo : lo + 200_000]])
            keep[lo : lo + 200_000] = (agree / count - chance) / (1 - chance) >= threshold - 1.1 * margin
        return keep

    ca, cb = lsh_candidates(
        signatures, options.lsh_bands, options.lsh_rows, options.lsh_window, class_group, plausible=plausible
    )
    estimate = np.empty(len(ca), dtype=np.float32)
    for lo in range(0, len(ca), 100_000):
        estimate[lo : lo + 100_000] = (
            signatures[ca[lo : lo + 100_000]] == signatures[cb[lo : lo + 100_000]]
        ).mean(axis=1)
    keep = estimate >= threshold - margin
    ca, cb, estimate = ca[keep], cb[keep], estimate[keep]
    # the estimate is noisy (sd 0.04 at 150 values): a text with dozens of partners between
    # 0.5 and 0.65 needs more than its estimated best 2k checked to keep its true best k
    best = _top_k(ca, cb, estimate, 4 * k)
    ca, cb = ca[best], cb[best]
    exact = sets.jaccard(ca, cb)
    good = exact >= threshold
    ca, cb, exact = ca[good], cb[good], exact[good]
    keep = _top_k(ca, cb, exact, k)
    return ca[keep], cb[keep], exact[keep]


def _differing_bytes(x: np.ndarray) -> np.ndarray:
    """Per row of 64-bit words: how many of their bytes are non-zero (SWAR, no byte arrays)."""
    ones = np.uint64(0x0101010101010101)
    x = x | (x >> np.uint64(4))
    x |= x >> np.uint64(2)
    x |= x >> np.uint64(1)
    x &= ones  # the low bit of each byte: was the byte non-zero
    return ((x * ones) >> np.uint64(56)).sum(axis=1, dtype=np.int64)


def approximate_lexical_pairs(
    sets: ShingleSets,
    norm_class: np.ndarray,
    group_ids: np.ndarray,
    k: int,
    threshold: float,
    options: SearchOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit pairs (a, b) from MinHash LSH over distinct normalised texts, plus identical-text stars.

    ``sets`` holds one shingle set per class of ``norm_class`` (identical normalised text).
    """
    classes = IdenticalClasses.build(norm_class, group_ids)
    ca, cb, _ = lexical_class_pairs(sets, classes.group, k, threshold, options)
    x, y = classes.between(ca, cb, group_ids)
    wa, wb = classes.within(group_ids)
    return np.concatenate([x, wa]), np.concatenate([y, wb])


def candidate_pairs(
    texts: Sequence[str],
    vectors: np.ndarray,
    groups: Sequence[str],
    semantic_threshold: float,
    lexical_threshold: float,
    k: int = 20,
    options: SearchOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PairTable:
    """Lexical and semantic candidates merged; each pair carries both similarities."""
    options = options or SearchOptions()
    n = len(texts)
    if n <= options.exact_max_units:
        return _exact_candidates(texts, vectors, groups, semantic_threshold, lexical_threshold, k)
    group_ids = np.unique(np.asarray(groups), return_inverse=True)[1].astype(np.int64)

    def tick(done: int, total: int) -> None:
        if progress:
            progress("similarity", done, total + 2)

    vectors = np.asarray(vectors, dtype=np.float32)
    sa, sb = approximate_semantic_pairs(vectors, group_ids, k, semantic_threshold, options, tick)
    norms: dict[str, int] = {}
    norm_class = np.fromiter(
        (norms.setdefault(normalise_text(t), len(norms)) for t in texts), dtype=np.int64, count=n
    )
    sets = ShingleSets(list(norms), normalised=True)
    la, lb = approximate_lexical_pairs(sets, norm_class, group_ids, k, lexical_threshold, options)
    if progress:
        progress("similarity", 1, 1)
    a = np.concatenate([sa, la])
    b = np.concatenate([sb, lb])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    packed = unique(lo.astype(np.uint64) * np.uint64(n) + hi.astype(np.uint64))
    a = (packed // np.uint64(n)).astype(np.int64)
    b = (packed % np.uint64(n)).astype(np.int64)
    cosine = np.empty(len(a), dtype=np.float32)
    for start in range(0, len(a), 100_000):
        end = start + 100_000
        cosine[start:end] = np.einsum("ij,ij->i", vectors[a[start:end]], vectors[b[start:end]])
    jacc = sets.jaccard(norm_class[a], norm_class[b])
    jacc[jacc < lexical_threshold] = 0.0  # as exact search: below the threshold is no lexical link
    return PairTable(a, b, cosine, jacc)


def _exact_candidates(
    texts: Sequence[str],
    vectors: np.ndarray,
    groups: Sequence[str],
    semantic_threshold: float,
    lexical_threshold: float,
    k: int,
) -> PairTable:
    lexical = lexical_pairs(texts, groups, lexical_threshold)
    semantic = semantic_pairs(vectors, groups, k, semantic_threshold)
    keys = sorted(set(lexical) | set(semantic))
    a = np.array([key[0] for key in keys], dtype=np.int64)
    b = np.array([key[1] for key in keys], dtype=np.int64)
    cosine = np.array(
        [semantic.get(key, float(vectors[key[0]] @ vectors[key[1]])) for key in keys], dtype=np.float32
    )
    jacc = np.array([lexical.get(key, 0.0) for key in keys], dtype=np.float64)
    return PairTable(a, b, cosine, jacc)
