"""The corpus stages at a scale no hand-made fixture reaches (synthetic corpus, seeded)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from analyzer.coordination import MediaInfo, _root, _same_recording, find_reuploads
from analyzer.records import Unit
from analyzer.similarity import shingles

ROOT = Path(__file__).resolve().parents[1]


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthetic"] = module
    spec.loader.exec_module(module)
    return module


def _every_pair(units: Sequence[Unit], media: Mapping[str, MediaInfo]) -> dict[str, str]:
    """find_reuploads as it was: every pair of media compared (the reference)."""
    by_media: dict[str, list[Unit]] = {}
    for u in units:
        if u.source == "asr":
            by_media.setdefault(u.media_id, []).append(u)
    ids = sorted(by_media)
    sets = {u.id: shingles(u.text) for u in units if u.source == "asr"}
    duplicates: dict[str, str] = {}
    for x, a in enumerate(ids):
        for b in ids[x + 1 :]:
            da, db_ = media[a].duration_ms, media[b].duration_ms
            if abs(da - db_) > max(1000, 0.03 * max(da, db_)):
                continue
            if _same_recording(by_media[a], by_media[b], sets, 0.8):
                first, later = sorted((a, b), key=lambda m: (media[m].source.published or "9999", m))
                duplicates.setdefault(later, first)
    return {dup: _root(orig, duplicates) for dup, orig in duplicates.items()}


def test_scale_reuploads_found_without_comparing_every_pair_are_the_same():
    corpus = _synthetic().generate(6000, seed=11)
    found = find_reuploads(corpus.units, corpus.media, 0.8)
    assert found == _every_pair(corpus.units, corpus.media)
    assert len(found) >= 2  # the corpus has re-uploads, and campaigns reciting one script


def test_scale_synthetic_corpus_is_seeded_and_mixed():
    synthetic = _synthetic()
    one, two = synthetic.generate(3000, seed=2), synthetic.generate(3000, seed=2)
    assert [u.text for u in one.units] == [u.text for u in two.units]
    assert np.array_equal(one.vectors, two.vectors)
    assert len({u.language for u in one.units}) == 7
    assert 0.05 < np.mean(one.line_of >= 0) < 0.5
    same_text = {}
    for u, v in zip(one.units, one.vectors, strict=True):
        assert np.allclose(same_text.setdefault(u.text, v), v)  # identical text, identical vector
