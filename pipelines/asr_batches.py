"""Media jobs in batches, so a worker transcribes several files' speech together.

Workers are sized to the machine: ``workers`` processes with ``cores / workers`` threads
each for the ASR engine (CTranslate2 and torch would otherwise each take 4 or all cores
per process and fight). Jobs go to workers in batches of small files (by bytes on disk,
a cheap stand-in for duration before decoding), so short clips share Whisper windows
(analyzer/transcribe/faster.py) while a long video is a batch of its own. A batch that
fails as a whole (time-out, a crash in native code) is run again one file per task, so
the file at fault fails alone and the others still get done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from analyzer.errors import ModelError
from analyzer.store import MediaResult
from analyzer.transcribe import TranscribeOptions
from analyzer.transcribe.base import engine_for
from pipelines.executors import default_workers, make_executor
from pipelines.media_stages import MediaJob, process_media, process_media_batch, transcriber_for

BATCHED_ENGINES = frozenset({"faster-whisper"})  # engines whose transcribe_many packs files together


@dataclass(frozen=True)
class BatchOptions:
    """How many files a worker takes at once."""

    max_files: int = 16
    max_bytes: int = 64 * 1024 * 1024  # a bigger file (a long video) is a batch of its own


def sized(options: TranscribeOptions, workers: int) -> TranscribeOptions:
    """``options`` with the engine's threads set so ``workers`` processes share the cores."""
    if options.cpu_threads:
        return options
    return replace(options, cpu_threads=max(1, (os.cpu_count() or 1) // max(1, workers)))


def _size(job: MediaJob) -> int:
    try:
        return os.path.getsize(job.item.path)
    except OSError:
        return 0


def plan(jobs: Sequence[MediaJob], workers: int, options: BatchOptions) -> list[tuple[MediaJob, ...]]:
    """Consecutive jobs grouped into batches, small enough that every worker gets some."""
    if not jobs:
        return []
    per_worker = -(-len(jobs) // max(1, workers))
    limit = max(1, min(options.max_files, per_worker))
    batches: list[tuple[MediaJob, ...]] = []
    current: list[MediaJob] = []
    used = 0
    for job in jobs:
        size = _size(job)
        if current and (len(current) >= limit or used + size > options.max_bytes):
            batches.append(tuple(current))
            current, used = [], 0
        current.append(job)
        used += size
    if current:
        batches.append(tuple(current))
    return batches


def run_jobs(
    jobs: Sequence[MediaJob],
    workers: int = 0,
    timeout_s: float | None = None,
    options: BatchOptions | None = None,
) -> Iterator[tuple[MediaJob, MediaResult | BaseException]]:
    """Every job's result (or the exception that failed it), in the order they finish.

    Args:
        jobs: media jobs, all with the same TranscribeOptions.
        workers: worker processes; 0 sizes the pool to the machine.
        timeout_s: per-item time limit (None: run in this process, no limit); a batch
            gets this limit times its number of items.
        options: batch sizes.
    """
    if not jobs:
        return
    options = options or BatchOptions()
    count = workers or default_workers()
    transcribe = sized(jobs[0].transcribe, count)
    jobs = [replace(job, transcribe=transcribe) for job in jobs]
    warmup = partial(transcriber_for, transcribe)
    if engine_for(transcribe) not in BATCHED_ENGINES:
        yield from make_executor(count, timeout_s, warmup).map_unordered(process_media, jobs)
        return
    batches = plan(jobs, count, options)
    longest = max(len(b) for b in batches)
    executor = make_executor(count, timeout_s * longest if timeout_s else timeout_s, warmup)
    retry: list[MediaJob] = []
    for batch, outcome in executor.map_unordered(process_media_batch, batches):
        if isinstance(outcome, ModelError):
            yield batch[0], outcome  # the scan stops: no item can be transcribed
            return
        if isinstance(outcome, BaseException):
            if len(batch) == 1:
                yield batch[0], outcome
            else:
                retry.extend(batch)  # find the file at fault: one per task, the others succeed
            continue
        yield from zip(batch, outcome, strict=True)
    if retry:
        yield from make_executor(count, timeout_s, warmup).map_unordered(process_media, retry)
