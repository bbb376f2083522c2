"""Multilingual sentence embeddings (sentence-transformers) with an on-disk cache.

Vectors are L2-normalised float32, so a dot product is a cosine. The cache is keyed by
model name and a hash of the exact text, so a re-scan embeds only text it has not seen.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from analyzer import models


class VectorCache(Protocol):
    def cached_vectors(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Embedder:
    """A sentence-transformers model resolved through models.toml, loaded on first use."""

    def __init__(self, name: str = "multilingual-e5-small", batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: object | None = None
        self._prompt = ""
        self.computed = 0  # texts actually encoded (not served from the cache)

    def _load(self) -> object:
        if self._model is None:
            resolved = models.resolve("embed", self.name)
            if resolved.origin != "hub":
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
            from sentence_transformers import SentenceTransformer

            self._prompt = str(resolved.spec.raw.get("prompt", ""))
            self._model = SentenceTransformer(resolved.location, device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts without the cache: (n, dim) float32, L2-normalised."""
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

    def encode_cached(self, texts: Sequence[str], cache: VectorCache) -> np.ndarray:
        """Embed texts, reading and filling the cache; rows follow ``texts``."""
        hashes = [text_hash(t) for t in texts]
        found = cache.cached_vectors(self.name, sorted(set(hashes)))
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found:
                todo[h] = t
        if todo:
            fresh = self.encode(list(todo.values()))
            new = dict(zip(todo.keys(), fresh, strict=True))
            cache.put_vectors(self.name, new)
            found.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[h] for h in hashes]).astype(np.float32)
