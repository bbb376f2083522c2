"""Sidecar subtitles are part of what a media item is: edits are read, copies keep their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

VIDEO = SAMPLES / "videos" / "district_daily_j6w2e_progress.mp4"


def _srt(text: str) -> str:
    return f"1\n00:00:00,500 --> 00:00:04,000\n{text}\n\n"


def _subtitle_texts(out: Path, rel_path: str) -> set[str]:
    from analyzer.store import Store

    with Store(out / "chorus.db") as store:
        row = next(r for r in store.media_rows() if r.rel_path == rel_path)
        return {u.text for u in store.units([row.media.id]) if u.source == "subtitle"}


@pytest.mark.slow
def test_rescan_reads_edited_sidecars_and_copies_keep_their_own(tmp_path: Path) -> None:
    from analyzer.media import discover
    from pipelines.scan import scan

    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(VIDEO, folder / "original.mp4")
    shutil.copy(VIDEO, folder / "copy.mp4")  # the same bytes, under another name
    (folder / "original.en.srt").write_text(_srt("The river walk opens on Monday."), encoding="utf-8")
    (folder / "copy.en.srt").write_text(_srt("Our hospital has three new doctors."), encoding="utf-8")
    out = tmp_path / "out"

    first = scan(discover(str(folder)), out, scan_root=str(folder))
    assert first.n_processed == 2  # the copy's own subtitles make it its own item
    assert _subtitle_texts(out, "original.mp4") == {"The river walk opens on Monday."}
    assert _subtitle_texts(out, "copy.mp4") == {"Our hospital has three new doctors."}

    unchanged = scan(discover(str(folder)), out, scan_root=str(folder))
    assert (unchanged.n_processed, unchanged.n_reused) == (0, 2)

    (folder / "original.en.srt").write_text(_srt("The market moves to the square."), encoding="utf-8")
    edited = scan(discover(str(folder)), out, scan_root=str(folder))
    assert (edited.n_processed, edited.n_reused) == (1, 1)  # only the item whose subtitle changed
    assert _subtitle_texts(out, "original.mp4") == {"The market moves to the square."}
