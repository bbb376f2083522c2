"""The Transcriber protocol, the records engines return, and the registry of ASR engines.

Two engines sit behind one protocol: faster-whisper (CTranslate2, the default, with
Chorus's batched path) and openai-whisper (PyTorch, on a checkpoint converted from the
same weights by ``chorus models convert``). Both return the same records, so the
pipeline, the store and the guards never ask which engine ran.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from analyzer.records import Segment

TRANSCRIPT_TRACK = "asr"
TRANSLATION_TRACK = "asr-translate"  # English translation of non-English speech (task=translate)


@dataclass(frozen=True)
class GuardOptions:
    """When a decoded segment is taken for a hallucination rather than speech.

    The thresholds are Whisper's own (``transcribe.py``: compression ratio 2.4, log
    probability -1.0, no-speech 0.6), which its authors use to reject a decode; the
    repetition rule catches the loops ("Thank you. Thank you. ...") that slip under them
    in short segments.
    """

    max_compression_ratio: float = 2.4  # gzip ratio of the text: loops compress well
    min_avg_logprob: float = -1.0  # mean log-probability per token
    no_speech_threshold: float = 0.6  # with a low log-probability: silence decoded as words
    # A run of the same n-gram this many times (n = 1, 2, 3, >= 4 words or characters).
    min_repeats: tuple[int, int, int, int] = (8, 5, 4, 3)
    min_repeated_segments: int = 3  # the same text in this many segments in a row


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe; the defaults favour evidence quality on a CPU."""

    model: str = "whisper-base"  # a name from models/models.toml, a model folder, or a .pt file
    engine: str | None = None  # None: the engine models.toml names for the model
    compute_type: str = "int8"  # CTranslate2 quantisation on CPU
    beam_size: int = 5
    vad: bool = True  # skip silence (Silero VAD ships in faster-whisper's wheel)
    word_timestamps: bool = True  # words are evidence: "at 0:03.4 she says ..."
    language: str | None = None  # force a language; None detects it per speech window
    translate: bool = False  # also an English translation track of non-English speech
    cpu_threads: int = 0  # 0: let the engine choose
    batch_size: int = 8  # speech windows decoded together (faster-whisper)
    pack_files: bool = True  # short files share 30 s windows (faster-whisper)
    # A window whose language Whisper is less sure of than this is split and detected again.
    lid_split_below: float = 0.75
    # Still unsure below this: decode in the likeliest ``lid_tries`` languages, keep the
    # decode the model itself finds likeliest (its mean log-probability).
    lid_try_below: float = 0.5
    lid_tries: int = 3
    guards: GuardOptions = field(default_factory=GuardOptions)


@dataclass(frozen=True)
class AsrSegment:
    """One decoded stretch with its evidence: language, confidence, and why it was not used.

    ``flags`` lists the hallucination checks it failed ("repetition", "compression_ratio",
    "no_speech", "low_logprob"); a flagged segment is stored and reported but never becomes
    a unit. ``language`` of ``segment`` is the reconciled language, with probability
    ``language_probability``; ``audio_*`` is Whisper's detection on the speech window,
    ``text_*`` the text detector's on the words.
    """

    segment: Segment
    track: str = TRANSCRIPT_TRACK
    language_probability: float = 1.0
    audio_language: str | None = None
    audio_probability: float = 0.0
    text_language: str | None = None
    text_probability: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    flags: tuple[str, ...] = ()

    @property
    def used(self) -> bool:
        return not self.flags


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one media item."""

    segments: tuple[Segment, ...]  # the speech Chorus uses (transcript track, not flagged)
    language: str | None
    language_probability: float
    duration_ms: int
    details: tuple[AsrSegment, ...] = ()  # every decoded segment of every track, flagged ones too
    translation: tuple[Segment, ...] = ()  # English translation track, not flagged

    @property
    def flagged(self) -> tuple[AsrSegment, ...]:
        return tuple(d for d in self.details if d.flags)

    def for_media(self, media_id: str) -> Transcript:
        """The same transcript under another media id (identical audio is transcribed once)."""

        def move(segment: Segment) -> Segment:
            return replace(segment, media_id=media_id)

        return replace(
            self,
            segments=tuple(move(s) for s in self.segments),
            translation=tuple(move(s) for s in self.translation),
            details=tuple(replace(d, segment=move(d.segment)) for d in self.details),
        )


@dataclass(frozen=True)
class AudioItem:
    """One media item's decoded audio (16 kHz mono float32) for a batch."""

    media_id: str
    audio: np.ndarray


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, media_id: str) -> Transcript: ...

    def transcribe_many(self, items: Sequence[AudioItem]) -> list[Transcript | Exception]:
        """Transcripts in the order of ``items``; one item's failure is its entry, not a raise."""
        ...


def audio_key(audio: np.ndarray) -> str:
    """A content hash of decoded audio: the same sound in two containers is one transcription."""
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


class TranscriptCache:
    """The last transcripts of a worker by audio hash, so identical audio is never decoded twice."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, Transcript] = OrderedDict()

    def get(self, key: str, media_id: str) -> Transcript | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found.for_media(media_id)

    def put(self, key: str, transcript: Transcript) -> None:
        self._items[key] = transcript
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


Factory = Callable[[TranscribeOptions], Transcriber]
_ENGINES: dict[str, Factory] = {}


def register(engine: str) -> Callable[[Factory], Factory]:
    """Class decorator: make an engine available under ``engine`` in models.toml."""

    def add(factory: Factory) -> Factory:
        _ENGINES[engine] = factory
        return factory

    return add


def engine_for(options: TranscribeOptions) -> str:
    """The engine that runs ``options.model``: explicit, by file kind, or from models.toml."""
    from analyzer import models

    if options.engine:
        return options.engine
    if os.path.isfile(options.model):
        return "openai-whisper"  # a checkpoint file (.pt); CTranslate2 models are folders
    if os.path.isdir(options.model):
        return "faster-whisper"
    return models.get_spec("asr", options.model).engine


def create(options: TranscribeOptions) -> Transcriber:
    """The engine for ``options.model``, loaded once (callers keep it for many items).

    Raises:
        ModelError: the model or its engine is not available here; the message says how to get it.
    """
    from analyzer.transcribe import faster, openai_whisper  # noqa: F401  (register their engines)

    engine = engine_for(options)
    if engine not in _ENGINES:
        from analyzer.errors import ModelError

        raise ModelError(f"ASR engine {engine!r} is not available; known: {sorted(_ENGINES)}")
    return _ENGINES[engine](options)


def cache_key(options: TranscribeOptions) -> str:
    """What a stored transcript depends on: the model, and whether it carries a translation track."""
    return options.model + ("+translate" if options.translate else "")
