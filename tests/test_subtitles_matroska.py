"""The Matroska reader for text tracks FFmpeg cannot identify (S_TEXT/WEBVTT and kin).

The real files come from androidx/media; their cues are cross-checked against what
FFmpeg reads from the same files. Hand-built files cover the EBML features the real
ones do not use (compression, unknown sizes, BlockGroups without a duration).
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest

from analyzer.errors import SubtitleError
from analyzer.subtitles import embedded
from analyzer.subtitles.embedded import embedded_tracks
from analyzer.subtitles.matroska import (
    MatroskaBlock,
    MatroskaOptions,
    is_matroska,
    read_matroska_subtitles,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MKV = DATA / "video" / "mkv"


def _data(name: str) -> str:
    path = MKV / name
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    assert path.is_file(), f"missing data file {path}"
    return str(path)


def test_subtitles_matroska_webvtt_track_read_from_real_file() -> None:
    # mkvmerge muxed this track as S_TEXT/WEBVTT; FFmpeg gives the stream no codec.
    tracks, cues = embedded_tracks(_data("sample_with_vtt_subtitles.mkv"), "v1")
    assert [(t.track, t.codec, t.readable, t.language) for t in tracks] == [
        ("stream:2", "webvtt", True, None)
    ]
    assert tracks[0].note is not None and "S_TEXT/WEBVTT" in tracks[0].note
    assert [(c.track, c.start_ms, c.end_ms, c.text) for c in cues] == [
        ("stream:2", 0, 1234, "This is the first subtitle.")
    ]


def test_subtitles_matroska_reader_sees_track_entry() -> None:
    [track] = read_matroska_subtitles(_data("sample_with_vtt_subtitles.mkv"))
    assert (track.number, track.codec_id, track.language) == (3, "S_TEXT/WEBVTT", "und")
    assert track.blocks == (MatroskaBlock(0, 1234, b"This is the first subtitle."),)
    assert (track.skipped, track.problem, track.stopped) == (0, None, None)


@pytest.mark.parametrize(
    "name",
    [
        "sample_with_srt.mkv",
        "sample_with_overlapping_srt.mkv",
        "sample_with_ass_subtitles.mkv",
        "sample_with_ssa_subtitles.mkv",
    ],
)
def test_subtitles_matroska_reader_agrees_with_ffmpeg(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On tracks FFmpeg does read, our reader must give the very same cues."""
    path = _data(name)
    _, ffmpeg_cues = embedded_tracks(path, "v1")
    [entry] = read_matroska_subtitles(path)
    described = embedded._describe  # pretend FFmpeg could not identify the codec

    def unknown(stream: object, media_id: str) -> object:
        return embedded.replace(described(stream, media_id), codec="unknown", readable=False)  # type: ignore[arg-type]

    monkeypatch.setattr(embedded, "_describe", unknown)
    ours_tracks, ours_cues = embedded_tracks(path, "v1")
    assert [(c.start_ms, c.end_ms, c.text) for c in ours_cues] == [
        (c.start_ms, c.end_ms, c.text) for c in ffmpeg_cues
    ]
    assert ours_cues and all(t.readable for t in ours_tracks)
    assert entry.codec_id.startswith("S_TEXT/")


def test_subtitles_matroska_pgs_not_text() -> None:
    [track] = read_matroska_subtitles(_data("sample_with_pgs_subtitles.mkv"))
    assert (track.codec_id, track.language, track.blocks) == ("S_HDMV/PGS", "en", ())


# ---------------------------------------------------------------- hand-built files


def _size(n: int) -> bytes:
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | n).to_bytes(length, "big")
    raise ValueError(n)


def _el(element_id: int, payload: bytes, unknown_size: bool = False) -> bytes:
    raw_id = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return raw_id + (b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown_size else _size(len(payload))) + payload


def _uint(element_id: int, value: int) -> bytes:
    return _el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _block(track: int, relative: int, payload: bytes, flags: int = 0x80) -> bytes:
    return _size(track) + relative.to_bytes(2, "big", signed=True) + bytes([flags]) + payload


