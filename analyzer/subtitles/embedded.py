"""List the subtitle streams inside a media container and read the text ones into cues.

Embedded text subtitles (SubRip, ASS/SSA, mov_text, WebVTT) are decoded with PyAV; FFmpeg
hands every text codec back as an ASS "Dialogue" payload, which is cut down to its text
and cleaned like a sidecar. Text tracks FFmpeg cannot identify in Matroska/WebM (mkvmerge's
S_TEXT/WEBVTT) are read by analyzer.subtitles.matroska instead. Image subtitles (PGS,
VobSub, DVB) are listed as unreadable: reading them needs OCR. Each stream fails on its
own, so one bad stream costs only itself.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from fractions import Fraction

import av
from av.container import InputContainer
from av.subtitles.stream import SubtitleStream
from av.subtitles.subtitle import AssSubtitle, SubtitleSet

from analyzer.errors import MediaError, SubtitleError
from analyzer.records import Cue, SubtitleTrack
from analyzer.subtitles.matroska import TEXT_CODEC_IDS, MatroskaTrack, is_matroska, read_matroska_subtitles
from analyzer.subtitles.read import clean_cue_text, is_ass_drawing, normalise_language

# FFmpeg codec names (descriptor and decoder spellings) of text subtitles read here.
TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"})
# Image subtitles: listed, never read.
BITMAP_CODECS = frozenset(
    {
        "hdmv_pgs_subtitle",
        "pgssub",
        "dvd_subtitle",
        "dvdsub",
        "dvb_subtitle",
        "dvbsub",
        "xsub",
    }
)
IMAGE_NOTE = "image subtitles, not read"
UNKNOWN_NOTE = (
    "FFmpeg could not identify this subtitle codec (for example WebVTT muxed into"
    " Matroska as S_TEXT/WEBVTT); not read"
)
# Note on a track FFmpeg could not identify that the Matroska reader read instead.
MATROSKA_NOTE = "read from the Matroska blocks: FFmpeg does not identify codec {codec_id}"
# An ASS event from FFmpeg: ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text.
_ASS_FIELDS_BEFORE_TEXT = 8
# SubtitleSet.end_display_time when the decoder does not know when a cue ends.
_NO_END = 0xFFFFFFFF


@dataclass
class _Reader:
    """One text stream being read: its cues so far, or the error that stopped it."""

    stream: SubtitleStream
    track: SubtitleTrack
    cues: list[Cue] = field(default_factory=list)
    open_ended: set[int] = field(default_factory=set)  # cue indexes with no known end
    error: str | None = None


def _language(stream: SubtitleStream) -> str | None:
    """The stream's language tag (any key case; "und" and the like give None)."""
    for key, value in stream.metadata.items():
        if key.lower() == "language":
            return normalise_language(value)
    return None


def _describe(stream: SubtitleStream, media_id: str) -> SubtitleTrack:
    """The stream as a track record: readable only for text codecs FFmpeg can decode."""
    track = f"stream:{stream.index}"
    language = _language(stream)
    context = stream.codec_context
    if context is None:
        return SubtitleTrack(media_id, track, language, "embedded", "unknown", False, UNKNOWN_NOTE)
    codec = context.codec.canonical_name
    if {codec, context.name} & BITMAP_CODECS or context.codec.bitmap_sub:
        return SubtitleTrack(media_id, track, language, "embedded", codec, False, IMAGE_NOTE)
    if {codec, context.name} & TEXT_CODECS or context.codec.text_sub:
        return SubtitleTrack(media_id, track, language, "embedded", codec)
    note = f"subtitle codec {codec} is not supported; not read"
    return SubtitleTrack(media_id, track, language, "embedded", codec, False, note)


def _ass_text(payload: bytes) -> tuple[str, bool]:
    """The text field of an FFmpeg ASS event, and whether the event is a drawing."""
    line = payload.decode("utf-8", errors="replace")
    fields = line.split(",", _ASS_FIELDS_BEFORE_TEXT)
    text = fields[-1] if len(fields) > _ASS_FIELDS_BEFORE_TEXT else line
    return text, is_ass_drawing(text)


