"""The per-media stages as one function a worker runs: decode, ASR, subtitles, units.

Workers keep their transcriber between items (models load once per process).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from analyzer.errors import ChorusError, MediaError, SubtitleError
from analyzer.fingerprint import FingerprintError, fingerprint_audio, fpcalc_path, to_bytes
from analyzer.limits import FLAGS, LimitExceeded, format_duration
from analyzer.media import SAMPLE_RATE, declared_duration_ms, decode_audio
from analyzer.records import Alignment, Cue, Media, MediaInput, Segment, SubtitleTrack, Unit, UnitSource
from analyzer.store import MediaResult
from analyzer.subtitles.align import align_tracks
from analyzer.subtitles.embedded import embedded_tracks
from analyzer.subtitles.ocr import is_ocr_track, needs_ocr, read_pictures
from analyzer.subtitles.read import language_from_filename, read_subtitle_file
from analyzer.transcribe import AudioItem, TranscribeOptions, Transcriber, Transcript, create
from analyzer.transcribe.base import cache_key
from analyzer.transcribe.evidence import flag_note, translation_units
from analyzer.units import units_from_cues, units_from_segments

_TRANSCRIBERS: dict[TranscribeOptions, Transcriber] = {}


@dataclass(frozen=True)
class MediaJob:
    item: MediaInput
    media_id: str
    sha256: str
    transcribe: TranscribeOptions
    max_duration_s: float
    max_cues_per_track: int = 0  # 0: no limit (LimitOptions documents the defaults)
    max_file_bytes: int = 0  # applies to sidecar subtitle files here
    ocr: str = "off"  # "auto", "on" or "off": read subtitles from the picture (ScanOptions.ocr)


# The current batch's decoded audio and transcripts by media id (process_media_batch):
# its items are transcribed together, then each runs through process_media.
_BATCHED: dict[str, tuple[np.ndarray, Transcript | Exception]] = {}


def transcriber_for(options: TranscribeOptions) -> Transcriber:
    if options not in _TRANSCRIBERS:
        _TRANSCRIBERS[options] = create(options)
    return _TRANSCRIBERS[options]


def read_subtitles(
    item: MediaInput, media_id: str, max_cues: int = 0, max_bytes: int = 0
) -> tuple[list[SubtitleTrack], list[Cue], list[str]]:
    """Sidecar files and embedded streams; a bad track is a note, never a failed item."""
    tracks: list[SubtitleTrack] = []
    cues: list[Cue] = []
    notes: list[str] = []
    for path in item.subtitle_paths:
        name = os.path.basename(path)
        track = f"sidecar:{name}"
        language = language_from_filename(path)
        try:
            found, skipped = read_subtitle_file(
                path, media_id, track, language, max_cues=max_cues, max_bytes=max_bytes
            )
        except ChorusError as exc:  # named by file name: the item's path already says where
            problem = f"{name}: {exc.problem}" if isinstance(exc, SubtitleError) else str(exc)
            notes.append(problem)
            tracks.append(SubtitleTrack(media_id, track, language, "sidecar", _ext(name), False, problem))
            continue
        if skipped:
            notes.append(f"{name}: skipped {skipped} malformed cues")
        tracks.append(SubtitleTrack(media_id, track, language, "sidecar", _ext(name)))
        cues.extend(found)
    try:
        streams, stream_cues = embedded_tracks(item.path, media_id)
    except MediaError:
        streams, stream_cues = [], []  # the audio stage reports an unreadable container
    if max_cues:
        streams, stream_cues = _limit_streams(streams, stream_cues, max_cues)
    tracks.extend(streams)
    cues.extend(stream_cues)
    notes.extend(f"{t.track} ({t.codec}): {t.note}" for t in streams if t.note)
    return tracks, cues, notes


def _limit_streams(
    streams: list[SubtitleTrack], cues: list[Cue], max_cues: int
) -> tuple[list[SubtitleTrack], list[Cue]]:
    """Embedded streams with more cues than the limit are listed unread, like a bad sidecar."""
    counts: dict[str, int] = {}
    for cue in cues:
        counts[cue.track] = counts.get(cue.track, 0) + 1
    over = {track for track, count in counts.items() if count > max_cues}
    if not over:
        return streams, cues
    flag = FLAGS["max_cues_per_track"]
    limited = [
        replace(
            t,
            readable=False,
            note=f"{counts[t.track]:,} cues; the limit is {max_cues:,} per track (raise it with {flag})",
        )
        if t.track in over
        else t
        for t in streams
    ]
    return limited, [c for c in cues if c.track not in over]


# Whisper pads every input to 30 s; given a fraction of a second it invents a stock phrase
# ("Bye bye.", "Thank you.") more often than it hears one, and no sentence is that short.
MIN_ASR_MS = 500
# Audio this much (and 10%) shorter than the container declares is reported as probably
# truncated; audio a little shorter than the video is common and not worth a note.
TRUNCATED_GAP_MS = 2000
# A cue that starts this long after the media ends cannot be what anyone heard in it.
PAST_END_SLACK_MS = 2000


def _drop_cues_past_end(cues: list[Cue], duration_ms: int) -> tuple[list[Cue], list[str]]:
    """Cues that start after the media ends (wrong file, wrong offset), dropped with a note."""
    kept: list[Cue] = []
    dropped: dict[str, list[Cue]] = {}
    for cue in cues:
        if cue.start_ms > duration_ms + PAST_END_SLACK_MS:
            dropped.setdefault(cue.track, []).append(cue)
        else:
            kept.append(cue)
    notes = [
        f"{track.removeprefix('sidecar:')}: dropped {len(late)} cue(s) that start after the media ends at "
        f"{format_duration(duration_ms / 1000)} (first at {format_duration(late[0].start_ms / 1000)})"
        for track, late in dropped.items()
    ]
    return kept, notes


def _heard(has_audio: bool, duration_ms: int, segments: tuple[Segment, ...]) -> str:
    """What the audio gave, for the reason of an item with nothing to compare."""
    length = format_duration(duration_ms / 1000)
    if not has_audio:
        return "no audio stream (video only)"
    if duration_ms < MIN_ASR_MS:
        return f"audio too short to transcribe ({length}; at least {MIN_ASR_MS / 1000:.1f} s needed)"
    if segments:
        heard = " ".join(s.text.strip() for s in segments)
        return f"no sentences in {length} of audio (heard only {heard[:80]!r})"
    return f"no speech found in {length} of audio"


def _with_notes(problem: str, notes: list[str]) -> str:
    """A failure reason that also carries what went wrong with the item's subtitles."""
    return "; ".join([problem, *notes])


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()


