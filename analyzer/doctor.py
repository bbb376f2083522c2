"""`chorus doctor`: check a store without changing it, and say what is wrong and what to do.

A store can be damaged from outside (a disk error, a copy taken mid-write, someone's
SQL), be of another Chorus version, or hold leftovers a bug wrote. Every check reads
only (the file is opened read-only), so the doctor is safe to run during a scan.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from analyzer.store import TABLES, schema_problem

# (check name, what it means, SQL counting the offending rows). Each query is cheap:
# one pass with an index on media ids.
_ROW_CHECKS = (
    (
        "units of failed media",
        "sentences kept for media marked failed",
        "SELECT count(*) FROM units u JOIN media m ON m.id = u.media_id WHERE m.status != 'ok'",
    ),
    (
        "cues without track",
        "cues whose subtitle track is not listed",
        "SELECT count(*) FROM cues c WHERE NOT EXISTS"
        " (SELECT 1 FROM tracks t WHERE t.media_id = c.media_id AND t.track = c.track)",
    ),
    (
        "units with bad times",
        "sentences that end before they start or start before 0",
        "SELECT count(*) FROM units WHERE start_ms < 0 OR end_ms < start_ms",
    ),
    (
        "members of missing units",
        "talking-point members referring to sentences that are not in the store",
        "SELECT count(*) FROM members WHERE unit_id NOT IN (SELECT id FROM units)"
        " AND unit_id NOT IN (SELECT id FROM window_units)",
    ),
    (
        "members of missing talking points",
        "members whose talking point is not in the store",
        "SELECT count(*) FROM members WHERE tp_id NOT IN (SELECT id FROM talking_points)",
    ),
    (
        "empty talking points",
        "talking points with no members",
        "SELECT count(*) FROM talking_points WHERE id NOT IN (SELECT tp_id FROM members)",
    ),
    (
        "duplicates of missing media",
        "media marked duplicate_of an id the store does not list",
        "SELECT count(*) FROM media WHERE duplicate_of IS NOT NULL"
        " AND duplicate_of NOT IN (SELECT id FROM media)",
    ),
    (
        "unknown media status",
        "media whose status is neither 'ok' nor 'failed'",
        "SELECT count(*) FROM media WHERE status NOT IN ('ok', 'failed')",
    ),
    (
        "failed media without reason",
        "media marked failed with no error text",
        "SELECT count(*) FROM media WHERE status = 'failed' AND (error IS NULL OR error = '')",
    ),
    (
        "mixed vector sizes",
        "one embedding model with vectors of different sizes",
        "SELECT count(*) FROM (SELECT model FROM embeddings GROUP BY model"
        " HAVING count(DISTINCT length(vector)) > 1)",
    ),
)

# The tables the checks above read; a store without one of them cannot be checked or used.
CORE_TABLES = frozenset(
    {
        "meta",
        "media",
        "segments",
        "tracks",
        "cues",
        "units",
        "embeddings",
        "talking_points",
        "members",
        "runs",
    }
)

_FIX = "scan again into a new --out folder (the media are read again; the old store stays for inspection)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the store: which check, how many rows, what it means."""

    check: str
    message: str
    count: int = 1


@dataclass(frozen=True)
class FailedMedia:
    id: str
    path: str
    error: str


@dataclass
class DoctorReport:
    """What the doctor found. ``problems`` mean the store is damaged or unusable."""

    store: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    failed_media: list[FailedMedia] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    schema_version: str | None = None
    advice: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def store_file(path: str | Path) -> Path:
    """The store file for a path that may be the file itself or the scan's --out folder."""
    given = Path(path)
    return given / "chorus.db" if given.is_dir() else given


def check_store(path: str | Path) -> DoctorReport:
    """Every check on one store, read-only. Never raises for a bad store: it reports it."""
    target = store_file(path)
    report = DoctorReport(str(target))
    if not target.is_file():
        report.problems.append(Problem("missing", f"{target}: no such file; run `chorus scan` first"))
        return report
    try:
        db = sqlite3.connect(f"file:{quote(str(target.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        report.problems.append(Problem("unreadable", f"cannot open as SQLite ({exc})"))
        return report
    try:
        _checks(db, report)
    except sqlite3.DatabaseError as exc:
        report.problems.append(Problem("unreadable", f"the database cannot be read ({exc})"))
        report.advice = _FIX
    finally:
        db.close()
    return report


def _checks(db: sqlite3.Connection, report: DoctorReport) -> None:
    integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        shown = "; ".join(integrity[:5]) + (f"; ... {len(integrity) - 5} more" if len(integrity) > 5 else "")
        report.problems.append(Problem("integrity", f"SQLite integrity_check: {shown}", len(integrity)))
        report.advice = _FIX
    problem = schema_problem(db)
    if problem:
        report.problems.append(Problem("schema", problem))
        return
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = sorted(CORE_TABLES - tables)
    if missing:
        report.problems.append(Problem("tables", f"tables missing: {', '.join(missing)}", len(missing)))
        report.advice = _FIX
        return
    newer = sorted(TABLES - CORE_TABLES - tables)
    if newer:  # added to this schema version later; the next `chorus scan` creates them
        report.warnings.append(Problem("tables", f"tables not yet created: {', '.join(newer)}", len(newer)))
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    report.schema_version = None if version is None else str(version[0])
    for table in sorted(tables - {"media"}):  # every table of per-media rows, new ones included
        quoted = '"' + table.replace('"', '""') + '"'
        if "media_id" not in {row[1] for row in db.execute(f"PRAGMA table_info({quoted})")}:
            continue
        sql = f"SELECT count(*) FROM {quoted} WHERE media_id NOT IN (SELECT id FROM media)"
        count = int(db.execute(sql).fetchone()[0])
        if count:
            name = "units without media" if table == "units" else f"orphan {table}"
            report.problems.append(
                Problem(name, f"{count} rows of {table} for media the store does not list", count)
            )
    for name, meaning, sql in _ROW_CHECKS:
        count = int(db.execute(sql).fetchone()[0])
        if count:
            report.problems.append(Problem(name, f"{count} {meaning}", count))
    if report.problems and report.advice is None:
        report.advice = _FIX
    _counts_and_warnings(db, report)


def _counts_and_warnings(db: sqlite3.Connection, report: DoctorReport) -> None:
    for status, count in db.execute("SELECT status, count(*) FROM media GROUP BY status"):
        report.counts[f"media {status}"] = int(count)
    for table in ("units", "talking_points", "embeddings", "runs"):
        report.counts[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    report.failed_media = [
        FailedMedia(r[0], r[1], r[2] or "")
        for r in db.execute("SELECT id, rel_path, error FROM media WHERE status='failed' ORDER BY rel_path")
    ]
    if report.failed_media:
        report.warnings.append(
            Problem(
                "failed media",
                f"{len(report.failed_media)} media could not be used (listed with reasons)",
                len(report.failed_media),
            )
        )
    last = db.execute("SELECT id, started_at, finished_at FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    if last is not None and last[2] is None:
        report.warnings.append(
            Problem(
                "unfinished scan",
                f"the last scan (run {last[0]}, started {last[1]}) did not finish (interrupted, or still"
                " running): talking points may not include every media; run `chorus scan` again",
            )
        )
