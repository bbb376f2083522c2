"""Progress for unattended scans: JSON lines on a stream, or nothing at all.

The library reports progress as ``progress(stage, done, total)`` calls from the driver
process (also under Dask: results come back to the driver), so one adapter serves every
executor. ``JsonProgress`` writes one JSON object a line, at most one a second per stage
plus the first and last of each, so a million-item scan logs minutes, not megabytes.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, TextIO


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JsonProgress:
    """``{"event": "progress", "stage", "done", "total", "elapsed_s", "eta_s", "time"}`` lines."""

    def __init__(self, stream: TextIO, every_s: float = 1.0) -> None:
        self.stream = stream
        self.every_s = every_s
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        first = stage not in self.started
        self.started.setdefault(stage, now)
        finished = done >= total
        if not (first or finished or now - self.last.get(stage, 0.0) >= self.every_s):
            return
        self.last[stage] = now
        elapsed = now - self.started[stage]
        eta = elapsed / done * (total - done) if 0 < done < total else (0.0 if finished else None)
        self.emit(
            {
                "event": "progress",
                "stage": stage,
                "done": done,
                "total": total,
                "elapsed_s": round(elapsed, 2),
                "eta_s": None if eta is None else round(eta, 1),
            }
        )

    def emit(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record | {"time": _now()}, ensure_ascii=False) + "\n")
        self.stream.flush()

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()


class QuietProgress:
    """Reports nothing (``chorus scan --quiet``)."""

    def __call__(self, stage: str, done: int, total: int) -> None:
        return None

    def __enter__(self) -> QuietProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def scan_result(summary: Any, findings: dict[str, Any] | None, top: int) -> dict[str, Any]:
    """The closing JSON record of a scan: counts, stage times, top talking points, failures."""
    failed = [
        {"id": m.get("id"), "path": m.get("path"), "error": m.get("error")}
        for m in (findings or {}).get("media", [])
        if m.get("status") == "failed"
    ]
    return {
        "event": "result",
        "media": summary.n_media,
        "processed": summary.n_processed,
        "unchanged": summary.n_reused,
        "failed": summary.n_failed,
        "units": summary.n_units,
        "embedded": summary.n_embedded,
        "timings_s": {k: round(v, 3) for k, v in summary.timings.items()},
        "talking_points": [
            {
                "rank": rank,
                "id": tp.id,
                "score": tp.score,
                "n_media": tp.n_media,
                "n_channels": tp.n_channels,
                "languages": list(tp.languages),
                "label": tp.label,
            }
            for rank, tp in enumerate(summary.talking_points[:top], 1)
        ],
        "failed_media": failed,
        "findings": summary.findings_path,
        "report": summary.report_path,
        "store": summary.store_path,
    }