def process_media(job: MediaJob) -> MediaResult:
    """Run the per-media stages for one item.

    Raises:
        MediaError: the item cannot be used at all (unreadable, past a limit, or nothing
            to compare: no speech and no subtitle text); the message says why.
    """
    item = job.item
    tracks, cues, notes = read_subtitles(item, job.media_id, job.max_cues_per_track, job.max_file_bytes)
    segments: tuple[Segment, ...] = ()
    asr: Transcript | None = None
    alignments: list[Alignment] = []
    fingerprint: bytes | None = None
    has_audio = True
    max_ms = int(job.max_duration_s * 1000)
    try:
        audio = _BATCHED[job.media_id][0] if job.media_id in _BATCHED else decode_audio(item.path, max_ms)
    except MediaError as exc:
        if "no audio stream" not in exc.problem:
            raise MediaError(item.rel_path, _with_notes(exc.problem, notes)) from exc
        has_audio = False
        declared = declared_duration_ms(item.path)
        if max_ms and declared and declared > max_ms:
            length, limit = format_duration(declared / 1000), format_duration(max_ms / 1000)
            raise LimitExceeded(item.rel_path, f"{length} long", limit, FLAGS["max_duration_s"]) from exc
        duration_ms = declared or max((c.end_ms for c in cues), default=0)
    else:
        duration_ms = int(len(audio) * 1000 / SAMPLE_RATE)
        fingerprint = _fingerprint(audio, notes)
        declared = declared_duration_ms(item.path)
        if declared and duration_ms < 0.9 * declared and declared - duration_ms > TRUNCATED_GAP_MS:
            notes.append(
                f"decoded only {format_duration(duration_ms / 1000)} of the "
                f"{format_duration(declared / 1000)} the container declares (truncated file?)"
            )
        if duration_ms >= MIN_ASR_MS:
            asr = _transcript(job, audio)
            segments = asr.segments
            notes.extend(note for note in [flag_note(asr.details)] if note)
        # Before units: subtitle units must carry the speech's times, not the file's.
        cues, alignments = align_tracks(cues, audio, segments)
    if job.ocr != "off":  # after alignment: text in the picture keeps the picture's clock
        burned_in = needs_ocr(job.ocr, tracks, bool(segments), asr.language_probability if asr else 0.0)
        tracks, ocr_cues, ocr_notes = read_pictures(item.path, job.media_id, tracks, burned_in)
        cues = [*cues, *ocr_cues]
        read_now = {t.track for t in tracks if is_ocr_track(t)}  # "image subtitles, not read" is stale
        notes = [n for n in notes if n.split(" ", 1)[0] not in read_now] + ocr_notes
    if has_audio or declared:
        cues, late = _drop_cues_past_end(cues, max(duration_ms, declared or 0))
        notes.extend(late)
    if item.metadata_error:
        notes.append(item.metadata_error)

    units: list[Unit] = units_from_segments(segments)
    units.extend(translation_units(asr.translation) if asr else [])
    by_track: dict[str, list[Cue]] = {}
    for cue in cues:
        by_track.setdefault(cue.track, []).append(cue)
    languages = {t.track: t.language for t in tracks}
    from_ocr = {t.track for t in tracks if is_ocr_track(t)}
    for track, track_cues in by_track.items():
        source: UnitSource = "ocr" if track in from_ocr else "subtitle"
        units.extend(units_from_cues(track_cues, languages.get(track), source))
    if not units:
        problem = f"{_heard(has_audio, duration_ms, segments)} and no subtitle text; nothing to compare"
        raise MediaError(item.rel_path, _with_notes(problem, notes))
    if not has_audio:
        notes.append("no audio stream (video only); read from subtitles alone")
    media = Media(job.media_id, item.path, job.sha256, duration_ms, item.source, has_audio)
    return MediaResult(
        media=media,
        rel_path=item.rel_path,
        asr_model=cache_key(job.transcribe),
        segments=segments,
        tracks=tuple(tracks),
        cues=tuple(cues),
        units=tuple(units),
        notes=tuple(notes),
        alignments=tuple(alignments),
        asr_segments=asr.details if asr else (),
        audio_fingerprint=fingerprint,
    )


