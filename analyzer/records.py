"""Frozen records that cross stage boundaries. Times are integer milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

UnitSource = Literal["asr", "subtitle", "ocr"]
Relation = Literal["verbatim", "paraphrase", "translation"]


@dataclass(frozen=True)
class Source:
    """Who published a media item, where and when (from yt-dlp .info.json or a manifest)."""

    channel: str | None = None
    uploader: str | None = None
    handle: str | None = None
    url: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    title: str | None = None


@dataclass(frozen=True)
class MediaInput:
    """A media file found by discovery, before it is read: path plus sidecars."""

    path: str  # absolute path on disk
    rel_path: str  # path relative to the scan root, as shown to users
    source: Source = field(default_factory=Source)
    subtitle_paths: tuple[str, ...] = ()
    metadata_error: str | None = None  # a sidecar that could not be read
    error: str | None = None  # refused before reading (a manifest path outside the allowed folder)


@dataclass(frozen=True)
class Media:
    """One media file, identified by its content hash."""

    id: str
    path: str
    sha256: str
    duration_ms: int
    source: Source = field(default_factory=Source)
    has_audio: bool = True


@dataclass(frozen=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """One stretch of recognised speech."""

    media_id: str
    start_ms: int
    end_ms: int
    text: str
    language: str
    confidence: float  # geometric mean of its word probabilities (else exp(avg_logprob)), in [0, 1]
    no_speech_prob: float = 0.0
    source: UnitSource = "asr"
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class SubtitleTrack:
    """A subtitle track: a sidecar file or an embedded stream."""

    media_id: str
    track: str  # "sidecar:NAME.en.vtt" or "stream:2"
    language: str | None
    kind: Literal["sidecar", "embedded", "ocr"]  # "ocr": text read from the picture
    codec: str  # "srt", "ass", "webvtt", "mov_text", "hdmv_pgs_subtitle", ...
    readable: bool = True  # False for bitmap streams (PGS, VobSub): listed, not read
    note: str | None = None


@dataclass(frozen=True)
class Cue:
    """One subtitle cue, plain text without styling."""

    media_id: str
    track: str
    start_ms: int
    end_ms: int
    text: str
    language: str | None = None


@dataclass(frozen=True)
class Alignment:
    """How one subtitle track's clock maps onto the speech: speech = drift * cue + offset.

    ``drift`` is a ratio (1.0 = none; 25/23.976 when cues were timed for another frame
    rate); ``pairs`` counts the cue-to-speech text matches behind the fit (0 when speech
    activity alone decided); ``agreement`` is the share of checked cues whose text matches
    what is said, filled in by the corpus stage (None until then or when nothing could be
    checked). Cues are re-timed only when ``applied``, i.e. confidence was high enough.
    """

    media_id: str
    track: str
    offset_ms: int
    drift: float
    confidence: float  # in [0, 1]
    pairs: int
    agreement: float | None = None
    method: Literal["text", "activity", "none"] = "none"
    applied: bool = False


@dataclass(frozen=True)
class SubtitleMismatch:
    """A cue whose text says something that is not what is said while it is shown."""

    media_id: str
    track: str
    start_ms: int
    end_ms: int
    subtitle_text: str
    speech_text: str  # the transcript while the cue is shown
    similarity: float  # cosine of the two texts' multilingual embeddings


@dataclass(frozen=True)
class SubtitleCopy:
    """Subtitle tracks of different media that are (nearly) the same text over different speech.

    Identical subtitles over different voices are evidence of one script handed out.
    ``similarity`` is the lowest text similarity of the linked track pairs,
    ``speech_similarity`` the highest transcript similarity among them (low: the speech
    differs), ``n_cues`` the cues of the smallest track.
    """

    tracks: tuple[tuple[str, str], ...]  # (media_id, track), sorted
    similarity: float
    speech_similarity: float
    n_cues: int
    sample: str  # the first cue text shared by the tracks


@dataclass(frozen=True)
class Unit:
    """A talking-point unit: one sentence (or short window) with its evidence span."""

    id: str
    media_id: str
    start_ms: int
    end_ms: int
    text: str
    language: str
    source: UnitSource
    track: str = ""


@dataclass(frozen=True)
class Member:
    unit: Unit
    similarity: float
    relation: Relation


@dataclass(frozen=True)
class ScoreParts:
    """The components of a talking point's score, each in [0, 1].

    Fields are only ever appended, with defaults: stores and findings written before a
    field existed still load (the store keeps them as a JSON list in this order).
    """

    breadth: float
    tightness: float
    specificity: float
    timing: float
    accounts: float
    subtitles: float = 0.0  # share of its media whose subtitles copy another's over other speech


ReuploadEvidence = Literal["audio fingerprint", "transcript", "identical file"]


@dataclass(frozen=True)
class Reupload:
    """Why a media item is taken for another's re-upload (one recording, counted once).

    ``evidence`` lists what agreed, strongest first. Audio: the fingerprints' bit error
    rate at their best alignment (``offset_ms``: where this copy starts in the original)
    over ``overlap_ms``. Transcript: the share of its sentences said verbatim at the same
    offsets (``similarity``).
    """

    media_id: str
    duplicate_of: str
    evidence: tuple[ReuploadEvidence, ...]
    bit_error_rate: float | None = None
    offset_ms: int | None = None
    overlap_ms: int | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class TalkingPoint:
    id: str
    label: str
    members: tuple[Member, ...]
    score: float
    parts: ScoreParts
    n_media: int
    n_channels: int
    languages: tuple[str, ...]
    first_published: str | None = None


@dataclass(frozen=True)
class Script:
    """Talking points that travel together: recited in mostly the same media."""

    id: str
    talking_points: tuple[str, ...]  # talking point ids, strongest first
    media: tuple[str, ...]  # media that recite at least half of the script's lines


@dataclass(frozen=True)
class MediaStatus:
    """Outcome of the per-media stages for one input."""

    path: str
    media_id: str | None
    status: Literal["ok", "failed"]
    error: str | None = None