def _file(tracks: bytes, clusters: bytes, scale: int = 1_000_000) -> bytes:
    header = _el(0x1A45DFA3, _el(0x4282, b"matroska"))
    info = _el(0x1549A966, _uint(0x2AD7B1, scale))
    return header + _el(0x18538067, info + _el(0x1654AE6B, tracks) + clusters)


def _track(number: int, codec: bytes, extra: bytes = b"") -> bytes:
    return _el(0xAE, _uint(0xD7, number) + _uint(0x83, 0x11) + _el(0x86, codec) + extra)


def test_subtitles_matroska_hand_built_features(tmp_path: Path) -> None:
    vtt = _track(1, b"S_TEXT/WEBVTT", _el(0x22B59C, b"fre") + _el(0x22B59D, b"fr-CA"))
    zipped = _track(2, b"S_TEXT/UTF8", _el(0x6D80, _el(0x6240, _el(0x5034, _uint(0x4254, 0)))))
    stripped = _track(
        3,
        b"S_TEXT/ASS",
        _el(0x6D80, _el(0x6240, _el(0x5034, _uint(0x4254, 3) + _el(0x4255, b"0,0,Default,,")))),
    )
    cluster1 = _el(
        0x1F43B675,
        _uint(0xE7, 100)
        + _el(0xA3, _block(1, 20, b"<v Ann>Bonjour <b>tout</b></v>"))  # no duration: ends at next
        + _el(0xA0, _el(0xA1, _block(1, 900, b"second")) + _uint(0x9B, 50))
        + _el(0xA0, _el(0xA1, _block(2, 0, zlib.compress(b"zlib <i>text</i>"))) + _uint(0x9B, 10))
        + _el(0xA0, _el(0xA1, _block(3, 5, b"0,0,,,{\\i1}stripped{\\i0}")) + _uint(0x9B, 10))
        + _el(0xA3, _block(1, 1, b"laced", flags=0x82)),  # laced: skipped, counted
    )
    # An unknown-size cluster (live muxers write these) ends where the next cluster starts.
    cluster2 = _el(0x1F43B675, _uint(0xE7, 2000) + _el(0xA3, _block(1, 0, b"third")), unknown_size=True)
    cluster3 = _el(
        0x1F43B675, _uint(0xE7, 3000) + _el(0xA0, _el(0xA1, _block(1, 0, b"last")) + _uint(0x9B, 7))
    )
    path = tmp_path / "made.mkv"
    # TimecodeScale 2 ms: every timecode counts double.
    path.write_bytes(_file(vtt + zipped + stripped, cluster1 + cluster2 + cluster3, scale=2_000_000))
    assert is_matroska(str(path))
    first, second, third = read_matroska_subtitles(str(path))
    assert first.language == "fr-CA"
    assert first.skipped == 1
    assert [(b.start_ms, b.duration_ms) for b in first.blocks] == [
        (240, None),
        (2000, 100),
        (4000, None),
        (6000, 14),
    ]
    assert second.blocks == (MatroskaBlock(200, 20, b"zlib <i>text</i>"),)
    assert third.blocks == (MatroskaBlock(210, 20, b"0,0,Default,,0,0,,,{\\i1}stripped{\\i0}"),)

    # Through embedded_tracks: FFmpeg may or may not know these; force the Matroska path.
    tracks = [
        embedded.SubtitleTrack("m", f"stream:{i}", None, "embedded", "unknown", False, "x") for i in range(3)
    ]
    found = embedded._unidentified(str(path), [None, None, None], tracks)  # type: ignore[list-item]
    cues = {name: [(c.start_ms, c.end_ms, c.text) for c in result[1]] for name, result in found.items()}
    assert cues["stream:0"] == [
        (240, 2000, "Bonjour tout"),
        (2000, 2100, "second"),
        (4000, 6000, "third"),
        (6000, 6014, "last"),
    ]
    assert cues["stream:1"] == [(200, 220, "zlib text")]
    assert cues["stream:2"] == [(210, 230, "stripped")]
    assert found["stream:0"][0].language == "fr"
    assert "1 unreadable blocks skipped" in (found["stream:0"][0].note or "")


