"""Worker processes under a watchdog: an item that hangs or crashes its worker fails alone.

Why processes and not a watchdog thread: Python cannot stop a thread, and a file built
to make FFmpeg or CTranslate2 spin (or crash) does so inside C code, where no signal or
exception reaches it. Only the operating system can stop that work, so each worker is a
process the driver may kill. A killed or crashed worker is replaced and the batch goes
on; the item it held is reported with the reason.

Workers are long-lived and run ``warmup`` (loading the models) before their first item,
so model loading is never charged to an item's time limit and happens once per worker,
not once per item. ``benchmarks/supervised_executor.py`` measures the overhead against
running in the driver's own process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from analyzer.errors import ChorusError
from analyzer.limits import FLAGS, format_duration

T = TypeVar("T")
R = TypeVar("R")


class ItemTimeout(ChorusError):
    """An item ran past the per-item time limit; its worker was stopped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        flag = FLAGS["item_timeout_s"]
        super().__init__(
            f"took longer than the per-item limit of {format_duration(seconds)} and was stopped "
            f"(raise it with {flag})"
        )

    def __reduce__(self) -> tuple[type, tuple[float]]:
        return (type(self), (self.seconds,))


class WorkerCrashed(ChorusError):
    """The worker process died while it held an item (a crash in native code, the OOM killer)."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(f"the worker process died while reading it ({_describe_exit(exitcode)})")

    def __reduce__(self) -> tuple[type, tuple[int | None]]:
        return (type(self), (self.exitcode,))


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = {
        "SIGSEGV": "a crash in FFmpeg or the ASR engine on this file",
        "SIGKILL": "killed from outside, often for running out of memory",
        "SIGABRT": "a native library aborted",
    }.get(name)
    return f"{name}: {hint}" if hint else name


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the driver dies (even by SIGKILL): no orphans."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: an orphan finishes its item, finds the pipe closed and exits


def _worker_main(conn: Connection, warmup: Callable[[], Any] | None) -> None:
    """A worker's life: warm up once, then run items sent by the driver until told to stop."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        if warmup is not None:
            warmup()
    except Exception as exc:
        conn.send(("warmup-error", exc))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        fn, item = message
        try:
            result = ("ok", fn(item))
        except Exception as exc:  # the item's own failure; the worker lives on
            result = ("error", exc)
        try:
            conn.send(result)
        except Exception as exc:  # a result or error that cannot be pickled
            conn.send(("error", ChorusError(f"{type(exc).__name__}: {exc}")))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    item: Any = None
    busy: bool = False
    deadline: float = 0.0


@dataclass
class SupervisedExecutor:
    """Runs items in ``workers`` watched processes, each item within ``timeout_s`` seconds.

    ``timeout_s`` of 0 means no time limit (crashes are still contained). Workers start
    on the first item, so a scan with nothing to do starts none.
    """

    workers: int
    timeout_s: float = 0.0
    warmup: Callable[[], Any] | None = None
    _context: Any = field(default_factory=lambda: multiprocessing.get_context("spawn"))

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(child, self.warmup), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | BaseException]]:
        queue: deque[T] = deque(items)
        pool: list[_Worker | None] = [None] * self.workers
        try:
            while queue or any(w is not None and w.busy for w in pool):
                idle = sum(1 for w in pool if w is not None and not w.busy)
                for index, worker in enumerate(pool):
                    if worker is None and len(queue) > idle:  # first use, or replacing a stopped one
                        pool[index] = worker = self._start()
                        idle += 1
                    if worker is not None and worker.ready and not worker.busy and queue:
                        worker.item = queue.popleft()
                        worker.conn.send((fn, worker.item))
                        worker.busy = True
                        worker.deadline = time.monotonic() + self.timeout_s if self.timeout_s else 0.0
                yield from self._collect(pool)
        finally:
            for worker in pool:
                if worker is not None:
                    _stop(worker, kill=worker.busy)

    def _collect(self, pool: list[_Worker | None]) -> Iterator[tuple[Any, Any]]:
        """Wait for the next message, death or deadline; stop workers that are stuck or gone."""
        live = [w for w in pool if w is not None]
        deadlines = [w.deadline for w in live if w.busy and w.deadline]
        wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = set(wait([w.conn for w in live] + [w.process.sentinel for w in live], timeout=wait_s))
        for index, worker in enumerate(pool):
            if worker is None:
                continue
            outcome: Any = None
            if worker.conn in ready:
                try:
                    kind, payload = worker.conn.recv()
                except (EOFError, OSError):  # the pipe closed: the process is ending
                    kind, payload = "dead", None
                    worker.process.join(timeout=5)
                if kind == "ready":
                    worker.ready = True
                    continue
                if kind == "warmup-error":
                    raise payload
                if kind in ("ok", "error"):
                    outcome = payload
            if outcome is None and not worker.process.is_alive():
                if not worker.ready:
                    code = _describe_exit(worker.process.exitcode)
                    raise ChorusError(
                        f"a worker process died while loading the models ({code}; its error is printed"
                        " above). Calling Chorus from a script? Start it under `if __name__ == '__main__':`"
                        " (worker processes import the script again)"
                    )
                outcome = WorkerCrashed(worker.process.exitcode) if worker.busy else None
                _stop(worker)
                pool[index] = None
            elif outcome is None and worker.busy and worker.deadline and time.monotonic() >= worker.deadline:
                outcome = ItemTimeout(self.timeout_s)
                _stop(worker, kill=True)
                pool[index] = None
            if outcome is not None and worker.busy:
                item, worker.item, worker.busy = worker.item, None, False
                yield item, outcome


def _stop(worker: _Worker, kill: bool = False) -> None:
    """End a worker: politely when idle, at once when it is stuck on an item."""
    if not kill and worker.process.is_alive():
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(timeout=5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()