def _set_text(subtitles: SubtitleSet) -> str:
    """The plain text of every text rectangle in a decoded subtitle set, joined."""
    parts = []
    for rect in subtitles:
        if not isinstance(rect, AssSubtitle):
            continue
        if rect.type == b"ass":
            text, drawing = _ass_text(rect.ass)
            if not drawing:
                parts.append(clean_cue_text(text, ass=True))
        else:
            parts.append(clean_cue_text(rect.text.decode("utf-8", errors="replace")))
    return " ".join(part for part in parts if part)


def _ms(ticks: int, time_base: Fraction) -> int:
    return round(ticks * time_base * 1000)


def _timing(packet: av.Packet, subtitles: SubtitleSet, time_base: Fraction) -> tuple[int, int | None]:
    """Start and end in ms; end is None when neither packet nor decoder says.

    The packet's pts and duration are the container's own timing (exact in Matroska
    and MP4); the decoder's display times are offsets from it, used when the packet
    carries no duration.
    """
    base = _ms(packet.pts or 0, time_base)
    start = base + subtitles.start_display_time
    if packet.duration:
        return start, base + _ms(packet.duration, time_base)
    if subtitles.end_display_time not in (0, _NO_END):
        return start, base + subtitles.end_display_time
    return start, None


def _read_packet(reader: _Reader, packet: av.Packet) -> None:
    """Decode one packet of a text stream into at most one cue on the reader."""
    if packet.pts is None or packet.size == 0:
        return  # the demuxer's end-of-stream flush packet
    subtitles = reader.stream.codec_context.decode2(packet)
    if subtitles is None:
        return
    text = _set_text(subtitles)
    if not text:
        return
    time_base = reader.stream.time_base or Fraction(1, 1000)
    start, end = _timing(packet, subtitles, time_base)
    if end is None:
        reader.open_ended.add(len(reader.cues))
    track = reader.track
    reader.cues.append(
        Cue(
            track.media_id,
            track.track,
            start,
            start if end is None else end,
            text,
            track.language,
        )
    )


def _close_open_ends(reader: _Reader) -> list[Cue]:
    """Cues sorted by time without exact duplicates (ASS repeats lines on layers).

    A cue with no known end ends where the next one starts (the last one at its start).
    """
    starts = sorted({cue.start_ms for cue in reader.cues})
    cues = []
    for index, cue in enumerate(reader.cues):
        if index in reader.open_ended:
            later = bisect.bisect_right(starts, cue.start_ms)
            end = starts[later] if later < len(starts) else cue.start_ms
            cue = replace(cue, end_ms=end)
        cues.append(cue)
    return list(dict.fromkeys(sorted(cues, key=lambda cue: (cue.start_ms, cue.end_ms))))


def _matroska_text(track: MatroskaTrack, payload: bytes) -> str:
    """Plain text of one Matroska text block.

    SSA/ASS blocks carry the event fields before the text; WebM's D_WEBVTT blocks carry
    the cue identifier and settings lines before it (mkvmerge's S_TEXT/WEBVTT keeps those
    in BlockAdditions, so its block is the text alone).
    """
    if TEXT_CODEC_IDS[track.codec_id] in ("ass", "ssa"):
        text, drawing = _ass_text(payload)
        return "" if drawing else clean_cue_text(text, ass=True)
    text = payload.decode("utf-8", errors="replace")
    if track.codec_id.startswith("D_WEBVTT/"):
        text = "".join(text.replace("\r\n", "\n").split("\n", 2)[2:])
    return clean_cue_text(text)


def _from_matroska(
    stream: SubtitleStream, described: SubtitleTrack, track: MatroskaTrack
) -> tuple[SubtitleTrack, list[Cue]]:
    """A track FFmpeg left unidentified, read from its own Matroska blocks when it is text."""
    if track.codec_id not in TEXT_CODEC_IDS:
        note = f"Matroska codec {track.codec_id or 'unknown'} is not a text subtitle format; not read"
        return replace(described, codec=track.codec_id or described.codec, note=note), []
    codec = TEXT_CODEC_IDS[track.codec_id]
    language = described.language or normalise_language(track.language)
    if track.problem is not None:
        return replace(described, language=language, codec=codec, note=f"{track.problem}; not read"), []
    notes = [MATROSKA_NOTE.format(codec_id=track.codec_id)]
    if track.skipped:
        notes.append(f"{track.skipped} unreadable blocks skipped")
    if track.stopped:
        notes.append(f"reading stopped early: {track.stopped}")
    record = replace(described, language=language, codec=codec, readable=True, note="; ".join(notes))
    reader = _Reader(stream, record)
    for block in track.blocks:
        text = _matroska_text(track, block.payload)
        if not text:
            continue
        if block.duration_ms is None:
            reader.open_ended.add(len(reader.cues))
        end = block.start_ms + (block.duration_ms or 0)
        reader.cues.append(Cue(record.media_id, record.track, block.start_ms, end, text, language))
    return _finish(reader, None)


