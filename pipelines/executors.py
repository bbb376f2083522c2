"""Executors map one per-media function over many items; the driver consumes results.

Only the driver writes the store. Workers are long-lived so each loads its models once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol, TypeVar

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


def make_executor(workers: int = 0) -> Executor:
    """The local executor sized to the machine (``workers=0``) or to ``workers``."""
    count = workers or default_workers()
    return SerialExecutor() if count <= 1 else LocalPoolExecutor(count)
