"""Read text subtitle tracks straight out of a Matroska or WebM file.

FFmpeg leaves some text tracks unidentified: mkvmerge writes WebVTT as S_TEXT/WEBVTT,
which the FFmpeg builds PyAV ships do not map to a decoder, so the stream arrives with
no codec and its cues would be lost. This reader walks the EBML structure itself
(Segment -> Info, Tracks, Cluster -> SimpleBlock / BlockGroup) and returns the cues of
every text subtitle track, timed by cluster timecode + block offset times TimecodeScale.

Input is untrusted: every size is checked against its parent and the file, blocks of
the wanted tracks are read only up to ``max_block_bytes``, decompression is bounded, and
the number of elements visited is capped. A malformed file raises SubtitleError naming
it; a malformed block is skipped and counted.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from analyzer.errors import SubtitleError

EBML_MAGIC = b"\x1a\x45\xdf\xa3"

# Element ids (with their length marker, as written in the Matroska specification).
_EBML = 0x1A45DFA3
_DOC_TYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_NUMBER = 0xD7
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_NAME = 0x536E
_LANGUAGE = 0x22B59C
_LANGUAGE_IETF = 0x22B59D
_DEFAULT_DURATION = 0x23E383
_CONTENT_ENCODINGS = 0x6D80
_CONTENT_ENCODING = 0x6240
_CONTENT_ENCODING_TYPE = 0x4734
_CONTENT_COMPRESSION = 0x5034
_CONTENT_COMP_ALGO = 0x4254
_CONTENT_COMP_SETTINGS = 0x4255
_CONTENT_ENCRYPTION = 0x5035
_CLUSTER = 0x1F43B675
_CLUSTER_TIMECODE = 0xE7
_SIMPLE_BLOCK = 0xA3
_BLOCK_GROUP = 0xA0
_BLOCK = 0xA1
_BLOCK_DURATION = 0x9B
# Children a Cluster may hold: an unknown-size Cluster ends at the first other id.
_CLUSTER_CHILDREN = frozenset(
    {_CLUSTER_TIMECODE, _SIMPLE_BLOCK, _BLOCK_GROUP, 0xA7, 0xAB, 0x5854, 0xAF, 0xBF, 0xEC}
)

SUBTITLE_TRACK_TYPE = 0x11
DEFAULT_TIMECODE_SCALE_NS = 1_000_000
# Matroska says a track without a Language element is English.
DEFAULT_LANGUAGE = "eng"

# Matroska codec id -> the codec name used in track records (FFmpeg's spelling).
TEXT_CODEC_IDS = {
    "S_TEXT/UTF8": "subrip",
    "S_TEXT/ASCII": "subrip",
    "S_TEXT/WEBVTT": "webvtt",
    "D_WEBVTT/SUBTITLES": "webvtt",
    "D_WEBVTT/CAPTIONS": "webvtt",
    "D_WEBVTT/DESCRIPTIONS": "webvtt",
    "S_TEXT/SSA": "ssa",
    "S_TEXT/ASS": "ass",
    "S_SSA": "ssa",
    "S_ASS": "ass",
}
_ZLIB = 0
_HEADER_STRIPPING = 3


@dataclass(frozen=True)
class MatroskaOptions:
    """Bounds for reading an untrusted file."""

    max_block_bytes: int = 1 << 20  # a subtitle block larger than this is skipped
    max_elements: int = 20_000_000  # element headers visited before giving up


@dataclass(frozen=True)
class MatroskaBlock:
    """One block of a text track: absolute start, duration when known, raw payload."""

    start_ms: int
    duration_ms: int | None
    payload: bytes


@dataclass(frozen=True)
class MatroskaTrack:
    """A subtitle TrackEntry and the blocks read for it."""

    number: int
    codec_id: str
    language: str  # IETF tag when given, else the ISO 639-2 Language (default "eng")
    name: str | None
    blocks: tuple[MatroskaBlock, ...] = ()
    skipped: int = 0  # blocks that could not be read (laced, too large, bad timing)
    problem: str | None = None  # why the track cannot be read at all (compression)
    stopped: str | None = None  # why reading ended early (a file cut short): cues may be missing


class _Malformed(Exception):
    """The structure is broken at this point; the caller turns it into SubtitleError."""


@dataclass
class _Header:
    id: int
    data: int  # offset of the element's content
    size: int | None  # None: unknown size (allowed for Segment and Cluster only)


@dataclass
class _TrackBuilder:
    number: int = 0
    track_type: int = 0
    codec_id: str = ""
    language: str = DEFAULT_LANGUAGE
    language_ietf: str | None = None
    name: str | None = None
    default_duration_ns: int | None = None
    compression: tuple[int, bytes] | None = None
    problem: str | None = None
    blocks: list[MatroskaBlock] = field(default_factory=list)
    skipped: int = 0


class _Reader:
    """Bounded random access to the file: every read is checked against its end."""

    def __init__(self, handle: BinaryIO, size: int, options: MatroskaOptions) -> None:
        self.handle = handle
        self.size = size
        self.options = options
        self.visited = 0

    def read(self, pos: int, count: int) -> bytes:
        if pos < 0 or count < 0 or pos + count > self.size:
            raise _Malformed(f"an element runs past the end of the file at byte {pos}")
        self.handle.seek(pos)
        data = self.handle.read(count)
        if len(data) != count:
            raise _Malformed(f"the file is shorter than it says at byte {pos}")
        return data

    def header(self, pos: int, end: int, *, clamp: bool = False) -> tuple[_Header, int]:
        """The element header at ``pos`` and the offset where the element ends.

        With ``clamp`` an element larger than its parent ends with the parent (a Segment
        of a file cut short) instead of being an error.
        """
        self.visited += 1
        if self.visited > self.options.max_elements:
            raise _Malformed(f"more than {self.options.max_elements:,} elements; stopped reading")
        element_id, id_length = self._vint(pos, end, max_length=4, keep_marker=True)
        if element_id is None:  # never with keep_marker; keeps the type exact
            raise _Malformed(f"invalid element id at byte {pos}")
        size, size_length = self._vint(pos + id_length, end, max_length=8, keep_marker=False)
        data = pos + id_length + size_length
        if size is None:
            return _Header(element_id, data, None), end
        if data + size > end:
            if clamp:
                return _Header(element_id, data, end - data), end
            raise _Malformed(f"element 0x{element_id:X} at byte {pos} is larger than its parent")
        return _Header(element_id, data, size), data + size

    def _vint(self, pos: int, end: int, *, max_length: int, keep_marker: bool) -> tuple[int | None, int]:
        """An EBML variable-length integer: (value, length); value None means "unknown"."""
        if pos >= end:
            raise _Malformed(f"truncated element header at byte {pos}")
        first = self.read(pos, 1)[0]
        length = 1
        while length <= 8 and not first & (0x80 >> (length - 1)):
            length += 1
        if length > max_length:
            raise _Malformed(f"invalid variable-length number at byte {pos}")
        if pos + length > end:
            raise _Malformed(f"truncated element header at byte {pos}")
        raw = int.from_bytes(self.read(pos, length), "big")
        if keep_marker:
            return raw, length
        value = raw & ((1 << (7 * length)) - 1)
        if value == (1 << (7 * length)) - 1:
            return None, length
        return value, length

    def children(self, start: int, end: int) -> list[tuple[_Header, int]]:
        """The sized child elements of a small master element (Info, Tracks, ...)."""
        found = []
        pos = start
        while pos < end:
            header, child_end = self.header(pos, end)
            if header.size is None:
                raise _Malformed(f"element 0x{header.id:X} at byte {pos} has an unknown size")
            found.append((header, child_end))
            pos = child_end
        return found

    def uint(self, header: _Header) -> int:
        size = header.size or 0
        if size > 8:
            raise _Malformed(f"integer element 0x{header.id:X} is {size} bytes long")
        return int.from_bytes(self.read(header.data, size), "big")

    def text(self, header: _Header, limit: int = 4096) -> str:
        size = min(header.size or 0, limit)
        return self.read(header.data, size).split(b"\0", 1)[0].decode("utf-8", errors="replace")

    def binary(self, header: _Header, limit: int = 1 << 16) -> bytes:
        size = header.size or 0
        if size > limit:
            raise _Malformed(f"element 0x{header.id:X} is {size:,} bytes; at most {limit:,} expected")
        return self.read(header.data, size)


def is_matroska(path: str) -> bool:
    """True when the file starts with the EBML magic (Matroska, WebM)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == EBML_MAGIC
    except OSError:
        return False