def _unidentified(
    path: str, streams: list[SubtitleStream], tracks: list[SubtitleTrack]
) -> dict[str, tuple[SubtitleTrack, list[Cue]]]:
    """Tracks FFmpeg could not identify, read by the Matroska reader where it can.

    FFmpeg makes one stream per subtitle TrackEntry, in file order, so the k-th subtitle
    stream is the k-th subtitle TrackEntry; when the counts differ nothing is matched.
    """
    unknown = [index for index, track in enumerate(tracks) if track.codec == "unknown"]
    if not unknown or not is_matroska(path):
        return {}
    try:
        entries = read_matroska_subtitles(path)
    except SubtitleError as exc:
        note = f"{UNKNOWN_NOTE}; the Matroska reader failed too: {exc.problem}"
        return {tracks[index].track: (replace(tracks[index], note=note), []) for index in unknown}
    if len(entries) != len(tracks):
        return {}
    return {tracks[i].track: _from_matroska(streams[i], tracks[i], entries[i]) for i in unknown}


def _read_streams(container: InputContainer, readers: list[_Reader]) -> str | None:
    """Demux once, feeding each text stream's packets to its reader.

    A decoding error stops only that stream. An error of the container itself stops
    all of them; it is returned so each track can say it was cut short.
    """
    by_index = {reader.stream.index: reader for reader in readers}
    try:
        for packet in container.demux([reader.stream for reader in readers]):
            reader = by_index.get(packet.stream.index)
            if reader is None or reader.error is not None:
                continue
            try:
                _read_packet(reader, packet)
            except Exception as exc:  # decoders and bindings raise many kinds of error
                reader.error = f"could not decode: {_reason(exc)}"
    except av.FFmpegError as exc:
        return f"reading stopped early: {_reason(exc)}"
    return None


def _finish(reader: _Reader, stopped: str | None) -> tuple[SubtitleTrack, list[Cue]]:
    """The reader's track record (with a note when it failed) and its cues."""
    if reader.error is not None:
        return replace(reader.track, readable=False, note=reader.error), []
    track = reader.track if stopped is None else replace(reader.track, note=stopped)
    return track, _close_open_ends(reader)


def _reason(exc: BaseException) -> str:
    """The error's own words, without the path PyAV repeats (the caller names the file)."""
    strerror = getattr(exc, "strerror", None)
    return strerror if isinstance(strerror, str) and strerror else str(exc)


def _open(path: str) -> InputContainer:
    try:
        return av.open(path, mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot open the container: {_reason(exc)}") from exc


def embedded_tracks(path: str, media_id: str) -> tuple[list[SubtitleTrack], list[Cue]]:
    """Every subtitle stream in the container as a track, and the cues of the text ones.

    Track ids are "stream:<index>". Text tracks FFmpeg cannot identify in Matroska are
    read from their blocks (with a note saying so). Image and other unidentified
    streams are listed with readable=False and a note; a stream that fails to decode is listed the same way
    with the error, without losing the other streams. Cues are sorted by time within
    each track. Raises MediaError when the container cannot be opened.
    """
    with _open(path) as container:
        streams = list(container.streams.subtitles)
        tracks = [_describe(stream, media_id) for stream in streams]
        readers = [
            _Reader(stream, track) for stream, track in zip(streams, tracks, strict=True) if track.readable
        ]
        stopped = _read_streams(container, readers) if readers else None
    finished = {reader.track.track: _finish(reader, stopped) for reader in readers}
    finished.update(_unidentified(path, streams, tracks))
    result_tracks, cues = [], []
    for track in tracks:
        done = finished.get(track.track)
        result_tracks.append(done[0] if done else track)
        cues.extend(done[1] if done else [])
    return result_tracks, cues
