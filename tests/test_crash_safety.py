"""Crash safety, proven: a `chorus scan` killed with SIGKILL resumes to the same findings.

A real `chorus scan` subprocess on the two shortest recitals of one campaign plus the
broken download is killed with SIGKILL at a seeded random moment (during start-up, ASR,
embedding, clustering or writing), then run again to the end. Every time,
the resumed findings equal those of one uninterrupted scan: the same media statuses and
errors, the same talking points with the same members. Timestamps are not compared.

Some kills hit the whole process group (power loss), others only the driver (the OOM
killer's way): its worker processes must then die with it, and its lock must not block
the resumed scan. After every kill the store must already be sound (`chorus doctor`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from analyzer.doctor import check_store
from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow

# The two shortest recitals of one campaign (with their sidecars) and the broken download.
FILES = ("district_daily_j6w2e_progress.mp4", "cleanwater_now_z5t8d_thanks.m4a", "broken_clip.mp4")
# Odd seeds kill the whole process group, even ones the driver only; these three fall early
# (start-up), mid-way (ASR) and late (embedding, clustering, writing) in the run.
SEEDS = (21, 12, 22)


def _start(folder: Path, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        "-c",
        "from analyzer.cli import main; main()",
        "scan",
        str(folder),
        "--out",
        str(out),
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _finish(folder: Path, out: Path) -> float:
    started = time.monotonic()
    process = _start(folder, out)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    return time.monotonic() - started


def _gone(group: int, timeout: float = 10.0) -> bool:
    """True once no process of the group is left (workers die with their driver)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _outcome(out: Path) -> dict[str, Any]:
    """What a scan found, without its timestamps: statuses, errors, talking points and members."""
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    paths = {m["id"]: m["path"] for m in findings["media"]}
    media = sorted((m["path"], m["status"], m["error"], m["duplicate_of"]) for m in findings["media"])
    points = sorted(
        (
            tp["label"],
            tuple(
                sorted(
                    (paths[m["media_id"]], m["start_s"], m["end_s"], m["text"], m["relation"])
                    for m in tp["members"]
                )
            ),
        )
        for tp in findings["talking_points"]
    )
    return {"media": media, "talking_points": points}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("crash")
    folder = work / "videos"
    folder.mkdir()
    for name in FILES:
        for sibling in (SAMPLES / "videos").glob(name.rsplit(".", 1)[0] + ".*"):
            shutil.copyfile(sibling, folder / sibling.name)
    reference = work / "reference"
    wall = _finish(folder, reference)
    return {"folder": folder, "work": work, "reference": _outcome(reference), "wall": wall}


def test_crash_safety_reference_scan_finds_the_campaign(corpus):
    reference = corpus["reference"]
    assert ("broken_clip.mp4", "failed") in {(m[0], m[1]) for m in reference["media"]}
    campaign = [tp for tp in reference["talking_points"] if len({m[0] for m in tp[1]}) >= 2]
    assert campaign, reference["talking_points"]


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_safety_sigkill_then_resume_gives_the_same_findings(corpus, seed):
    rng = random.Random(seed)
    out = corpus["work"] / f"killed-{seed}"
    process = _start(corpus["folder"], out)
    moment = rng.uniform(0.5, corpus["wall"] * 0.95)
    whole_group = seed % 2 == 1
    try:
        process.wait(timeout=moment)
        kill = f"finished before {moment:.1f} s"
    except subprocess.TimeoutExpired:
        if whole_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kill = f"killed the {'process group' if whole_group else 'driver only'} at {moment:.1f} s"
        assert _gone(process.pid), "a worker outlived its killed driver"
    if (out / "chorus.db").exists():
        report = check_store(out)
        assert report.ok, (kill, report.problems)
    _finish(corpus["folder"], out)
    assert _outcome(out) == corpus["reference"], kill
    assert check_store(out).ok
