"""Dask distributed: the same stage function on a local cluster on 127.0.0.1, same findings."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.errors import MediaError
from tests.conftest import SAMPLES

# Three English recitals of the B script (two with an MP4 video, one M4A) and a broken
# download: a talking point with members from every medium, and one failure.
FEW = [
    "videos/valleylife_93fj1_water_plant.mp4",
    "videos/cleanwater_now_z5t8d_thanks.m4a",
    "videos/district_daily_j6w2e_progress.mp4",
    "videos/broken_clip.mp4",
]


def _square_or_fail(x: int) -> tuple[int, int, str | None]:
    if x == 3:
        raise MediaError(f"item{x}.mp4", "cannot open as media")
    return x * x, os.getpid(), os.environ.get("OMP_NUM_THREADS")


def _manifest(folder: Path) -> Path:
    manifest = folder / "few.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path"])
        writer.writerows([str(SAMPLES / f)] for f in FEW)
    return manifest


def _member(m: dict[str, Any]) -> tuple[Any, ...]:
    return (m["media_id"], m["start_s"], m["end_s"], m["text"], m["relation"])


def _essence(findings: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on the executor: statuses, errors, labels, members, scores."""
    media = sorted(
        (Path(m["path"]).name, m["status"], m["error"], m["duplicate_of"], tuple(m["languages"]))
        for m in findings["media"]
    )
    points = [
        (
            tp["rank"],
            tp["label"],
            tp["score"],
            sorted(_member(m) for m in tp["members"]),
        )
        for tp in findings["talking_points"]
    ]
    return {"media": media, "talking_points": points}


def test_dask_executor_runs_items_in_worker_processes_and_returns_their_errors():
    from pipelines.executors import DaskExecutor

    results = dict(DaskExecutor(2, cores=2).map_unordered(_square_or_fail, range(6)))
    assert isinstance(results[3], MediaError) and results[3].path == "item3.mp4"
    values = {x: r for x, r in results.items() if x != 3}
    assert {x: r[0] for x, r in values.items()} == {0: 0, 1: 1, 2: 4, 4: 16, 5: 25}
    assert {r[1] for r in values.values()} - {os.getpid()}, "items must run in worker processes"
    assert {r[2] for r in values.values()} == {"1"}, "2 cores, 2 workers: one ASR thread each"


def test_dask_executor_joins_a_running_scheduler():
    from distributed import LocalCluster

    from pipelines.executors import make_executor

    quiet = logging.ERROR
    with LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, silence_logs=quiet
    ) as cluster:
        executor = make_executor(scheduler=cluster.scheduler_address)
        results = dict(executor.map_unordered(_square_or_fail, [1, 2]))
        assert {x: r[0] for x, r in results.items()} == {1: 1, 2: 4}
    assert list(make_executor(kind="dask").map_unordered(_square_or_fail, [])) == []  # starts nothing


def test_dask_unknown_executor_is_a_clear_error():
    from analyzer.errors import ChorusError
    from pipelines.executors import make_executor

    with pytest.raises(ChorusError, match="unknown executor 'spark'"):
        make_executor(kind="spark")


@pytest.mark.slow
def test_dask_scan_on_a_local_cluster_finds_what_the_local_pool_finds(tmp_path):
    """`chorus scan --workers 2` (a Dask LocalCluster on 127.0.0.1) against the default pool."""
    from analyzer.media import read_manifest
    from pipelines.scan import scan

    manifest = _manifest(tmp_path)
    local = scan(read_manifest(str(manifest)), tmp_path / "local", scan_root=str(SAMPLES))
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "analyzer.cli", "scan", "--manifest", str(manifest)]
    command += ["--out", str(tmp_path / "dask"), "--workers", "2", "--log-json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    stages = {e["stage"] for e in events if e["event"] == "progress"}
    assert {"transcribe", "embed"} <= stages
    transcribe = [e for e in events if e["event"] == "progress" and e["stage"] == "transcribe"]
    assert transcribe[-1]["done"] == transcribe[-1]["total"] == 4  # every item reported by the driver
    result = events[-1]
    assert result["event"] == "result" and result["processed"] == 3 and result["failed"] == 1
    assert result["failed_media"][0]["path"].endswith("broken_clip.mp4")
    assert local.n_processed == 3 and local.talking_points
    with_dask = json.loads((tmp_path / "dask" / "findings.json").read_text(encoding="utf-8"))
    with_pool = json.loads((tmp_path / "local" / "findings.json").read_text(encoding="utf-8"))
    assert _essence(with_dask) == _essence(with_pool)
    assert with_pool["talking_points"], "the B script must be found"
