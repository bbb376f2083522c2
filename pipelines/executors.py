"""Executors map one per-media function over many items; the driver consumes results.

Only the driver writes the store. Workers are long-lived so each loads its models once.
Three kinds, one interface (``map_unordered``): in this process (one worker), a local
pool of processes (the default, sized to the machine; supervised when items have a time
limit), and Dask distributed (``DaskExecutor``): a local cluster on 127.0.0.1, or an
existing cluster many machines have joined. The stage function is the same for all.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    workers: int

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | BaseException]]: ...


def default_workers() -> int:
    """Whisper already uses several threads per process: one worker per two cores."""
    return max(1, (os.cpu_count() or 1) // 2)


class SerialExecutor:
    """Runs items in this process, one after another (also the 1-worker local pool)."""

    workers = 1

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | BaseException]]:
        for item in items:
            try:
                yield item, fn(item)
            except Exception as exc:  # one bad item never aborts the batch
                yield item, exc


class LocalPoolExecutor:
    """A pool of worker processes on this machine, each loading its models once."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | BaseException]]:
        context = multiprocessing.get_context("spawn")  # no torch/CTranslate2 state forked
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            pending: dict[Future[R], T] = {}
            queue = iter(items)
            for item in queue:
                pending[pool.submit(fn, item)] = item
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = pending.pop(future)
                    exc = future.exception()
                    yield item, (exc if exc is not None else future.result())
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(fn, nxt)] = nxt


def _run_warmup(warmup: Callable[[], object]) -> None:
    """Run on every Dask worker: load the models now, keep them in the worker's module cache."""
    warmup()


class DaskExecutor:
    """Items as Dask tasks: a local cluster of ``workers`` processes, or an existing scheduler.

    Local: ``LocalCluster`` on 127.0.0.1 with one thread per worker process (a worker runs
    one item at a time) and ``OMP_NUM_THREADS`` set to its share of the cores, so the ASR
    engine's threads do not oversubscribe the machine. Remote (``scheduler`` =
    ``tcp://HOST:PORT``): the workers must have Chorus and its models installed at the
    same paths (``dask worker tcp://HOST:PORT --nthreads 1``). Either way each worker
    process loads its models once (``warmup``, then the module cache in media_stages),
    results travel back to this process, and only this process writes the store. At most
    two items per worker are in flight, so a million-item scan does not flood the
    scheduler. A per-item time limit is not enforced here (Dask cannot stop a running
    task); a worker that dies fails its item after Dask's retries (``KilledWorker``).
    """

    def __init__(
        self,
        workers: int = 0,
        scheduler: str | None = None,
        warmup: Callable[[], object] | None = None,
        cores: int | None = None,
    ) -> None:
        self.workers = workers or default_workers()
        self.scheduler = scheduler
        self.warmup = warmup
        self.cores = cores or os.cpu_count() or 1

    def _client(self) -> tuple[Any, Any]:
        from distributed import Client, LocalCluster

        if self.scheduler:
            return Client(self.scheduler, timeout="30s"), None
        threads = max(1, self.cores // self.workers)
        cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # a failed item is reported once, by the driver
            env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
        )
        return Client(cluster), cluster

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | BaseException]]:
        from distributed import as_completed

        from analyzer.errors import ChorusError

        queue = iter(items)
        first = list(itertools.islice(queue, 1))
        if not first:  # nothing to do: start no cluster
            return
        client, cluster = self._client()
        try:
            if self.warmup is not None:
                client.run(_run_warmup, self.warmup)
            slots = 2 * max(1, sum(client.nthreads().values()))
            pending: dict[str, T] = {}
            running = as_completed()

            def submit(item: T) -> None:
                future = client.submit(fn, item, pure=False)
                pending[future.key] = item
                running.add(future)

            for item in itertools.chain(first, itertools.islice(queue, slots - 1)):
                submit(item)
            for future in running:
                item = pending.pop(future.key)
                outcome: R | BaseException
                if future.status == "finished":
                    outcome = future.result()
                elif future.status == "error":
                    outcome = future.exception()
                else:
                    outcome = ChorusError(f"the Dask task ended as {future.status!r}")
                future.release()
                yield item, outcome
                for nxt in itertools.islice(queue, 1):
                    submit(nxt)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


EXECUTORS = ("local", "dask")
_CHOSEN: ContextVar[tuple[str, str | None]] = ContextVar("chorus_executor", default=("local", None))


@contextmanager
def chosen_executor(kind: str = "local", scheduler: str | None = None) -> Iterator[None]:
    """Inside this block ``make_executor`` builds ``kind`` unless its caller names one.

    A scan chooses its executor once (``--workers``, ``--scheduler``); the code that maps
    the stage function over items (pipelines/asr_batches.py) need not pass it along.
    """
    _check_kind(kind)
    token = _CHOSEN.set((kind, scheduler))
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def _check_kind(kind: str) -> None:
    if kind not in EXECUTORS:
        from analyzer.errors import ChorusError

        raise ChorusError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")


def make_executor(
    workers: int = 0,
    timeout_s: float | None = None,
    warmup: Callable[[], object] | None = None,
    kind: str | None = None,
    scheduler: str | None = None,
) -> Executor:
    """The executor of ``kind`` (``EXECUTORS``; default: ``chosen_executor``'s, else local).

    ``local``, sized to the machine (``workers=0``) or to ``workers``: with ``timeout_s``
    (0: none) items run in watched worker processes, even with one worker, so an item
    that hangs or crashes native code fails alone (supervised.py); ``warmup`` loads each
    worker's models before its first item. Without it, one worker runs in this process
    (handy under a debugger) and more use a plain process pool. ``dask`` (or any
    ``scheduler`` address): ``DaskExecutor`` with ``workers`` local workers or the cluster's.
    """
    chosen_kind, chosen_scheduler = _CHOSEN.get()
    kind = kind or chosen_kind
    scheduler = scheduler or (chosen_scheduler if kind == chosen_kind else None)
    _check_kind(kind)
    if kind == "dask" or scheduler:
        return DaskExecutor(workers, scheduler, warmup)
    count = workers or default_workers()
    if timeout_s is not None:
        from pipelines.supervised import SupervisedExecutor

        return SupervisedExecutor(count, timeout_s, warmup)
    return SerialExecutor() if count <= 1 else LocalPoolExecutor(count)
