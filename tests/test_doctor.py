"""`chorus doctor` finds what is wrong with a store; stores of other schemas are refused.

Small stores are built by hand with the Store's own methods (no models needed), then
damaged with plain SQL the way a bug, a stray tool or a bad disk would.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.doctor import check_store
from analyzer.errors import StoreError
from analyzer.records import Cue, Media, Member, ScoreParts, Source, SubtitleTrack, TalkingPoint, Unit
from analyzer.store import SCHEMA_VERSION, MediaResult, Store


def _unit(media_id: str, n: int, text: str) -> Unit:
    return Unit(
        f"{media_id}-u{n}", media_id, n * 1000, n * 1000 + 900, text, "en", "subtitle", "sidecar:a.srt"
    )


def _result(media_id: str, texts: list[str]) -> MediaResult:
    units = tuple(_unit(media_id, n, text) for n, text in enumerate(texts))
    cues = tuple(Cue(media_id, "sidecar:a.srt", u.start_ms, u.end_ms, u.text, "en") for u in units)
    return MediaResult(
        media=Media(media_id, f"/data/{media_id}.mp4", "0" * 64, 5000, Source(channel=media_id), True),
        rel_path=f"{media_id}.mp4",
        asr_model="whisper-base",
        segments=(),
        tracks=(SubtitleTrack(media_id, "sidecar:a.srt", "en", "sidecar", "srt"),),
        cues=cues,
        units=units,
    )


def build_store(path: Path, finished: bool = True) -> Path:
    """Two good media sharing one line, one failed media, one talking point."""
    line = "The water plant brought clean water to every village."
    with Store(path) as store:
        run = store.start_run({"asr_model": "whisper-base"})
        store.save_result(_result("m-aaa", [line, "Good morning."]))
        store.save_result(_result("m-bbb", [line]))
        store.save_failure(
            "m-ccc", "/data/broken.mp4", "broken.mp4", Source(), "broken.mp4: cannot open as media"
        )
        members = tuple(Member(u, 1.0, "verbatim") for u in store.units() if u.text == line)
        point = TalkingPoint("tp-1", line, members, 0.8, ScoreParts(1, 1, 1, 0, 0), 2, 2, ("en",))
        store.save_talking_points([point])
        if finished:
            store.finish_run(run)
    return path


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    with db:
        for statement in statements:
            db.execute(statement)
    db.close()


def test_doctor_sound_store_passes_and_lists_failed_media(tmp_path):
    report = check_store(build_store(tmp_path / "chorus.db"))
    assert report.ok, report.problems
    assert report.schema_version == str(SCHEMA_VERSION)
    assert [(f.path, f.error) for f in report.failed_media] == [
        ("broken.mp4", "broken.mp4: cannot open as media")
    ]
    assert [w.check for w in report.warnings] == ["failed media"]
    assert report.counts["media ok"] == 2 and report.counts["talking_points"] == 1


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        ("INSERT INTO units VALUES ('x-u0','m-gone',0,10,'t','en','asr','')", "units without media"),
        ("INSERT INTO segments VALUES ('m-gone',0,0,10,'t','en',0.9,0.1,'[]')", "orphan segments"),
        ("INSERT INTO cues VALUES ('m-gone','sidecar:a.srt',0,0,10,'t','en')", "orphan cues"),
        ("DELETE FROM units WHERE id='m-bbb-u0'", "members of missing units"),
        (
            "INSERT INTO members VALUES ('tp-gone','m-aaa-u0',1.0,'verbatim')",
            "members of missing talking points",
        ),
        (
            "INSERT INTO talking_points VALUES ('tp-2',2,0.1,'x','[0,0,0,0,0]',0,0,'[]',NULL)",
            "empty talking points",
        ),
        ("UPDATE media SET status='failed', error='x' WHERE id='m-aaa'", "units of failed media"),
        ("UPDATE media SET duplicate_of='m-gone' WHERE id='m-bbb'", "duplicates of missing media"),
        ("UPDATE media SET status='maybe' WHERE id='m-bbb'", "unknown media status"),
        ("UPDATE media SET error=NULL WHERE id='m-ccc'", "failed media without reason"),
        ("UPDATE units SET end_ms=-5 WHERE id='m-aaa-u1'", "units with bad times"),
        ("DELETE FROM tracks WHERE media_id='m-aaa'", "cues without track"),
        (
            "INSERT INTO embeddings VALUES ('e5','h1',zeroblob(8)), ('e5','h2',zeroblob(12))",
            "mixed vector sizes",
        ),
    ],
)
def test_doctor_finds_each_kind_of_damage(tmp_path, damage, check):
    store = build_store(tmp_path / "chorus.db")
    _sql(store, damage)
    report = check_store(store)
    assert not report.ok
    assert check in {p.check for p in report.problems}, report.problems
    assert report.advice


def test_doctor_cli_exit_codes_text_and_json(tmp_path):
    runner = CliRunner()
    store = build_store(tmp_path / "good" / "chorus.db")
    result = runner.invoke(app, ["doctor", str(store.parent)])  # the --out folder works too
    assert result.exit_code == 0, result.output
    assert "store is sound" in result.output and "broken.mp4: cannot open as media" in result.output
    assert runner.invoke(app, ["doctor", str(store), "--strict"]).exit_code == 1  # a failed media

    _sql(store, "DELETE FROM units WHERE id='m-bbb-u0'")
    result = runner.invoke(app, ["doctor", str(store), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False and data["scan_running"] is None
    assert data["problems"] == [
        {
            "check": "members of missing units",
            "message": "1 talking-point members referring to sentences that are not in the store",
            "count": 1,
        }
    ]


def test_doctor_tables_added_later_are_a_warning_and_checked_for_orphans(tmp_path):
    """A store made before a table joined this schema version is sound; scan creates it."""
    from analyzer.doctor import CORE_TABLES
    from analyzer.store import TABLES

    later = sorted(TABLES - CORE_TABLES)
    store = build_store(tmp_path / "chorus.db")
    _sql(store, 'CREATE TABLE "odd ""name" (media_id TEXT)', 'INSERT INTO "odd ""name" VALUES (\'m-gone\')')
    if later:
        _sql(store, f"DROP TABLE {later[0]}")
    report = check_store(store)
    assert [p.check for p in report.problems] == ['orphan odd "name']
    assert not later or "tables" in {w.check for w in report.warnings}


def test_doctor_unfinished_scan_is_a_warning(tmp_path):
    report = check_store(build_store(tmp_path / "chorus.db", finished=False))
    assert report.ok
    assert "unfinished scan" in {w.check for w in report.warnings}


def test_doctor_reports_unreadable_and_corrupt_files(tmp_path):
    assert check_store(tmp_path / "nothing.db").problems[0].check == "missing"
    text = tmp_path / "text.db"
    text.write_text("not a database, just text\n" * 100)
    assert check_store(text).problems[0].check == "unreadable"
    store = build_store(tmp_path / "chorus.db")
    _sql(store, "PRAGMA journal_mode=DELETE")  # fold the WAL in, so the damage below is all there is
    data = bytearray(store.read_bytes())
    page = 4096
    data[2 * page : 4 * page] = bytes(range(256)) * (2 * page // 256)  # two pages of garbage
    store.write_bytes(bytes(data))
    report = check_store(store)
    assert not report.ok
    assert report.problems[0].check in ("integrity", "unreadable"), report.problems
    assert "new --out" in (report.advice or "")


@pytest.mark.parametrize(
    ("version", "words"),
    [("99", "written by a newer Chorus"), ("0", "written by an older Chorus"), ("x1", "is not a number")],
)
def test_doctor_and_store_refuse_other_schemas(tmp_path, version, words):
    store = build_store(tmp_path / "chorus.db")
    _sql(store, f"UPDATE meta SET value='{version}' WHERE key='schema_version'")
    report = check_store(store)
    assert [p.check for p in report.problems] == ["schema"]
    assert words in report.problems[0].message
    with pytest.raises(StoreError, match=words):
        Store(store)


def test_doctor_store_refuses_a_foreign_database_without_touching_it(tmp_path):
    foreign = tmp_path / "app.db"
    _sql(foreign, "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ada')")
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a Chorus store"):
        Store(foreign)
    assert foreign.read_bytes() == before  # no Chorus tables, no WAL switch
    assert "not a Chorus store" in check_store(foreign).problems[0].message


def test_doctor_half_created_store_opens(tmp_path):
    """A scan killed between creating the tables and writing the version must not be locked out."""
    store = build_store(tmp_path / "chorus.db")
    _sql(store, "DELETE FROM meta")
    with Store(store) as reopened:
        assert reopened.media_row("m-aaa") is not None
    assert check_store(store).ok


def test_doctor_real_scan_store_is_sound(demo_scan, tmp_path):
    """The store of the real demo scan: sound, with the broken download listed."""
    copy = tmp_path / "chorus.db"
    source = sqlite3.connect(demo_scan["out"] / "chorus.db")
    target = sqlite3.connect(copy)
    source.backup(target)  # a consistent copy, WAL included; the shared store stays untouched
    source.close()
    target.close()
    report = check_store(copy)
    assert report.ok, report.problems
    assert [Path(f.path).name for f in report.failed_media] == ["broken_clip.mp4"]
