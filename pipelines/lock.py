"""One writer per store: a second `chorus scan` on the same store is refused, clearly.

Two scans writing one store would each drop the other's media as "no longer in the
scanned set" and overwrite its talking points. SQLite's own locks serialise single
writes, not whole scans, so a scan holds ``chorus.db.lock`` for its whole run.

The lock is an advisory ``flock`` on that file, not the file's existence: the kernel
releases it when its process ends in any way (SIGKILL and power loss included), so a
stale lock can never block a later scan, and a reused PID can never fake a live one.
The file holds the holder's PID, host and start time, only to say who holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analyzer.errors import StoreError
from analyzer.store import now


def lock_path(store_path: str | Path) -> Path:
    return Path(f"{store_path}.lock")


@contextlib.contextmanager
def store_lock(store_path: str | Path) -> Iterator[Path]:
    """Hold the store's writer lock for the body; StoreError at once if another holds it."""
    import fcntl  # POSIX only, like the rest of the pipeline's process handling

    path = lock_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd, fcntl.LOCK_EX):
            raise StoreError(_held_message(store_path, holder(store_path)))
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # the file stays: deleting it would let two holders race
    finally:
        os.close(fd)  # closing releases the flock


def _try_lock(fd: int, mode: int) -> bool:
    """Take the lock without blocking; a few short retries ride out `holder()`'s peek."""
    import fcntl

    for attempt in range(5):
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.05 * (attempt + 1))
    return False


def holder(store_path: str | Path) -> dict[str, Any] | None:
    """Who holds the store's lock now ({"pid", "host", "since"}), or None when nobody does."""
    import fcntl

    path = lock_path(store_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: read who holds it
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = {}
        return data if isinstance(data, dict) else {}
    finally:
        os.close(fd)


def _held_message(store_path: str | Path, who: dict[str, Any] | None) -> str:
    who = who or {}
    pid = who.get("pid", "unknown")
    since = f", running since {who['since']}" if who.get("since") else ""
    host = f" on {who['host']}" if who.get("host") and who.get("host") != socket.gethostname() else ""
    return (
        f"{store_path}: another `chorus scan` is writing this store (pid {pid}{host}{since}); "
        "wait for it to finish, or scan into another --out folder"
    )
