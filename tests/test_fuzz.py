"""Property tests and a fixed-budget fuzz run: parsers of strangers' files never crash.

The subtitle readers may only ever return cues (sorted, timed sanely, plain one-line
text) or raise SubtitleError; anything else would stop an item for the wrong reason.
Records written to findings.json and to the store read back exactly as written.

The fuzz run mutates real subtitle files from ../shared/data (bit flips, inserted and
deleted bytes, spliced and repeated chunks, truncation): a seed corpus of every format
reaches deep into each parser, where random bytes would be refused at the first line.
Its budget is fixed (``FUZZ_EXAMPLES``) so CI time stays flat; Hypothesis prints the
smallest failing input and a ``@reproduce_failure`` line when one turns up.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import SubtitleError
from analyzer.records import (
    Cue,
    Media,
    Member,
    ScoreParts,
    Segment,
    Source,
    SubtitleTrack,
    TalkingPoint,
    Unit,
    Word,
)
from analyzer.report.findings import build_findings, read_findings, write_json
from analyzer.safe_text import clean_record, clean_text
from analyzer.store import MediaResult, MediaRow, Store
from analyzer.subtitles.read import SUBTITLE_EXTENSIONS, clean_cue_text, read_subtitle_file
from tests.conftest import SHARED_DATA

# The fixed CI budget (about 10 s on 2 cores); CHORUS_FUZZ_EXAMPLES=20000 for a longer hunt.
FUZZ_EXAMPLES = int(os.environ.get("CHORUS_FUZZ_EXAMPLES", "400"))
EXTENSIONS = sorted(SUBTITLE_EXTENSIONS | {"txt", "xml", "smi"})
_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="chorus-fuzz-") as folder:
        yield Path(folder)


def _read(scratch: Path, data: bytes, extension: str) -> tuple[list[Cue], int] | None:
    """read_subtitle_file on data saved as one file; None when it raised SubtitleError."""
    path = scratch / f"input.{extension}"
    path.write_bytes(data)
    try:
        return read_subtitle_file(str(path), "m-fuzz", "sidecar:input", "en")
    except SubtitleError as exc:
        assert exc.path == str(path) and exc.problem
        return None


def _check_cues(result: tuple[list[Cue], int] | None) -> None:
    """What every reader promises about the cues it returns."""
    if result is None:
        return
    cues, skipped = result
    assert isinstance(skipped, int) and skipped >= 0
    keys = [(c.start_ms, c.end_ms, c.text) for c in cues]
    assert keys == sorted(keys), "cues are not sorted by time"
    assert len(set(keys)) == len(keys), "exact duplicates were kept"
    for cue in cues:
        assert isinstance(cue.start_ms, int) and isinstance(cue.end_ms, int)
        assert 0 <= cue.start_ms <= cue.end_ms
        assert cue.text and cue.text == cue.text.strip() and "\n" not in cue.text
        assert "  " not in cue.text
        assert cue.media_id == "m-fuzz" and cue.track == "sidecar:input"


# ---------------------------------------------------------------------- properties

_FRAGMENTS = st.sampled_from(
    [
        "WEBVTT",
        "[Script Info]",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Hello {\\i1}there{\\i0}",
        "Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,hidden",
        "00:00:01,000 --> 00:00:02,500",
        "00:00:05.000 --> 00:00:03.000",
        "99:59:59,999 --> 00:00:00,000",
        "-00:00:01,000 --> 00:00:02,000",
        "1",
        "",
        "NOTE a comment",
        "<tt xmlns='http://www.w3.org/ns/ttml'><body><div>",
        '<p begin="00:00:01.000" end="00:00:02.000">line</p>',
        '<p begin="10t" dur="5f">x</p>',
        "</div></body></tt>",
        "{10}{50}Micro|DVD",
        "{1}{1}23.976",
        "0:00:01.000,0:00:02.000",
        "<i>styled</i> &amp; <font color='red'>text</font>",
        "<00:00:01.500>karaoke",
    ]
)
_LINES = st.one_of(_FRAGMENTS, st.text(max_size=40))


@_FAST
@given(data=st.binary(max_size=3000), extension=st.sampled_from(EXTENSIONS))
def test_fuzz_subtitles_random_bytes_give_cues_or_subtitle_error(scratch, data, extension):
    _check_cues(_read(scratch, data, extension))


@_FAST
@given(
    lines=st.lists(_LINES, max_size=40),
    extension=st.sampled_from(EXTENSIONS),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "utf-32"]),
)
def test_fuzz_subtitles_format_like_text_gives_cues_or_subtitle_error(scratch, lines, extension, encoding):
    data = "\n".join(lines).encode(encoding, errors="replace")
    _check_cues(_read(scratch, data, extension))


_WORD = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lo"], exclude_characters="\u0130\u0131"),
    min_size=1,
    max_size=8,
)
_CUE_TEXT = st.lists(_WORD, min_size=1, max_size=6).map(" ".join)
_SPAN = st.tuples(st.integers(0, 359_000_000), st.integers(1, 60_000)).map(lambda t: (t[0], t[0] + t[1]))


def _clock(ms: int, separator: str) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{separator}{ms % 1000:03d}"


@_FAST
@given(
    cues=st.lists(st.tuples(_SPAN, _CUE_TEXT), min_size=1, max_size=30),
    form=st.sampled_from(["srt", "vtt"]),
)
def test_fuzz_subtitles_well_formed_cues_read_back_exactly(scratch, cues, form):
    """Any list of valid cues, in any order, written as SRT or VTT reads back as exactly them."""
    separator = "," if form == "srt" else "."
    blocks = [
        f"{i}\n{_clock(a, separator)} --> {_clock(b, separator)}\n{text}"
        for i, ((a, b), text) in enumerate(cues, 1)
    ]
    head = "WEBVTT\n\n" if form == "vtt" else ""
    result = _read(scratch, (head + "\n\n".join(blocks) + "\n").encode("utf-8"), form)
    assert result is not None
    read, skipped = result
    assert skipped == 0
    expected = sorted({(a, b, clean_cue_text(text)) for (a, b), text in cues})
    assert [(c.start_ms, c.end_ms, c.text) for c in read] == expected


@_FAST
@given(text=st.text(alphabet=st.characters(exclude_categories=()), max_size=200), ass=st.booleans())
def test_fuzz_clean_cue_text_gives_one_plain_line(text, ass):
    cleaned = clean_cue_text(text, ass=ass)
    assert cleaned == cleaned.strip() and "\n" not in cleaned and "  " not in cleaned


# ---------------------------------------------------------------- record round trips

_TEXT = st.text(max_size=30)
_ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)  # lone surrogates too
_OPT = st.none() | _TEXT
_MS = st.integers(0, 10**9)
_UNIT_FLOAT = st.floats(0, 1, allow_nan=False)
_SOURCE = st.builds(Source, _OPT, _OPT, _OPT, _OPT, _OPT, _OPT)


@st.composite
def _corpus(draw: Any) -> tuple[list[MediaRow], list[TalkingPoint]]:
    """Media rows and talking points whose members point at those media."""
    ids = draw(
        st.lists(st.text("abcdef0123456789", min_size=4, max_size=8), min_size=1, max_size=5, unique=True)
    )
    rows = [
        MediaRow(
            Media(f"m-{i}", draw(_TEXT), draw(_TEXT), draw(_MS), draw(_SOURCE), draw(st.booleans())),
            draw(_TEXT),
            draw(st.sampled_from(["ok", "failed"])),
            draw(_OPT),
            draw(st.none() | st.sampled_from([f"m-{j}" for j in ids])),
            tuple(draw(st.lists(st.sampled_from(["en", "fr", "zh"]), max_size=3))),
            draw(_OPT),
            tuple(draw(st.lists(_TEXT, max_size=3))),
        )
        for i in ids
    ]
    points = []
    for n in range(draw(st.integers(0, 4))):
        members = []
        for k in range(draw(st.integers(1, 4))):
            start = draw(_MS)
            unit = Unit(
                f"u-{n}-{k}",
                f"m-{draw(st.sampled_from(ids))}",
                start,
                start + draw(st.integers(0, 10**6)),
                draw(_TEXT),
                draw(st.sampled_from(["en", "fr", "und"])),
                draw(st.sampled_from(["asr", "subtitle"])),
                draw(_TEXT),
            )
            members.append(Member(unit, draw(_UNIT_FLOAT), draw(st.sampled_from(["verbatim", "paraphrase"]))))
        parts = ScoreParts(*(draw(_UNIT_FLOAT) for _ in range(5)))
        points.append(
            TalkingPoint(
                f"tp-{n}",
                draw(_TEXT),
                tuple(members),
                draw(_UNIT_FLOAT),
                parts,
                len(members),
                draw(st.integers(0, 9)),
                tuple(draw(st.lists(st.sampled_from(["en", "fr"]), max_size=2))),
                draw(_OPT),
            )
        )
    return rows, points


@settings(max_examples=100, deadline=None)
@given(corpus=_corpus(), settings_=st.dictionaries(st.text(max_size=10), st.integers() | _TEXT, max_size=4))
def test_fuzz_findings_json_round_trips(scratch, corpus, settings_):
    """findings.json written then read gives back every record field exactly."""
    rows, points = corpus
    findings = build_findings(rows, points, settings_)
    write_json(scratch / "findings.json", findings)
    assert read_findings(scratch / "findings.json") == findings
    media = {m["id"]: m for m in findings["media"]}
    for row in rows:
        entry = media[row.media.id]
        assert (entry["path"], entry["status"], entry["error"]) == (row.rel_path, row.status, row.error)
        assert entry["channel"] == row.media.source.channel and entry["notes"] == list(row.notes)
    for tp, entry in zip(points, findings["talking_points"], strict=True):
        assert entry["label"] == tp.label and len(entry["members"]) == len(tp.members)
        for member, out in zip(tp.members, entry["members"], strict=True):
            assert out["text"] == member.unit.text
            # seconds() rounds to 10 ms: off by at most 5 ms, plus float noise
            assert abs(out["start_s"] * 1000 - member.unit.start_ms) <= 5 + 1e-6


@st.composite
def _result(draw: Any) -> MediaResult:
    media_id = "m-" + draw(st.text("0123456789abcdef", min_size=6, max_size=6))
    start = draw(_MS)
    words = tuple(
        Word(start + i, start + i + 1, draw(_ANY_TEXT), draw(_UNIT_FLOAT))
        for i in range(draw(st.integers(0, 3)))
    )
    segments = tuple(
        Segment(
            media_id,
            start,
            start + 5,
            draw(_ANY_TEXT),
            "en",
            draw(_UNIT_FLOAT),
            draw(_UNIT_FLOAT),
            "asr",
            words,
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    track = "sidecar:" + draw(_ANY_TEXT)
    cues = tuple(
        Cue(media_id, track, start + i, start + i + 10, draw(_ANY_TEXT), "en")
        for i in range(draw(st.integers(0, 3)))
    )
    units = tuple(
        Unit(f"{media_id}-u{i}", media_id, start, start + 9, draw(_ANY_TEXT), "en", "subtitle", track)
        for i in range(draw(st.integers(0, 3)))
    )
    source = st.builds(Source, *([st.none() | _ANY_TEXT] * 6))
    return MediaResult(
        media=Media(media_id, draw(_ANY_TEXT), "ab" * 32, draw(_MS), draw(source), True),
        rel_path=draw(_ANY_TEXT),
        asr_model="whisper-base",
        segments=segments,
        tracks=(SubtitleTrack(media_id, track, "en", "sidecar", "srt"),),
        cues=cues,
        units=units,
        notes=tuple(draw(st.lists(_ANY_TEXT, max_size=2))),
    )


@settings(max_examples=60, deadline=None)
@given(result=_result())
def test_fuzz_store_round_trips_results_and_cleans_what_sqlite_cannot_hold(scratch, result):
    """Saved then read: the same records, with lone surrogates (odd names, JSON escapes) made U+FFFD."""
    with Store(scratch / "round.db") as store:
        store.save_result(result)
        clean = clean_record(result)
        row = store.media_row(result.media.id)
        assert row is not None and row.status == "ok"
        assert row.media == clean.media and row.rel_path == clean.rel_path and row.notes == clean.notes
        assert store.segments(result.media.id) == list(clean.segments)
        assert store.cues(result.media.id) == list(clean.cues)
        assert store.units([result.media.id]) == sorted(clean.units, key=lambda u: (u.start_ms, u.id))
        store.save_failure(
            result.media.id, result.media.path, result.rel_path, result.media.source, "x\ud800"
        )
        failed = store.media_row(result.media.id)
        assert failed is not None and failed.error == clean_text("x\ud800") == "x\ufffd"


# ------------------------------------------------------------------ corpus fuzzing


def _seed_corpus() -> list[Path]:
    root = SHARED_DATA / "subtitles"
    if not root.is_dir():
        return []
    files = [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix.lower().lstrip(".") in EXTENSIONS and p.stat().st_size <= 16_000
    ]
    return files


SEEDS = _seed_corpus()


@st.composite
def _mutated(draw: Any) -> tuple[bytes, str]:
    """A real subtitle file with a few random byte-level mutations, and its extension."""
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "splice", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=16) | st.sampled_from([b"-->", b"\n\n", b"{", b"<p "])
            )
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(2, 20))
        elif kind == "splice":
            other = draw(st.sampled_from(SEEDS)).read_bytes()
            cut = draw(st.integers(0, len(other)))
            data[at:] = other[cut:]
        else:
            del data[at:]
    return bytes(data), seed.suffix.lower().lstrip(".")


@pytest.mark.slow
@pytest.mark.skipif(not SEEDS, reason="no seed subtitles in ../shared/data")
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=timedelta(seconds=10),  # a parser stuck for seconds on a 16 KB file is a finding
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_mutated())
def test_fuzz_subtitle_readers_on_mutated_real_files(scratch, case):
    data, extension = case
    _check_cues(_read(scratch, data, extension))


def test_fuzz_seed_corpus_covers_every_format():
    """The fuzz run means something only if its seeds span the formats it claims to cover."""
    if not SEEDS:
        pytest.skip("no seed subtitles in ../shared/data")
    found = {p.suffix.lower().lstrip(".") for p in SEEDS}
    assert {"srt", "vtt", "ass", "ssa", "ttml", "sbv"} <= found, found
    assert json.dumps(sorted(found))
