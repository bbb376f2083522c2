"""The per-media stages as one function a worker runs: decode, ASR, subtitles, units.

Workers keep their transcriber between items (models load once per process).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from analyzer.errors import ChorusError, MediaError
from analyzer.media import SAMPLE_RATE, decode_audio
from analyzer.records import Cue, Media, MediaInput, Segment, SubtitleTrack, Unit
from analyzer.store import MediaResult
from analyzer.subtitles.embedded import embedded_tracks
from analyzer.subtitles.read import language_from_filename, read_subtitle_file
from analyzer.transcribe import TranscribeOptions, Transcriber, create
from analyzer.units import units_from_cues, units_from_segments

_TRANSCRIBERS: dict[TranscribeOptions, Transcriber] = {}


@dataclass(frozen=True)
class MediaJob:
    item: MediaInput
    media_id: str
    sha256: str
    transcribe: TranscribeOptions
    max_duration_s: int


def transcriber_for(options: TranscribeOptions) -> Transcriber:
    if options not in _TRANSCRIBERS:
        _TRANSCRIBERS[options] = create(options)
    return _TRANSCRIBERS[options]


def read_subtitles(item: MediaInput, media_id: str) -> tuple[list[SubtitleTrack], list[Cue], list[str]]:
    """Sidecar files and embedded streams; a bad track is a note, never a failed item."""
    tracks: list[SubtitleTrack] = []
    cues: list[Cue] = []
    notes: list[str] = []
    for path in item.subtitle_paths:
        name = os.path.basename(path)
        track = f"sidecar:{name}"
        language = language_from_filename(path)
        try:
            found, skipped = read_subtitle_file(path, media_id, track, language)
        except ChorusError as exc:
            notes.append(str(exc))
            tracks.append(SubtitleTrack(media_id, track, language, "sidecar", _ext(name), False, str(exc)))
            continue
        if skipped:
            notes.append(f"{name}: skipped {skipped} malformed cues")
        tracks.append(SubtitleTrack(media_id, track, language, "sidecar", _ext(name)))
        cues.extend(found)
    try:
        streams, stream_cues = embedded_tracks(item.path, media_id)
    except MediaError:
        streams, stream_cues = [], []  # the audio stage reports an unreadable container
    tracks.extend(streams)
    cues.extend(stream_cues)
    notes.extend(f"{t.track} ({t.codec}): {t.note}" for t in streams if t.note)
    return tracks, cues, notes


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()


def process_media(job: MediaJob) -> MediaResult:
    """Run the per-media stages for one item.

    Raises:
        MediaError: the item cannot be used at all (unreadable, no audio and no subtitles).
    """
    item = job.item
    tracks, cues, notes = read_subtitles(item, job.media_id)
    segments: tuple[Segment, ...] = ()
    duration_ms = max((c.end_ms for c in cues), default=0)
    has_audio = True
    try:
        audio = decode_audio(item.path, job.max_duration_s * 1000)
    except MediaError as exc:
        readable_cues = bool(cues)
        if not readable_cues or "no audio stream" not in exc.problem:
            raise MediaError(item.rel_path, exc.problem) from exc
        notes.append(exc.problem)
        has_audio = False
    else:
        duration_ms = int(len(audio) * 1000 / SAMPLE_RATE)
        transcript = transcriber_for(job.transcribe).transcribe(audio, job.media_id)
        segments = transcript.segments
    if item.metadata_error:
        notes.append(item.metadata_error)

    units: list[Unit] = units_from_segments(segments)
    by_track: dict[str, list[Cue]] = {}
    for cue in cues:
        by_track.setdefault(cue.track, []).append(cue)
    languages = {t.track: t.language for t in tracks}
    for track, track_cues in by_track.items():
        units.extend(units_from_cues(track_cues, languages.get(track)))
    media = Media(job.media_id, item.path, job.sha256, duration_ms, item.source, has_audio)
    return MediaResult(
        media=media,
        rel_path=item.rel_path,
        asr_model=job.transcribe.model,
        segments=segments,
        tracks=tuple(tracks),
        cues=tuple(cues),
        units=tuple(units),
        notes=tuple(notes),
    )
