"""Paths from a manifest cannot leave the folder a scan may read (the server's --allow-paths).

Every way out is tried: '..', an absolute path, a symlinked file, a symlinked folder and
sidecars (.info.json, .srt) that are symlinks to secrets. Each is refused per item, with
the reason, and nothing outside the allowed folder is opened or listed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from analyzer.errors import ChorusError
from analyzer.media import discover, read_manifest
from analyzer.records import Source
from analyzer.store import Store
from pipelines.scan import ScanOptions, run_media_stages
from tests.conftest import shared

REFUSED = "the path leads outside the folder this scan may read"


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """allowed/ (what the server serves) beside secret/ (what it must never read)."""
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    (allowed / "sub").mkdir(parents=True)
    secret.mkdir()
    clip = shared("audio/coqui-tts-ljspeech/LJ001-0008.flac")
    shutil.copyfile(clip, allowed / "ok.flac")
    shutil.copyfile(clip, allowed / "sub" / "inner.flac")
    shutil.copyfile(clip, secret / "private.flac")
    (secret / "private.info.json").write_text(json.dumps({"title": "SECRET TITLE"}))
    (secret / "private.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nSECRET LINE\n")
    os.symlink(secret / "private.flac", allowed / "link_out.flac")
    os.symlink(allowed / "ok.flac", allowed / "link_in.flac")
    os.symlink(secret, allowed / "secret_dir")
    os.symlink(secret / "private.info.json", allowed / "ok.info.json")
    os.symlink(secret / "private.srt", allowed / "ok.en.srt")
    return {"allowed": allowed, "secret": secret, "root": tmp_path}


def _manifest(folder: Path, rows: list[str]) -> Path:
    path = folder / "list.jsonl"
    path.write_text("\n".join(json.dumps({"path": row}) for row in rows) + "\n", encoding="utf-8")
    return path


def test_allowed_root_manifest_refuses_every_way_out(tree):
    allowed, secret = tree["allowed"], tree["secret"]
    rows = [
        "ok.flac",
        "sub/inner.flac",
        "link_in.flac",
        "../secret/private.flac",
        str(secret / "private.flac"),
        "link_out.flac",
        "secret_dir/private.flac",
        "sub/../../secret/private.flac",
    ]
    items = read_manifest(str(_manifest(allowed, rows)), allowed_root=str(allowed))
    by_path = {item.rel_path: item for item in items}
    for row in rows[:3]:
        assert by_path[row].error is None, row
    for row in rows[3:]:
        item = by_path[row]
        assert item.error == f"{row}: {REFUSED} (after '..' and symlinks); refused", item
        assert item.subtitle_paths == () and item.source == Source() and item.metadata_error is None
        assert "secret" not in item.path or not Path(item.path).resolve().is_relative_to(allowed)


def test_allowed_root_sidecars_that_lead_outside_are_not_read(tree):
    allowed = tree["allowed"]
    (item,) = read_manifest(str(_manifest(allowed, ["ok.flac"])), allowed_root=str(allowed))
    assert item.error is None and item.source.title is None and item.subtitle_paths == ()
    assert item.metadata_error == (
        "ok.info.json: metadata sidecar leads outside the allowed folder; not read; "
        "ok.en.srt: subtitle sidecar leads outside the allowed folder; skipped"
    )
    (trusting,) = read_manifest(str(_manifest(allowed, ["ok.flac"])))  # no root: the CLI's own choice
    assert trusting.source.title == "SECRET TITLE" and len(trusting.subtitle_paths) == 1


def test_allowed_root_discover_does_not_walk_or_read_outside(tree):
    allowed = tree["allowed"]
    items = {item.rel_path: item for item in discover(str(allowed), allowed_root=str(allowed))}
    assert "secret_dir/private.flac" not in items  # the symlinked folder is not entered
    assert items["link_out.flac"].error is not None and REFUSED in items["link_out.flac"].error
    assert items["ok.flac"].error is None and items["link_in.flac"].error is None
    assert "secret_dir/private.flac" in {i.rel_path for i in discover(str(allowed))}  # CLI: followed
    with pytest.raises(ChorusError, match="outside the folder"):
        discover(str(tree["secret"]), allowed_root=str(allowed))


def test_allowed_root_refusals_and_bad_rows_are_failed_items_in_a_scan(tree, tmp_path):
    allowed = tree["allowed"]
    manifest = allowed / "list.jsonl"
    manifest.write_text(
        json.dumps({"path": "../secret/private.flac"})
        + "\n{not json\n"
        + json.dumps({"title": "no path"})
        + "\n",
        encoding="utf-8",
    )
    items = read_manifest(str(manifest), allowed_root=str(allowed))
    with Store(tmp_path / "chorus.db") as store:
        summary = run_media_stages(items, store, ScanOptions(), None)
        rows = {row.rel_path: row for row in store.media_rows()}
    assert summary.n_processed == 0
    assert {r.status for r in rows.values()} == {"failed"}
    assert (
        rows["../secret/private.flac"].error
        == f"../secret/private.flac: {REFUSED} (after '..' and symlinks); refused"
    )
    assert rows["list.jsonl row 2"].error.startswith("list.jsonl row 2: line 2 is not JSON (")
    assert rows["list.jsonl row 3"].error == "list.jsonl row 3: has no 'path'"
