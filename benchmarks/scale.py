"""Corpus stages at scale: time and peak memory per stage, recall, and a naive baseline.

    .venv/bin/python benchmarks/scale.py                  # N = 10k and 100k
    .venv/bin/python benchmarks/scale.py --million        # also N = 1M (about 10 minutes)
    .venv/bin/python benchmarks/scale.py --compare-ann    # usearch, faiss, datasketch at 100k
    .venv/bin/python benchmarks/scale.py --sizes 300000 --naive-max 0 --check-size 0   # one size, quick

Each size runs in a fresh process (so peak memory is that size's own) on a seeded
synthetic corpus (benchmarks/synthetic.py: scripted, boilerplate and independent text in
seven languages, cheap embeddings), through the same functions pipelines/scan.py calls:
re-uploads, candidate pairs, grouping, other cuts (windows and parts of unpunctuated
units placed in the groups), scoring. It prints:

- time and peak RSS per stage (RSS sampled every 10 ms);
- recall of the approximate search against exact search on 1,000 sampled queries:
  semantic (IVF) and lexical (MinHash LSH) neighbours, tie-tolerant as ANN benchmarks
  count it (a returned partner counts when it is at least as similar as the k-th exact
  one), and the share of exact partners that end up linked to the query at all;
- a naive all-pairs baseline (the full cosine matrix, threshold, connected components),
  in the same process, at the sizes where its n^2 matrix fits in memory;
- ``chorus check``'s work after the video's own transcription and embedding, on a real
  SQLite store of the corpus: load the talking points and their vectors, match.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

THRESHOLD = 0.87  # e5-small's link_threshold (models/models.toml)
MISMATCH = 0.83  # its mismatch_threshold, on the same (uncalibrated) scale
LEXICAL = 0.5
K = 20
SAMPLE = 1000


class PeakRss:
    """Samples this process's resident memory every 10 ms; ``stage()`` reports each stage's peak."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def rss(self) -> int:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * self.page

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.01)

    @contextmanager
    def stage(self, name: str, out: dict[str, Any]) -> Iterator[None]:
        self.peak = self.rss()
        started, cpu = time.perf_counter(), time.process_time()
        yield
        wall = time.perf_counter() - started
        out[name] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_gb": round(max(self.peak, self.rss()) / 2**30, 2),
        }
        print(
            f"  {name:<12} {wall:7.1f} s  peak {out[name]['peak_rss_gb']:.2f} GB", file=sys.stderr, flush=True
        )


def tie_tolerant_recall(
    exact: list[np.ndarray], found: list[np.ndarray], eps: float = 1e-5
) -> tuple[float, int]:
    """Share of exact top-k partners matched by a found partner at least as similar as the k-th."""
    total = hits = 0
    for e, f in zip(exact, found, strict=True):
        if len(e) == 0:
            continue
        kth = float(np.min(e))
        total += len(e)
        hits += min(len(e), int(np.sum(f >= kth - eps)))
    return (hits / total if total else 1.0), total


def _exact_top(scores: np.ndarray, k: int, threshold: float) -> np.ndarray:
    top = np.sort(scores[scores >= threshold])[::-1][:k]
    return top


