"""Shared fixtures: real data paths, the real embedder, one real scan of samples/."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"
# Left out of the scan so `chorus check` can be tested on a video the store has not seen.
HELD_OUT = "videos/mountain_truth_k2v9x_voices.webm"


def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared test data not present: {path}")
    return path


@pytest.fixture(scope="session")
def truth() -> dict[str, Any]:
    return json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def embedder() -> Any:
    from analyzer.embed import Embedder

    return Embedder("multilingual-e5-small")


@pytest.fixture(scope="session")
def demo_scan(tmp_path_factory: pytest.TempPathFactory, truth: dict[str, Any]) -> dict[str, Any]:
    """Scan every sample but HELD_OUT through a CSV manifest, with the real models."""
    from analyzer.media import read_manifest
    from pipelines.scan import scan

    work = tmp_path_factory.mktemp("demo")
    manifest = work / "manifest.csv"
    rows = [str(SAMPLES / m["file"]) for m in truth["media"] if m["file"] != HELD_OUT]
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path"])
        writer.writerows([r] for r in rows)
    inputs = read_manifest(str(manifest))
    out = work / "out"
    summary = scan(inputs, out, scan_root=str(SAMPLES))
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return {"summary": summary, "findings": findings, "out": out, "inputs": inputs}
