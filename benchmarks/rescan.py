"""What a re-scan costs: nothing new, then a few new files, against the first scan.

    .venv/bin/python benchmarks/rescan.py              # samples/videos, 2 files added later
    .venv/bin/python benchmarks/rescan.py --add 4

Runs `chorus scan` as a user would (a fresh process each time, --log-json) on a copy of
samples/videos: first without ``--add`` of its files, then again unchanged, then with
those files added. Prints wall time, what was processed and embedded, and the stage
times each scan reported. The baseline is the first scan, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Recitals of the scripts: adding them changes the talking points, as new files do.
LATER = [
    "valleylife_93fj1_my_home",
    "district_daily_j6w2e_progress",
    "realvalley_stories_q8z3m_truth",
    "agua_limpia_r9k3p_gracias",
]


def run_scan(folder: Path, out: Path) -> dict[str, Any]:
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "analyzer.cli", "scan", str(folder), "--out", str(out), "--log-json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - started
    result = json.loads(done.stderr.strip().splitlines()[-1])
    return result | {"wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--add", type=int, default=2, help="files added before the third scan")
    args = parser.parse_args()
    later = LATER[: args.add]
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "videos", Path(tmp) / "out"
        held = Path(tmp) / "held"
        shutil.copytree(ROOT / "samples" / "videos", folder)
        held.mkdir()
        for path in list(folder.iterdir()):
            if path.name.split(".")[0] in later:
                path.rename(held / path.name)
        runs = [("first scan", run_scan(folder, out)), ("same folder again", run_scan(folder, out))]
        for path in held.iterdir():
            path.rename(folder / path.name)
        runs.append((f"{len(later)} files added", run_scan(folder, out)))
    print("| scan | media | processed | unchanged | newly embedded | wall | per-media | corpus stages |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs:
        timings = r["timings_s"]
        per_media = sum(v for k, v in timings.items() if k.startswith("per-media"))
        corpus = sum(v for k, v in timings.items() if not k.startswith("per-media") and k != "report")
        print(
            f"| {name} | {r['media']} | {r['processed']} | {r['unchanged']} | {r['embedded']} | "
            f"{r['wall_s']:.1f} s | {per_media:.1f} s | {corpus:.1f} s |"
        )
    for name, r in runs:
        print(f"{name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["timings_s"].items()))
    first, again, added = (r for _, r in runs)
    print(
        f"\nunchanged re-scan: {again['wall_s'] / first['wall_s']:.2f}x the first scan's time; "
        f"{len(later)} new files: {added['wall_s'] / first['wall_s']:.2f}x "
        f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
