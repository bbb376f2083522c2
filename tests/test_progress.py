"""Progress for unattended runs: JSON lines, throttled, with counts and an ETA."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

from pipelines.progress import JsonProgress, QuietProgress, scan_result


def test_progress_json_lines_keep_first_last_and_one_a_second():
    stream = io.StringIO()
    progress = JsonProgress(stream, every_s=3600)
    for done in range(1001):
        progress("similarity", done, 1000)
    progress("cluster", 5, 10)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["stage"], r["done"]) for r in records] == [
        ("similarity", 0),
        ("similarity", 1000),
        ("cluster", 5),
    ]
    assert records[1]["eta_s"] == 0.0 and records[0]["eta_s"] is None
    assert all(r["event"] == "progress" and r["total"] and r["time"].endswith("Z") for r in records)


def test_progress_eta_follows_the_rate_so_far():
    stream = io.StringIO()
    progress = JsonProgress(stream, every_s=0)
    progress("embed", 0, 100)
    progress.started["embed"] -= 10.0  # pretend 10 s went by
    progress("embed", 25, 100)
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert 25 <= last["eta_s"] <= 35  # 25 done in 10 s: about 30 s for the other 75


def test_progress_result_names_failures_and_top_points():
    point = SimpleNamespace(
        id="tp-0001", score=0.87, n_media=6, n_channels=6, languages=("en",), label="A line."
    )
    summary = SimpleNamespace(
        n_media=3,
        n_processed=2,
        n_reused=0,
        n_failed=1,
        n_units=9,
        n_embedded=9,
        timings={"embed": 1.23456},
        talking_points=[point],
        findings_path="f.json",
        report_path="r.html",
        store_path="c.db",
    )
    findings = {"media": [{"id": "m1", "path": "bad.mp4", "status": "failed", "error": "bad.mp4: truncated"}]}
    record = scan_result(summary, findings, top=5)
    assert record["event"] == "result" and record["failed_media"][0]["error"] == "bad.mp4: truncated"
    assert record["talking_points"][0]["rank"] == 1 and record["timings_s"] == {"embed": 1.235}
    assert json.loads(json.dumps(record)) == record
    quiet = QuietProgress()
    with quiet:
        assert quiet("x", 1, 2) is None
