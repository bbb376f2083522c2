"""Fit an embedding model's calibrated space and measure its thresholds on Tatoeba.

Why: e5's raw cosines are compressed (unrelated short sentences ~0.78, some above 0.9),
because every vector shares a mean and a few dominant directions. "All-but-the-top"
(Mu & Viswanath, ICLR 2018) removes the mean and the top ``D/100`` principal directions;
Chorus's Embedder applies it to models whose models.toml entry says
``postprocess = "abtt"``. This script fits that transform once on every Tatoeba sentence
(seven languages, ``../shared/data/text/tatoeba``), writes it to
``analyzer/calibration/<model>.npz``, and prints the cosine percentiles the thresholds in
models.toml come from: ``link_threshold`` = p10 of translation pairs, ``mismatch_threshold``
= p1 (6 languages x 200 pairs, unrelated = every other pairing), before and after.

Usage: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/calibrate_embeddings.py
[--model multilingual-e5-small] [--top N] [--dry-run]``
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "text" / "tatoeba"
LANGUAGES = ("cmn", "rus", "spa", "fra", "deu", "ara")


def read_pairs(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Tatoeba's aligned (foreign, English) lines per language."""
    out: dict[str, list[tuple[str, str]]] = {}
    for lang in LANGUAGES:
        foreign = (root / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
        english = (root / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
        out[lang] = [
            (f.strip(), e.strip()) for f, e in zip(foreign, english, strict=True) if f.strip() and e.strip()
        ]
    return out


def fit_abtt(vectors: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, top principal directions) of the rows."""
    mean = vectors.mean(axis=0)
    _, _, directions = np.linalg.svd(vectors - mean, full_matrices=False)
    return mean.astype(np.float32), directions[:top].astype(np.float32)


def percentiles(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Translation-pair and unrelated-pair cosine percentiles, all languages pooled."""
    matched: list[np.ndarray] = []
    unrelated: list[np.ndarray] = []
    for foreign, english in pairs.values():
        sims = foreign @ english.T
        matched.append(np.diag(sims))
        unrelated.append(sims[~np.eye(len(sims), dtype=bool)])
    m, u = np.concatenate(matched), np.concatenate(unrelated)
    out = {f"translation p{q}": float(np.percentile(m, q)) for q in (1, 5, 10, 50)}
    out.update({f"unrelated p{q}": float(np.percentile(u, q)) for q in (50, 90, 99, 99.9)})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--top", type=int, default=0, help="directions removed (default: dim / 100)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--cache",
        type=Path,
        default=REPO_ROOT / "out" / "bench-quality" / "embeddings.db",
        help="a Chorus store used as the vector cache (benchmarks/quality.py's by default)",
    )
    parser.add_argument("--dry-run", action="store_true", help="measure, do not write the .npz")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from analyzer.embed import CALIBRATION_DIR, Embedder
    from analyzer.store import Store

    if not args.data.exists():
        print(f"no Tatoeba data at {args.data}", file=sys.stderr)
        return 2
    pairs = read_pairs(args.data)
    embedder = Embedder(args.model)
    sentences = list(dict.fromkeys(t for rows in pairs.values() for pair in rows for t in pair))
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    with Store(args.cache) as cache:
        raw = embedder.encode_cached(sentences, cache, calibrated=False)
    top = args.top or max(1, round(raw.shape[1] / 100))
    mean, directions = fit_abtt(raw, top)

    def calibrated(x: np.ndarray) -> np.ndarray:
        centred = x - mean
        centred -= (centred @ directions.T) @ directions
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)

    row = {t: i for i, t in enumerate(sentences)}
    evaluation = {
        lang: (raw[[row[f] for f, _ in rows[:200]]], raw[[row[e] for _, e in rows[:200]]])
        for lang, rows in pairs.items()
    }
    before = percentiles(evaluation)
    after = percentiles({k: (calibrated(a), calibrated(b)) for k, (a, b) in evaluation.items()})
    print(f"{args.model}: {len(sentences)} sentences, {raw.shape[1]} dims, top {top} directions removed\n")
    print(f"{'cosine':<22}{'raw':>8}{'abtt':>8}")
    for key in before:
        print(f"{key:<22}{before[key]:>8.3f}{after[key]:>8.3f}")
    print(
        f"\nmodels.toml: link_threshold = {after['translation p10']:.2f}  "
        f"mismatch_threshold = {after['translation p1']:.2f}"
    )
    if not args.dry_run:
        CALIBRATION_DIR.mkdir(exist_ok=True)
        path = CALIBRATION_DIR / f"{args.model}.npz"
        np.savez(path, mean=mean, top=directions)
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
