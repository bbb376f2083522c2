"""The Transcriber protocol and the registry of ASR engines."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from analyzer.records import Segment


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe; the defaults favour evidence quality on a CPU."""

    model: str = "whisper-base"  # a name from models/models.toml, or a model folder
    compute_type: str = "int8"  # CTranslate2 quantisation on CPU
    beam_size: int = 5
    vad: bool = True  # skip silence (Silero VAD ships in faster-whisper's wheel)
    word_timestamps: bool = True  # words are evidence: "at 0:03.4 she says ..."
    language: str | None = None  # force a language; None detects it
    cpu_threads: int = 0  # 0: let the engine choose
    # Segments below these are flagged as likely hallucination, never silently kept.
    min_confidence: float = 0.25
    max_no_speech_prob: float = 0.8


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one media item."""

    segments: tuple[Segment, ...]
    language: str | None
    language_probability: float
    duration_ms: int


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, media_id: str) -> Transcript: ...


Factory = Callable[[TranscribeOptions], Transcriber]
_ENGINES: dict[str, Factory] = {}


def register(engine: str) -> Callable[[Factory], Factory]:
    """Class decorator: make an engine available under ``engine`` in models.toml."""

    def add(factory: Factory) -> Factory:
        _ENGINES[engine] = factory
        return factory

    return add


def create(options: TranscribeOptions) -> Transcriber:
    """The engine that models.toml names for ``options.model``."""
    from analyzer import models
    from analyzer.transcribe import faster  # noqa: F401  (registers its engine)

    engine = "faster-whisper"  # a bare model folder is taken to be CTranslate2
    if not os.path.isdir(options.model):
        engine = models.get_spec("asr", options.model).engine
    if engine not in _ENGINES:
        from analyzer.errors import ModelError

        raise ModelError(f"ASR engine {engine!r} is not available; known: {sorted(_ENGINES)}")
    return _ENGINES[engine](options)
