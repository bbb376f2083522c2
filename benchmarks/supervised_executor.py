"""What the per-item time limit costs: watched worker processes vs running in the driver.

Why: `chorus scan` runs the per-media stages (decode, ASR, subtitles, units) in a watched
worker process even with one worker, so an item that hangs or crashes native code can be
stopped without losing the batch (pipelines/supervised.py). This prints what that costs
against the baseline of running the same stages in the driver's own process, both from
cold (model loading included, as in a real scan), on real speech clips from
../shared/data (LJSpeech and JFK).

Each configuration runs in a fresh Python process, so both pay imports and model loading
cold, as a real `chorus scan` does. Rows: the in-process baseline, the watched worker,
and their ratio; columns: total wall time (from before the first import), time to the
first result (start-up: imports, spawn, model load, first item), and time per item after
the first. Each configuration runs ``--repeats`` times, alternating, best kept.

Usage: ``python benchmarks/supervised_executor.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT.parent / "shared" / "data" / "audio"
CLIPS = [
    *(DATA / "coqui-tts-ljspeech").glob("LJ001-000*.flac"),
    DATA / "openai-whisper" / "jfk.flac",
]


def _jobs() -> list:  # type: ignore[type-arg]
    from analyzer.media import file_sha256, media_id_for
    from analyzer.records import MediaInput
    from analyzer.transcribe import TranscribeOptions
    from pipelines.media_stages import MediaJob

    jobs = []
    for clip in sorted(CLIPS):
        sha = file_sha256(str(clip))
        item = MediaInput(path=str(clip), rel_path=clip.name)
        jobs.append(MediaJob(item, media_id_for(sha), sha, TranscribeOptions(), 4 * 3600))
    return jobs


def _in_process(jobs: list, started: float) -> list[float]:  # type: ignore[type-arg]
    """The baseline: the stages in this process."""
    from pipelines import media_stages

    marks = []
    for job in jobs:
        media_stages.process_media(job)
        marks.append(time.perf_counter() - started)
    return marks


def _watched(jobs: list, started: float) -> list[float]:  # type: ignore[type-arg]
    """One watched worker (spawned, warmed up, time limit armed), as `chorus scan` runs it."""
    from functools import partial

    from pipelines import media_stages
    from pipelines.supervised import SupervisedExecutor

    warmup = partial(media_stages.transcriber_for, jobs[0].transcribe)
    executor = SupervisedExecutor(1, timeout_s=3600, warmup=warmup)
    marks = []
    for _job, result in executor.map_unordered(media_stages.process_media, jobs):
        assert not isinstance(result, BaseException), result
        marks.append(time.perf_counter() - started)
    return marks


MODES: dict[str, Callable[[list, float], list[float]]] = {  # type: ignore[type-arg]
    "in-process (baseline)": _in_process,
    "watched worker": _watched,
}


def _fresh(mode: str) -> list[float]:
    """One configuration in a fresh interpreter; its marks in seconds from its start."""
    output = subprocess.run(
        [sys.executable, __file__, "--one", mode], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout
    return [float(x) for x in output.strip().splitlines()[-1].split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        started = time.perf_counter()
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        print(",".join(f"{mark:.3f}" for mark in MODES[args.one](_jobs(), started)))
        return
    missing = [c for c in CLIPS if not c.exists()]
    if missing or not CLIPS:
        sys.exit(f"shared audio missing: {missing or DATA}")
    results: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(args.repeats):  # alternate, so load on the machine hits both alike
        for name in MODES:
            marks = _fresh(name)
            if not results[name] or marks[-1] < results[name][-1]:
                results[name] = marks
    print(
        f"{len(CLIPS)} clips ({', '.join(c.name for c in sorted(CLIPS))}), best of {args.repeats}, cold start"
    )
    print(f"{'':24} {'total s':>8} {'first result s':>15} {'per later item s':>17}")
    rows = {}
    for name, marks in results.items():
        later = (marks[-1] - marks[0]) / max(1, len(marks) - 1)
        rows[name] = (marks[-1], marks[0], later)
        print(f"{name:24} {marks[-1]:8.2f} {marks[0]:15.2f} {later:17.3f}")
    base, watched = rows["in-process (baseline)"], rows["watched worker"]
    ratio = [w / b if b else float("nan") for w, b in zip(watched, base, strict=True)]
    print(f"{'ratio watched/baseline':24} {ratio[0]:8.2f} {ratio[1]:15.2f} {ratio[2]:17.2f}")


if __name__ == "__main__":
    main()