def semantic_recall(distinct: np.ndarray, group: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """IVF neighbours of sampled distinct vectors vs brute force (same masks)."""
    from analyzer.similarity import ivf_neighbours

    own = -1 - np.arange(len(distinct))
    masked = np.where(group >= 0, group, own)
    a, _, s = ivf_neighbours(distinct, K, THRESHOLD, group)
    queries = rng.choice(len(distinct), min(SAMPLE, len(distinct)), replace=False)
    exact, found = [], []
    for q in queries.tolist():
        sims = distinct @ distinct[q]
        sims[masked == masked[q]] = -2.0
        exact.append(_exact_top(sims, K, THRESHOLD))
        found.append(s[a == q])
    recall, partners = tie_tolerant_recall(exact, found)
    return {"recall": round(recall, 4), "exact_partners": partners}


def _jaccard_rows(sets: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Exact Jaccard of some rows of ``sets`` against all rows (one sparse product)."""
    from scipy.sparse import csr_matrix

    vocab, column = np.unique(sets.keys, return_inverse=True)
    matrix = csr_matrix(
        (np.ones(len(column), dtype=np.float32), column, sets.indptr), shape=(sets.n, max(1, len(vocab)))
    )
    transposed = matrix.T.tocsr()
    sizes = sets.sizes().astype(np.float32)

    def rows(block: np.ndarray) -> np.ndarray:
        inter = (matrix[block] @ transposed).toarray()
        union = sizes[block][:, None] + sizes[None, :] - inter
        return np.where(union > 0, inter / np.maximum(union, 1), 0.0)

    return rows


def lexical_recall(
    sets: Any, group: np.ndarray, rng: np.random.Generator, options: Any = None
) -> dict[str, Any]:
    """MinHash LSH partners of sampled distinct texts vs exact Jaccard against all texts."""
    from analyzer.similarity import lexical_class_pairs

    own = -1 - np.arange(sets.n)
    masked = np.where(group >= 0, group, own)
    ca, cb, jac = lexical_class_pairs(sets, group, K, LEXICAL, options)
    jaccard_rows = _jaccard_rows(sets)
    queries = rng.choice(sets.n, min(SAMPLE, sets.n), replace=False)
    exact, found = [], []
    for lo in range(0, len(queries), 100):
        block = queries[lo : lo + 100]
        jmat = jaccard_rows(block)
        for row, q in enumerate(block.tolist()):
            scores = jmat[row]
            scores[masked == masked[q]] = -1.0
            exact.append(_exact_top(scores, K, LEXICAL))
            found.append(np.concatenate([jac[ca == q], jac[cb == q]]))
    recall, partners = tie_tolerant_recall(exact, found)
    return {"recall": round(recall, 4), "exact_partners": partners}


def linked_recall(corpus: Any, pairs: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Share of each sampled unit's exact partners (semantic top-k, lexical >= 0.5) linked to it."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from analyzer.similarity import ShingleSets

    n = len(corpus.units)
    graph = coo_matrix((np.ones(len(pairs)), (pairs.a, pairs.b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    media = np.unique([u.media_id for u in corpus.units], return_inverse=True)[1]
    queries = rng.choice(n, min(SAMPLE, n), replace=False)
    semantic = lexical = sem_total = lex_total = 0
    for q in queries.tolist():
        sims = corpus.vectors @ corpus.vectors[q]
        sims[media == media[q]] = -2.0
        top = np.argpartition(-sims, K)[:K]
        top = top[sims[top] >= THRESHOLD]
        sem_total += len(top)
        semantic += int(np.sum(component[top] == component[q]))
    jaccard_rows = _jaccard_rows(ShingleSets([u.text for u in corpus.units]))
    for lo in range(0, len(queries), 100):
        block = queries[lo : lo + 100]
        jmat = jaccard_rows(block)
        for row, q in enumerate(block.tolist()):
            partners = np.flatnonzero((jmat[row] >= LEXICAL) & (media != media[q]))
            lex_total += len(partners)
            lexical += int(np.sum(component[partners] == component[q]))
    return {
        "semantic_linked": round(semantic / max(1, sem_total), 4),
        "semantic_partners": sem_total,
        "lexical_linked": round(lexical / max(1, lex_total), 4),
        "lexical_partners": lex_total,
    }


def naive_baseline(corpus: Any, meter: PeakRss, out: dict[str, Any]) -> list[list[int]]:
    """All-pairs cosine matrix, threshold, connected components: what Chorus replaces."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(corpus.units)
    with meter.stage("naive", out):
        media = np.unique([u.media_id for u in corpus.units], return_inverse=True)[1]
        sims = corpus.vectors @ corpus.vectors.T
        sims[media[:, None] == media[None, :]] = -1.0
        a, b = np.nonzero(np.triu(sims >= THRESHOLD, 1))
        del sims
        graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        order = np.argsort(component, kind="stable")
        bounds = np.flatnonzero(np.diff(component[order])) + 1
        groups = [g.tolist() for g in np.split(order, bounds) if len(g) >= 2]
    out["naive"]["pairs"] = len(a)
    return groups


def check_timing(
    corpus: Any,
    points: list[Any],
    spans: list[Any],
    span_vectors: np.ndarray,
    meter: PeakRss,
    out: dict[str, Any],
) -> None:
    """`chorus check` after transcription and embedding, on a real store of this corpus."""
    from analyzer.embed import Embedder, text_hash
    from analyzer.records import Media
    from analyzer.store import MediaResult, Store
    from pipelines.check import match_units

    held = next(m for m in sorted(corpus.media) if (corpus.line_of[_units_of(corpus, m)] >= 0).sum() >= 3)
    held_units = _units_of(corpus, held)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "chorus.db") as store:
        started = time.perf_counter()
        by_media: dict[str, list[Any]] = {}
        for u in corpus.units:
            by_media.setdefault(u.media_id, []).append(u)
        for media_id, info in corpus.media.items():
            units = tuple(by_media.get(media_id, ()))
            media = Media(media_id, f"/corpus/{media_id}.mp4", media_id, info.duration_ms, info.source)
            store.save_result(MediaResult(media, f"{media_id}.mp4", "whisper-base", (), (), (), units))
        vectors: dict[str, np.ndarray] = {}
        for u, v in zip([*corpus.units, *spans], [*corpus.vectors, *span_vectors], strict=True):
            vectors.setdefault(text_hash(u.text), v)
        store.put_vectors("multilingual-e5-small", vectors)
        own = {u.id for u in corpus.units}
        store.save_window_units([m.unit for tp in points for m in tp.members if m.unit.id not in own])
        store.save_talking_points(points)
        out["store_build_s"] = round(time.perf_counter() - started, 1)
        new_units = [corpus.units[i] for i in held_units]
        new_vectors = corpus.vectors[held_units]
        with meter.stage("check", out):
            found = store.talking_points()
            rows = {r.media.id: r for r in store.media_rows()}
            known = [m.unit for tp in found for m in tp.members]
            known_vectors = Embedder("multilingual-e5-small").encode_cached([u.text for u in known], store)
            matches = match_units(new_units, new_vectors, found, known, known_vectors, THRESHOLD, 0.8)
        out["check"].update({"members": len(known), "matches": len(matches), "media_rows": len(rows)})


def _units_of(corpus: Any, media_id: str) -> np.ndarray:
    return np.array([i for i, u in enumerate(corpus.units) if u.media_id == media_id])


def run_one(n: int, seed: int, compare: bool, check: bool, naive_max: int) -> dict[str, Any]:
    from synthetic import generate

    from analyzer.cluster import ClusterOptions, attach_alternatives, group_units, refine_groups
    from analyzer.coordination import ScoreOptions, build_talking_points, find_reuploads
    from analyzer.similarity import (
        IdenticalClasses,
        SearchOptions,
        ShingleSets,
        candidate_pairs,
        identical_rows,
        normalise_text,
    )
    from analyzer.units import stream_edges

    meter = PeakRss()
    out: dict[str, Any] = {"n": n}
    started = time.perf_counter()
    corpus = generate(n, seed)
    out["corpus"] = corpus.stats | {"generate_s": round(time.perf_counter() - started, 1)}
    print(f"N={n}: {corpus.stats}", file=sys.stderr, flush=True)
    stages: dict[str, Any] = {}
    texts = [u.text for u in corpus.units]
    groups_of = [u.media_id for u in corpus.units]
    options = SearchOptions()
    with meter.stage("re-uploads", stages):
        duplicates = find_reuploads(corpus.units, corpus.media, 0.8)
    with meter.stage("candidates", stages):
        pairs = candidate_pairs(texts, corpus.vectors, groups_of, THRESHOLD, LEXICAL, K, options)
    with meter.stage("cluster", stages):
        groups = group_units(corpus.vectors, pairs, ClusterOptions(link_threshold=THRESHOLD))
    spans, span_vectors, made_s, free = other_cuts(corpus, groups, pairs, duplicates)
    with meter.stage("other cuts", stages):
        groups = attach_alternatives(
            groups, corpus.units, corpus.vectors, spans, span_vectors, THRESHOLD, free, duplicates
        )
    print(f"  (making the cuts {made_s:.1f} s: in the table's other cuts)", file=sys.stderr, flush=True)
    stages["other cuts"]["wall_s"] = round(stages["other cuts"]["wall_s"] + made_s, 1)
    every = [*corpus.units, *spans]
    every_vectors = np.concatenate([corpus.vectors, span_vectors])
    with meter.stage("parallel groups", stages):
        edges = stream_edges(every)
        count = len(corpus.units)
        refine = (free, THRESHOLD, MISMATCH, duplicates, edges)
        groups = refine_groups(groups, every, every_vectors, count, *refine)
    with meter.stage("score", stages):
        points = build_talking_points(
            groups, every, every_vectors, corpus.media, corpus.generic, ScoreOptions(THRESHOLD), edges
        )
    out["other_cuts"] = len(spans)
    out["stages"] = stages
    out["total_s"] = round(sum(s["wall_s"] for s in stages.values()), 1)
    out["peak_rss_gb"] = max(s["peak_rss_gb"] for s in stages.values())
    out["pairs"] = len(pairs)
    out["groups"] = len(groups)
    out["talking_points"] = len(points)
    out["reuploads"] = len(duplicates)
    out["exact_search"] = len(texts) <= options.exact_max_units
    scripted = [tp for tp in points[:50]]
    out["top50_scripted"] = sum(
        1
        for tp in scripted
        if np.mean([corpus.line_of[_index(corpus, m.unit)] >= 0 for m in tp.members]) > 0.5
    )

    rng = np.random.default_rng(seed)
    media = np.unique(groups_of, return_inverse=True)[1].astype(np.int64)
    distinct = IdenticalClasses.build(identical_rows(corpus.vectors), media)
    norms: dict[str, int] = {}
    norm_class = np.array([norms.setdefault(normalise_text(t), len(norms)) for t in texts])
    text_classes = IdenticalClasses.build(norm_class, media)
    started = time.perf_counter()
    out["recall"] = {
        "semantic": semantic_recall(corpus.vectors[distinct.rep], distinct.group, rng),
        "lexical": lexical_recall(ShingleSets(list(norms), normalised=True), text_classes.group, rng),
        "linked": linked_recall(corpus, pairs, rng),
    }
    out["recall_s"] = round(time.perf_counter() - started, 1)
    print(f"  recall {out['recall']}", file=sys.stderr, flush=True)
    if len(texts) <= naive_max:
        naive_groups = naive_baseline(corpus, meter, stages)
        out["naive_groups"] = len(naive_groups)
    if check:
        check_timing(corpus, points, spans, span_vectors, meter, stages)
    if compare:
        out["compare"] = compare_ann(corpus.vectors[distinct.rep], list(norms), rng)
    meter.running = False
    out["max_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


_INDEX: dict[str, int] = {}


def _index(corpus: Any, unit: Any) -> int:
    """The corpus unit a member is, or (a window or part) the one it starts in."""
    if not _INDEX:
        _INDEX.update({u.id: i for i, u in enumerate(corpus.units)})
        _INDEX.update({f"{u.media_id}|{u.source}|{u.start_ms}": i for i, u in enumerate(corpus.units)})
    if unit.id in _INDEX:
        return _INDEX[unit.id]
    for i in _units_of(corpus, unit.media_id):
        u = corpus.units[i]
        if u.source == unit.source and u.start_ms <= unit.start_ms < max(u.end_ms, u.start_ms + 1):
            return int(i)
    return _INDEX[f"{unit.media_id}|{unit.source}|{unit.start_ms}"]


def other_cuts(
    corpus: Any, groups: list[list[int]], pairs: Any, voices: dict[str, str]
) -> tuple[list[Any], np.ndarray, float, list[bool]]:
    """Windows and parts of the corpus's units (as the scan makes them) with cheap vectors.

    A window's vector is the normalised sum of its two sentences', a part's or an aligned
    stretch's the unit's where it starts, with noise: this benchmark measures what placing
    them costs (benchmarks/quality.py measures what they are worth). Returns the seconds
    spent making the cuts, which the scan spends too (their vectors stand in for
    embedding, which this script leaves out), and which of the cuts may enter a group
    alone (the aligned stretches).
    """
    from analyzer.cluster import other_cuts as cuts_of
    from analyzer.units import windows

    started = time.perf_counter()
    spans_w = windows(corpus.units)
    spans_p, spans_a = cuts_of(groups, corpus.units, corpus.vectors, pairs, THRESHOLD, voices)
    spans_p = [*spans_p, *spans_a]
    made = time.perf_counter() - started
    streams: dict[tuple[str, str, str], list[int]] = {}
    for i, u in enumerate(corpus.units):
        streams.setdefault((u.media_id, u.source, u.track), []).append(i)
    starts = {key: np.array([corpus.units[i].start_ms for i in ids]) for key, ids in streams.items()}
    order = {key: np.argsort(starts[key], kind="stable") for key in streams}

    def at(span: Any) -> int:
        key = (span.media_id, span.source, span.track)
        position = np.searchsorted(starts[key][order[key]], span.start_ms, side="right") - 1
        return streams[key][int(order[key][max(0, position)])]

    rng = np.random.default_rng(0)
    rows = []
    for span in spans_w:
        first = at(span)
        key = (span.media_id, span.source, span.track)
        ids = [streams[key][int(j)] for j in order[key]]
        second = ids[min(len(ids) - 1, ids.index(first) + 1)]
        rows.append(corpus.vectors[first] + corpus.vectors[second])
    for span in spans_p:
        rows.append(corpus.vectors[at(span)] + rng.normal(scale=0.02, size=corpus.vectors.shape[1]))
    vectors = np.array(rows, dtype=np.float32).reshape(len(rows), corpus.vectors.shape[1])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    free = [False] * (len(spans_w) + len(spans_p) - len(spans_a)) + [True] * len(spans_a)
    return [*spans_w, *spans_p], vectors, made, free


def compare_ann(distinct: np.ndarray, texts: list[str], rng: np.random.Generator) -> dict[str, Any]:
    """usearch HNSW and faiss IVF vs Chorus's IVF (semantic); datasketch vs numpy MinHash (lexical)."""
    from analyzer.similarity import SearchOptions, ShingleSets, ivf_neighbours, shingles

    results: dict[str, Any] = {}
    n = len(distinct)
    queries = rng.choice(n, min(SAMPLE, n), replace=False)
    exact = []
    for q in queries.tolist():
        sims = distinct @ distinct[q]
        sims[q] = -2.0
        exact.append(_exact_top(sims, K, THRESHOLD))

    def score(name: str, build_s: float, search_s: float, neighbours: Callable[[int], np.ndarray]) -> None:
        found = [distinct[neighbours(q)] @ distinct[q] for q in queries.tolist()]
        recall, _ = tie_tolerant_recall(exact, found)
        results[name] = {
            "build_s": round(build_s, 1),
            "search_s": round(search_s, 1),
            "recall": round(recall, 4),
        }
        print(f"  {name}: {results[name]}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    a, b, _ = ivf_neighbours(distinct, K, THRESHOLD, None, SearchOptions())
    elapsed = time.perf_counter() - started
    score("chorus IVF (numpy)", 0.0, elapsed, lambda q: b[a == q])

    from usearch.index import Index

    started = time.perf_counter()
    index = Index(ndim=distinct.shape[1], metric="ip", dtype="f16", connectivity=16, expansion_add=64)
    index.add(np.arange(n), distinct, threads=os.cpu_count() or 1)
    built = time.perf_counter() - started
    index.expansion_search = 64
    started = time.perf_counter()
    found = index.search(distinct, K + 1, threads=os.cpu_count() or 1)
    score(
        "usearch HNSW f16", built, time.perf_counter() - started, lambda q: found.keys[q][found.keys[q] != q]
    )

    import faiss

    cells = max(1, int(4 * np.sqrt(n)))
    started = time.perf_counter()
    quantiser = faiss.IndexFlatIP(distinct.shape[1])
    ivf = faiss.IndexIVFFlat(quantiser, distinct.shape[1], cells, faiss.METRIC_INNER_PRODUCT)
    ivf.train(distinct[rng.choice(n, min(n, 40 * cells), replace=False)])
    ivf.add(distinct)
    built = time.perf_counter() - started
    ivf.nprobe = 4
    started = time.perf_counter()
    _, ids = ivf.search(distinct, K + 1)
    score("faiss IVFFlat nprobe=4", built, time.perf_counter() - started, lambda q: ids[q][ids[q] >= 0])

    from datasketch import MinHash

    sample = texts[: min(len(texts), 20_000)]
    started = time.perf_counter()
    ShingleSets(sample, normalised=True).minhash(120, 0)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for text in sample:
        sketch = MinHash(num_perm=120, seed=0)
        sketch.update_batch([s.encode("utf-8") for s in shingles(text)])
    theirs = time.perf_counter() - started
    results["minhash 120 perms"] = {
        "texts": len(sample),
        "numpy_s": round(ours, 2),
        "datasketch_s": round(theirs, 2),
        "ratio": round(theirs / max(ours, 1e-9), 1),
    }
    print(f"  minhash: {results['minhash 120 perms']}", file=sys.stderr, flush=True)
    return results


def table(results: list[dict[str, Any]]) -> str:
    stage_names = ["re-uploads", "candidates", "cluster", "other cuts", "score"]
    lines = [
        "| N units | media | " + " | ".join(stage_names) + " | total | peak RSS | naive all-pairs | ratio |",
        "|---" * (len(stage_names) + 6) + "|",
    ]
    for r in results:
        s = r["stages"]
        naive = s.get("naive")
        core = s["candidates"]["wall_s"] + s["cluster"]["wall_s"]
        lines.append(
            f"| {r['corpus']['units']:,} | {r['corpus']['media']:,} | "
            + " | ".join(f"{s[name]['wall_s']:.1f} s" for name in stage_names)
            + f" | **{r['total_s']:.1f} s** | {r['peak_rss_gb']:.2f} GB | "
            + (
                f"{naive['wall_s']:.1f} s, {naive['peak_rss_gb']:.2f} GB | "
                f"{core / naive['wall_s']:.2f}x time, "
                f"{s['candidates']['peak_rss_gb'] / naive['peak_rss_gb']:.2f}x memory |"
                if naive
                else f"does not fit ({(r['corpus']['units'] ** 2) * 4 / 2**30:,.0f} GB matrix) | - |"
            )
        )
    lines += [
        "",
        "| N units | semantic recall (IVF) | lexical recall (LSH) | exact partners linked (sem / lex) | "
        "pairs | talking points | check after ASR |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = r["recall"]
        check = r["stages"].get("check")
        lines.append(
            f"| {r['corpus']['units']:,} | {rec['semantic']['recall']:.4f} | "
            f"{rec['lexical']['recall']:.4f} | "
            f"{rec['linked']['semantic_linked']:.4f} / {rec['linked']['lexical_linked']:.4f} | "
            f"{r['pairs']:,} | {r['talking_points']:,} | "
            + (f"{check['wall_s']:.2f} s ({check['members']:,} members)" if check else "-")
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated unit counts")
    parser.add_argument("--million", action="store_true", help="also N = 1,000,000")
    parser.add_argument(
        "--compare-ann", action="store_true", help="usearch/faiss/datasketch at --compare-size"
    )
    parser.add_argument("--compare-size", type=int, default=100_000)
    parser.add_argument(
        "--check-size", type=int, default=100_000, help="time `chorus check` at this N (0: never)"
    )
    parser.add_argument("--naive-max", type=int, default=40_000, help="largest N for the n^2 baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = run_one(args.one, args.seed, args.compare, args.check, args.naive_max)
        print("RESULT " + json.dumps(result))
        return
    sizes = [int(x) for x in args.sizes.split(",") if x]
    if args.million:
        sizes.append(1_000_000)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at start", file=sys.stderr)
    results = []
    for n in sizes:
        command = [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed)]
        command += ["--naive-max", str(args.naive_max)]
        if args.compare_ann and n == args.compare_size:
            command.append("--compare")
        if args.check_size and n == args.check_size:
            command.append("--check")
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT ") :]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"\nload average {os.getloadavg()[0]:.1f} at end (2 cores: above 2 means other work shared them)")
    for r in results:
        if "compare" in r:
            print(f"\nN={r['n']}: " + json.dumps(r["compare"]))


if __name__ == "__main__":
    main()