def _compression(reader: _Reader, encodings_start: int, encodings_end: int, track: _TrackBuilder) -> None:
    """Record the track's content compression, or why its blocks cannot be read."""
    for encoding, encoding_end in reader.children(encodings_start, encodings_end):
        if encoding.id != _CONTENT_ENCODING:
            continue
        for child, child_end in reader.children(encoding.data, encoding_end):
            encrypted = child.id == _CONTENT_ENCODING_TYPE and reader.uint(child) != 0
            if child.id == _CONTENT_ENCRYPTION or encrypted:
                track.problem = "the track is encrypted"
            elif child.id == _CONTENT_COMPRESSION:
                algo, settings = _ZLIB, b""
                for part, _ in reader.children(child.data, child_end):
                    if part.id == _CONTENT_COMP_ALGO:
                        algo = reader.uint(part)
                    elif part.id == _CONTENT_COMP_SETTINGS:
                        settings = reader.binary(part)
                if algo not in (_ZLIB, _HEADER_STRIPPING):
                    track.problem = f"the track uses content compression {algo} (bzlib/lzo), not read"
                elif track.compression is not None:
                    track.problem = "the track is compressed twice, not read"
                else:
                    track.compression = (algo, settings)


def _track_entry(reader: _Reader, start: int, end: int) -> _TrackBuilder:
    track = _TrackBuilder()
    for child, child_end in reader.children(start, end):
        if child.id == _TRACK_NUMBER:
            track.number = reader.uint(child)
        elif child.id == _TRACK_TYPE:
            track.track_type = reader.uint(child)
        elif child.id == _CODEC_ID:
            track.codec_id = reader.text(child)
        elif child.id == _LANGUAGE:
            track.language = reader.text(child).strip()
        elif child.id == _LANGUAGE_IETF:
            track.language_ietf = reader.text(child).strip() or None
        elif child.id == _NAME:
            track.name = reader.text(child) or None
        elif child.id == _DEFAULT_DURATION:
            track.default_duration_ns = reader.uint(child) or None
        elif child.id == _CONTENT_ENCODINGS:
            _compression(reader, child.data, child_end, track)
    return track


