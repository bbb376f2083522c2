"""Embedding calibration (all-but-the-top) and the second embedding engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analyzer import models
from analyzer.embed import Embedder, load_calibration
from analyzer.errors import ModelError


class _Cache:
    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def cached_vectors(self, model: str, hashes: Any) -> dict[str, np.ndarray]:
        return {h: self.vectors[h] for h in hashes if h in self.vectors}

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self.vectors.update(vectors)


class _FixedEmbedder(Embedder):
    """Made-up raw vectors that share e5's mean direction, as e5's own do: no model is loaded."""

    def encode_raw(self, texts: Any) -> np.ndarray:
        calibration = load_calibration(models.get_spec("embed", "multilingual-e5-small"))
        assert calibration is not None
        rng = np.random.default_rng(len(texts))
        raw = calibration[0] + 0.02 * rng.normal(size=(len(texts), 384)).astype(np.float32)
        return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


def test_embed_calibration_removes_the_mean_and_top_directions():
    spec = models.get_spec("embed", "multilingual-e5-small")
    calibration = load_calibration(spec)
    assert calibration is not None
    mean, top = calibration
    assert mean.shape == (384,) and top.shape == (4, 384)

    embedder = _FixedEmbedder("multilingual-e5-small")
    texts = ["a", "b", "c"]
    raw = embedder.encode_raw(texts)
    out = embedder.encode(texts)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.abs(out @ top.T).max() < 1e-4  # nothing left along the removed directions
    assert (raw @ raw.T)[0, 1] > 0.8 > abs((out @ out.T)[0, 1])  # the shared mean no longer links them


def test_embed_cache_keeps_raw_vectors():
    embedder = _FixedEmbedder("multilingual-e5-small")
    cache = _Cache()
    calibrated = embedder.encode_cached(["x", "y"], cache)
    raw = embedder.encode_cached(["x", "y"], cache, calibrated=False)
    assert np.allclose(raw, embedder.encode_raw(["x", "y"]))
    assert np.allclose(list(cache.vectors.values()), raw)  # a new calibration needs no re-embedding
    assert np.allclose(calibrated, embedder.encode(["x", "y"]), atol=1e-6)


def test_embed_unknown_postprocess_is_a_clear_error():
    spec = models.ModelSpec(
        "embed", "odd", "sentence-transformers", "", "", 0, None, None, {"postprocess": "pca9"}
    )
    with pytest.raises(ModelError, match="unknown postprocess 'pca9'"):
        load_calibration(spec)
    assert load_calibration(models.ModelSpec("embed", "plain", "", "", "", 0, None, None, {})) is None


def test_embed_use_v3_engine_separates_translations_from_unrelated_lines():
    from pipelines.scan import semantic_threshold

    embedder = Embedder("use-multilingual-v3")
    v = embedder.encode(
        ["We are free to live here.", "Nous sommes libres de vivre ici.", "The bridge opens in May."]
    )
    assert v.shape == (3, 512) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    threshold = semantic_threshold("use-multilingual-v3")
    assert v[0] @ v[1] >= threshold > v[0] @ v[2]
