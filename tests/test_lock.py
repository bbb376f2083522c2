"""One `chorus scan` per store: a second is refused clearly; a dead one never blocks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import StoreError
from pipelines.lock import holder, lock_path, store_lock
from tests.conftest import ROOT, shared

_HOLD = """
import sys, time
from pipelines.lock import store_lock
with store_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def _holding(store: Path) -> subprocess.Popen[str]:
    """Another process holding the store's lock, as a running scan does."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(store)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_lock_second_writer_is_refused_with_the_holders_pid(tmp_path):
    store = tmp_path / "chorus.db"
    process = _holding(store)
    try:
        assert holder(store) is not None and holder(store)["pid"] == process.pid  # type: ignore[index]
        refused = rf"another `chorus scan` is writing this store \(pid {process.pid}"
        with pytest.raises(StoreError, match=refused), store_lock(store):
            pass
    finally:
        process.kill()
        process.wait()


def test_lock_of_a_killed_scan_does_not_block(tmp_path):
    """SIGKILL leaves the lock file behind; the kernel dropped the lock, so the next scan goes on."""
    store = tmp_path / "chorus.db"
    process = _holding(store)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert lock_path(store).exists() and holder(store) is None
    started = time.monotonic()
    with store_lock(store):
        assert holder(store) is not None and holder(store)["pid"] == os.getpid()  # type: ignore[index]
    assert time.monotonic() - started < 2
    assert holder(store) is None


def test_lock_cli_scan_refused_while_another_scan_writes(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copyfile(shared("audio/coqui-tts-ljspeech/LJ001-0008.flac"), folder / "a.flac")
    out = tmp_path / "out"
    process = _holding(out / "chorus.db")
    try:
        result = CliRunner().invoke(app, ["scan", str(folder), "--out", str(out)])
    finally:
        process.kill()
        process.wait()
    assert result.exit_code == 2
    assert f"another `chorus scan` is writing this store (pid {process.pid}" in result.output
    assert "scan into another --out folder" in result.output
    assert not (out / "findings.json").exists()