class _Scan:
    """One pass over a Segment: Info and Tracks read, Cluster extents remembered."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.scale_ns = DEFAULT_TIMECODE_SCALE_NS
        self.tracks: list[_TrackBuilder] = []
        self.clusters: list[tuple[int, int]] = []  # (content start, end)
        self.stopped: str | None = None  # why reading ended before the end of the file

    def segment(self, start: int, end: int) -> None:
        """Walk the Segment's children; a break after the Tracks only stops reading."""
        try:
            self._segment(start, end)
        except _Malformed as exc:
            if not self.tracks:
                raise
            self.stopped = str(exc)

    def _segment(self, start: int, end: int) -> None:
        pos = start
        while pos < end:
            header, element_end = self.reader.header(pos, end)
            if header.id == _CLUSTER:
                element_end = self._cluster_end(header, min(element_end, end))
                self.clusters.append((header.data, element_end))
            elif header.size is None:
                raise _Malformed(f"element 0x{header.id:X} at byte {pos} has an unknown size")
            elif header.id == _INFO:
                for child, _ in self.reader.children(header.data, element_end):
                    if child.id == _TIMECODE_SCALE:
                        self.scale_ns = self.reader.uint(child) or DEFAULT_TIMECODE_SCALE_NS
            elif header.id == _TRACKS:
                for child, child_end in self.reader.children(header.data, element_end):
                    if child.id == _TRACK_ENTRY:
                        self.tracks.append(_track_entry(self.reader, child.data, child_end))
            pos = element_end

    def _cluster_end(self, header: _Header, sized_end: int) -> int:
        """Where a Cluster ends; an unknown-size one ends before its first non-child."""
        if header.size is not None:
            return sized_end
        pos = header.data
        while pos < sized_end:
            child, child_end = self.reader.header(pos, sized_end)
            if child.id not in _CLUSTER_CHILDREN or child.size is None:
                return pos
            pos = child_end
        return sized_end

    def cluster(self, start: int, end: int, wanted: dict[int, _TrackBuilder]) -> None:
        """Read the wanted tracks' blocks in one Cluster."""
        timecode: int | None = None
        pos = start
        while pos < end:
            header, element_end = self.reader.header(pos, end)
            if header.size is None:
                raise _Malformed(f"element 0x{header.id:X} at byte {pos} has an unknown size")
            if header.id == _CLUSTER_TIMECODE:
                timecode = self.reader.uint(header)
            elif header.id == _SIMPLE_BLOCK:
                self._block(header, timecode, None, wanted)
            elif header.id == _BLOCK_GROUP:
                block: _Header | None = None
                duration: int | None = None
                for child, _ in self.reader.children(header.data, element_end):
                    if child.id == _BLOCK:
                        block = child
                    elif child.id == _BLOCK_DURATION:
                        duration = self.reader.uint(child)
                if block is not None:
                    self._block(block, timecode, duration, wanted)
            pos = element_end

    def _block(
        self, header: _Header, timecode: int | None, duration: int | None, wanted: dict[int, _TrackBuilder]
    ) -> None:
        size = header.size or 0
        head = self.reader.read(header.data, min(size, 8))
        length = 1
        while length <= 8 and head and not head[0] & (0x80 >> (length - 1)):
            length += 1
        if not head or length > len(head):
            return  # not even a track number: nothing to attribute it to
        number = int.from_bytes(head[:length], "big") & ((1 << (7 * length)) - 1)
        track = wanted.get(number)
        if track is None:
            return
        if timecode is None or size < length + 3 or size > self.reader.options.max_block_bytes:
            track.skipped += 1
            return
        data = self.reader.read(header.data, size)
        relative = int.from_bytes(data[length : length + 2], "big", signed=True)
        if data[length + 2] & 0x06:  # laced: several frames in one block, never used for text
            track.skipped += 1
            return
        payload = _decompress(data[length + 3 :], track.compression, self.reader.options.max_block_bytes)
        start_ns = (timecode + relative) * self.scale_ns
        if payload is None or start_ns < 0:
            track.skipped += 1
            return
        if duration is not None:
            duration_ns: int | None = duration * self.scale_ns
        else:
            duration_ns = track.default_duration_ns
        duration_ms = None if duration_ns is None else round(duration_ns / 1_000_000)
        track.blocks.append(MatroskaBlock(round(start_ns / 1_000_000), duration_ms, payload))