def _fingerprint(audio: np.ndarray, notes: list[str]) -> bytes | None:
    """The audio's Chromaprint values; None without fpcalc (the corpus stage warns once)."""
    if fpcalc_path() is None:
        return None
    try:
        return to_bytes(fingerprint_audio(audio, SAMPLE_RATE))
    except FingerprintError as exc:
        notes.append(f"no audio fingerprint: {exc}")
        return None


def _transcript(job: MediaJob, audio: np.ndarray) -> Transcript:
    """The batch's transcript of this item, or a transcription of it alone."""
    if job.media_id in _BATCHED:
        found = _BATCHED[job.media_id][1]
        if isinstance(found, Exception):
            raise found
        return found
    return transcriber_for(job.transcribe).transcribe(audio, job.media_id)


def process_media_batch(jobs: Sequence[MediaJob]) -> list[MediaResult | Exception]:
    """Run the per-media stages for several items, their speech transcribed in one batch.

    The engine packs and decodes the items' speech together (see
    analyzer/transcribe/faster.py); everything else is process_media, item by item. One
    item's failure is its entry in the list, never the batch's.

    Raises:
        ModelError: the ASR model cannot be loaded (every item would fail the same way).
    """
    ready: list[tuple[MediaJob, np.ndarray]] = []
    for job in jobs:
        try:
            audio = decode_audio(job.item.path, int(job.max_duration_s * 1000))
        except MediaError:
            continue  # process_media decodes it again and says why, with its subtitle notes
        if len(audio) * 1000 / SAMPLE_RATE >= MIN_ASR_MS:
            ready.append((job, audio))
    for options in {job.transcribe for job, _ in ready}:
        mine = [(job, audio) for job, audio in ready if job.transcribe == options]
        found = transcriber_for(options).transcribe_many([AudioItem(j.media_id, a) for j, a in mine])
        for (job, audio), transcript in zip(mine, found, strict=True):
            _BATCHED[job.media_id] = (audio, transcript)
    out: list[MediaResult | Exception] = []
    try:
        for job in jobs:
            try:
                out.append(process_media(job))
            except ChorusError as exc:
                out.append(exc)
            except Exception as exc:  # sent back to the driver, so plain and picklable
                out.append(ChorusError(f"{type(exc).__name__}: {exc}"))
    finally:
        for job in jobs:
            _BATCHED.pop(job.media_id, None)
    return out
