"""`chorus export`: every table, both formats, and CSV cells that cannot become formulas."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import ChorusError
from analyzer.report.export import (
    MEDIA_COLUMNS,
    MEMBER_COLUMNS,
    TALKING_POINT_COLUMNS,
    TRANSCRIPT_COLUMNS,
    ExportOptions,
    export,
    neutralise,
)
from tests import hostile


def _csv(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r", " ="])
def test_export_neutralise_formula_starts(lead):
    assert neutralise(f"{lead}SUM(A1:A9)") == f"'{lead}SUM(A1:A9)"


@pytest.mark.parametrize("value", ["We are free.", "a=b", "", 3.5, -2, None])
def test_export_neutralise_leaves_plain_cells(value):
    assert neutralise(value) == value


def test_export_csv_has_every_table_and_no_formula_cell(tmp_path):
    db, _ = hostile.build(tmp_path / "store")
    tables = {t.name: t for t in export(db, tmp_path / "csv")}
    assert set(tables) == {"talking_points", "members", "media", "transcripts"}
    points = _csv(tables["talking_points"].path)
    members = _csv(tables["members"].path)
    media = _csv(tables["media"].path)
    text = _csv(tables["transcripts"].path)
    assert list(points[0]) == list(TALKING_POINT_COLUMNS) and list(members[0]) == list(MEMBER_COLUMNS)
    assert list(media[0]) == list(MEDIA_COLUMNS) and list(text[0]) == list(TRANSCRIPT_COLUMNS)
    assert (len(points), len(members), len(media), len(text)) == (1, 4, 3, 4)
    assert tables["transcripts"].rows == 4
    assert float(points[0]["breadth"]) == 0.6 and points[0]["n_members"] == "4"
    # two segments (asr) and two cues (subtitle), with the fields the issue names
    assert sorted((r["media_id"], r["source"]) for r in text) == [
        ("m-evil0000001", "asr"),
        ("m-evil0000001", "subtitle"),
        ("m-plain000002", "asr"),
        ("m-plain000002", "subtitle"),
    ]
    cue = next(r for r in text if r["media_id"] == "m-plain000002" and r["source"] == "subtitle")
    assert (cue["start_s"], cue["end_s"], cue["language"]) == ("1.2", "5.2", "en")
    assert cue["text"] == f"'-{hostile.LINE} {hostile.SVG_ONLOAD}"
    plain = next(r for r in media if r["id"] == "m-plain000002")
    assert plain["channel"] == "'" + hostile.FORMULA and plain["handle"] == "'+plain_3kq9z"
    every_cell = [v for rows in (points, members, media, text) for row in rows for v in row.values()]
    assert not [v for v in every_cell if v and v.lstrip(" ")[0] in "=+-@\t\r"]
    failed = next(r for r in media if r["status"] == "failed")
    assert failed["error"] == f"broken.mp4: {hostile.ONERROR}"


def test_export_jsonl_keeps_exact_text(tmp_path):
    db, _ = hostile.build(tmp_path / "store")
    tables = {t.name: t for t in export(db, tmp_path / "jsonl", ExportOptions(format="jsonl"))}
    text = _jsonl(tmp_path / "jsonl" / "transcripts.jsonl")
    assert f"-{hostile.LINE} {hostile.SVG_ONLOAD}" in {r["text"] for r in text}
    media = {r["id"]: r for r in _jsonl(tmp_path / "jsonl" / "media.jsonl")}
    assert media["m-plain000002"]["channel"] == hostile.FORMULA
    assert media["m-evil0000001"]["languages"] == ["en"]
    members = _jsonl(tmp_path / "jsonl" / "members.jsonl")
    assert {m["talking_point"] for m in members} == {"tp-0001"} and tables["members"].rows == 4
    links = {m["media_id"]: m["url_at"] for m in members}
    assert links == {"m-evil0000001": None, "m-plain000002": "https://video.example/watch?v=plain&t=1"}


def test_export_refuses_unknown_format_and_missing_store(tmp_path):
    db, _ = hostile.build(tmp_path / "store")
    with pytest.raises(ChorusError, match="xlsx"):
        export(db, tmp_path / "x", ExportOptions(format="xlsx"))  # type: ignore[arg-type]
    with pytest.raises(ChorusError, match="chorus scan"):
        export(tmp_path / "none.db", tmp_path / "x")


def test_export_cli_writes_files_and_reports_counts(tmp_path):
    db, _ = hostile.build(tmp_path / "store")
    result = CliRunner().invoke(app, ["export", str(db), "--format", "jsonl", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "transcripts.jsonl" in result.output and (tmp_path / "o" / "media.jsonl").is_file()
    bad = CliRunner().invoke(app, ["export", str(db), "--format", "xls", "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "csv" in bad.output


@pytest.mark.slow
def test_export_demo_store_has_every_segment_and_cue(demo_scan, tmp_path):
    db = demo_scan["out"] / "chorus.db"
    tables = {t.name: t for t in export(db, tmp_path)}
    with sqlite3.connect(db) as con:
        segments = con.execute("SELECT count(*) FROM segments").fetchone()[0]
        cues = con.execute("SELECT count(*) FROM cues").fetchone()[0]
    rows = _csv(tables["transcripts"].path)
    assert len(rows) == segments + cues > 0
    assert {r["source"] for r in rows} == {"asr", "subtitle"}
    assert all(r["media_id"].startswith("m-") and r["start_s"] and r["end_s"] for r in rows)
    points = _csv(tables["talking_points"].path)
    assert [p["id"] for p in points] == [tp["id"] for tp in demo_scan["findings"]["talking_points"]]
    # the re-upload carries its evidence, as in findings.json; other media have none
    media = {m["id"]: m for m in _csv(tables["media"].path)}
    for entry in demo_scan["findings"]["media"]:
        evidence = entry["duplicate_evidence"]
        row = media[entry["id"]]
        assert row["duplicate_by"] == (";".join(evidence["by"]) if evidence else "")
    assert any(m["duplicate_by"] for m in media.values())


def test_export_cli_has_help():
    result = CliRunner().invoke(app, ["export", "--help"])
    assert result.exit_code == 0 and "--format" in result.output and "transcript" in result.output