def _decompress(payload: bytes, compression: tuple[int, bytes] | None, limit: int) -> bytes | None:
    """The block's frame without its content compression; None when it is corrupt or too big."""
    if compression is None:
        return payload
    algo, settings = compression
    if algo == _HEADER_STRIPPING:
        return settings + payload
    inflater = zlib.decompressobj()
    try:
        frame = inflater.decompress(payload, limit)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else frame


def read_matroska_subtitles(path: str, options: MatroskaOptions | None = None) -> list[MatroskaTrack]:
    """Every subtitle TrackEntry of the file in file order, with blocks for the text ones.

    Blocks are read only for tracks whose codec id is in TEXT_CODEC_IDS and whose
    content is plain or zlib / header-stripping compressed. Raises SubtitleError naming
    the file when it is not Matroska or its structure is broken before any cue.
    """
    options = options or MatroskaOptions()
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            reader = _Reader(handle, size, options)
            return _read(reader)
    except OSError as exc:
        raise SubtitleError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    except _Malformed as exc:
        raise SubtitleError(path, f"malformed Matroska file: {exc}") from exc


def _read(reader: _Reader) -> list[MatroskaTrack]:
    header, end = reader.header(0, reader.size)
    if header.id != _EBML or header.size is None:
        raise _Malformed("no EBML header; not a Matroska or WebM file")
    doc_type = next(
        (reader.text(child) for child, _ in reader.children(header.data, end) if child.id == _DOC_TYPE), ""
    )
    if doc_type not in ("matroska", "webm"):
        raise _Malformed(f"document type {doc_type!r} is not Matroska or WebM")
    segment, segment_end = reader.header(end, reader.size, clamp=True)
    if segment.id != _SEGMENT:
        raise _Malformed("no Segment after the EBML header")
    scan = _Scan(reader)
    scan.segment(segment.data, segment_end)
    subtitles = [track for track in scan.tracks if track.track_type == SUBTITLE_TRACK_TYPE]
    wanted = {
        track.number: track
        for track in subtitles
        if track.codec_id in TEXT_CODEC_IDS and track.problem is None and track.number > 0
    }
    try:
        for start, cluster_end in scan.clusters if wanted else []:
            scan.cluster(start, cluster_end, wanted)
    except _Malformed as exc:
        scan.stopped = str(exc)
    return [
        MatroskaTrack(
            track.number,
            track.codec_id,
            track.language_ietf or track.language or DEFAULT_LANGUAGE,
            track.name,
            tuple(sorted(track.blocks, key=lambda block: block.start_ms)),
            track.skipped,
            track.problem,
            scan.stopped,
        )
        for track in subtitles
    ]