def test_subtitles_matroska_unsupported_compression_says_so(tmp_path: Path) -> None:
    lzo = _track(1, b"S_TEXT/UTF8", _el(0x6D80, _el(0x6240, _el(0x5034, _uint(0x4254, 2)))))
    cluster = _el(0x1F43B675, _uint(0xE7, 0) + _el(0xA3, _block(1, 0, b"??")))
    path = tmp_path / "lzo.mkv"
    path.write_bytes(_file(lzo, cluster))
    [track] = read_matroska_subtitles(str(path))
    assert track.blocks == ()
    assert track.problem is not None and "compression 2" in track.problem


def test_subtitles_matroska_truncated_file_keeps_cues_before_the_cut(tmp_path: Path) -> None:
    vtt = _track(1, b"S_TEXT/WEBVTT")
    clusters = b"".join(
        _el(
            0x1F43B675,
            _uint(0xE7, 1000 * i) + _el(0xA0, _el(0xA1, _block(1, 0, b"cue %d" % i)) + _uint(0x9B, 500)),
        )
        for i in range(5)
    )
    whole = _file(vtt, clusters)
    path = tmp_path / "cut.mkv"
    path.write_bytes(whole[:-10])  # the last cluster is cut short
    [track] = read_matroska_subtitles(str(path))
    assert [b.payload for b in track.blocks] == [b"cue 0", b"cue 1", b"cue 2", b"cue 3"]
    assert track.stopped is not None and "byte" in track.stopped


@pytest.mark.parametrize(
    "content", [b"", b"\x1a\x45\xdf\xa3", b"\x1a\x45\xdf\xa3\x84webm", b"not matroska" * 9]
)
def test_subtitles_matroska_not_matroska_raises_naming_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mkv"
    path.write_bytes(content)
    with pytest.raises(SubtitleError) as caught:
        read_matroska_subtitles(str(path))
    assert caught.value.path == str(path)


def test_subtitles_matroska_mutated_real_file_never_crashes(tmp_path: Path) -> None:
    """Random byte flips and cuts: a SubtitleError or tracks, never another exception."""
    original = Path(_data("sample_with_vtt_subtitles.mkv")).read_bytes()
    rng = random.Random(4)
    path = tmp_path / "mutated.mkv"
    outcomes = {"error": 0, "read": 0}
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(0, 400)] = rng.randrange(256)  # the header, tracks and first blocks
        path.write_bytes(bytes(data[: rng.randrange(50, len(data) + 1)]))
        try:
            read_matroska_subtitles(str(path), MatroskaOptions(max_elements=100_000))
            outcomes["read"] += 1
        except SubtitleError as exc:
            assert exc.path == str(path)
            outcomes["error"] += 1
    assert outcomes["error"] and outcomes["read"]


@pytest.mark.parametrize(
    ("codec_id", "payload", "text"),
    [
        ("S_TEXT/WEBVTT", b"<v Ann>Hello</v> <c.loud>there</c>", "Hello there"),
        ("D_WEBVTT/SUBTITLES", b"cue-7\nline:0 align:start\nHello\nthere", "Hello there"),
        ("D_WEBVTT/CAPTIONS", b"\n\nonly text", "only text"),
        ("S_TEXT/UTF8", b"<i>a</i> &amp; b", "a & b"),
        ("S_TEXT/SSA", b"1,0,Default,,0,0,0,,{\\p1}m 0 0 l 10 10{\\p0}", ""),  # a drawing
    ],
)
def test_subtitles_matroska_block_text(codec_id: str, payload: bytes, text: str) -> None:
    track = embedded.MatroskaTrack(1, codec_id, "und", None)
    assert embedded._matroska_text(track, payload) == text
