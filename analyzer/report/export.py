"""`chorus export`: the store as CSV or JSONL files any spreadsheet or script can open.

Four tables: talking points, their members, media, and every transcript segment and
subtitle cue (``transcripts``) with media id, start_s, end_s, text, language and source.
Text comes from videos and their uploaders, so CSV cells that a spreadsheet would run as a
formula (starting with =, +, -, @, tab or CR) are neutralised with a leading apostrophe;
JSONL keeps the exact text.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analyzer.errors import ChorusError
from analyzer.report.findings import add_reupload_fields, media_entry, seconds, talking_point_entry
from analyzer.store import Store

Format = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "jsonl")

# OWASP's list of characters that make a spreadsheet cell a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

TALKING_POINT_COLUMNS = (
    "id",
    "rank",
    "score",
    "breadth",
    "tightness",
    "specificity",
    "timing",
    "accounts",
    "label",
    "languages",
    "n_media",
    "n_channels",
    "n_members",
    "first_published",
)
MEMBER_COLUMNS = (
    "talking_point",
    "rank",
    "media_id",
    "start_s",
    "end_s",
    "text",
    "language",
    "source",
    "track",
    "similarity",
    "relation",
    "channel",
    "published",
    "url_at",
)
MEDIA_COLUMNS = (
    "id",
    "path",
    "duration_s",
    "channel",
    "uploader",
    "handle",
    "title",
    "published",
    "url",
    "languages",
    "duplicate_of",
    "duplicate_by",  # what showed the re-upload: audio fingerprint, transcript, identical file
    "duplicate_bit_error_rate",
    "duplicate_offset_s",
    "duplicate_overlap_s",
    "duplicate_transcript_share",
    "status",
    "error",
    "notes",
)
TRANSCRIPT_COLUMNS = (
    "media_id",
    "source",
    "track",
    "idx",
    "start_s",
    "end_s",
    "text",
    "language",
    "confidence",
)


@dataclass(frozen=True)
class ExportOptions:
    format: Format = "csv"
    # Excel reads a CSV as UTF-8 only when it starts with a byte-order mark; other tools
    # (pandas, csvkit, LibreOffice) skip it.
    csv_bom: bool = True


@dataclass(frozen=True)
class ExportedTable:
    name: str
    path: str
    rows: int


def neutralise(value: object) -> object:
    """A CSV cell that a spreadsheet will show as text, never evaluate as a formula."""
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def _cell(value: object) -> object:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def _talking_points(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = {r.media.id: r for r in store.media_rows()}
    points: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for rank, tp in enumerate(store.talking_points(), 1):
        entry = talking_point_entry(rank, tp, rows)
        points.append(
            {
                **{k: entry[k] for k in ("id", "rank", "score", "label", "languages", "n_media")},
                **entry["score_parts"],
                "n_channels": entry["n_channels"],
                "n_members": len(entry["members"]),
                "first_published": entry["first_published"],
            }
        )
        members.extend({"talking_point": tp.id, "rank": rank, **m} for m in entry["members"])
    return points, members


def _media(store: Store) -> list[dict[str, Any]]:
    """findings.json's media entries, with each re-upload's evidence in flat columns."""
    data: dict[str, Any] = {"media": [media_entry(r) for r in store.media_rows()]}
    add_reupload_fields(data, store.reuploads())
    for entry in data["media"]:
        evidence = entry.pop("duplicate_evidence") or {}
        for key in ("by", "bit_error_rate", "offset_s", "overlap_s", "transcript_share"):
            entry[f"duplicate_{key}"] = evidence.get(key)
    return list(data["media"])


def _transcripts(store: Store) -> Iterator[dict[str, Any]]:
    """Every ASR segment, then every subtitle cue (source "ocr" where read from pictures)."""
    from analyzer.subtitles.ocr import is_ocr_track

    for row in store.media_rows():
        media_id = row.media.id
        for idx, seg in enumerate(store.segments(media_id)):
            yield {
                "media_id": media_id,
                "source": "asr",
                "track": "asr",
                "idx": idx,
                "start_s": seconds(seg.start_ms),
                "end_s": seconds(seg.end_ms),
                "text": seg.text,
                "language": seg.language,
                "confidence": round(seg.confidence, 4),
            }
        counters: dict[str, int] = {}
        read_by_ocr = {track.track for track, _ in store.tracks(media_id) if is_ocr_track(track)}
        for cue in store.cues(media_id):
            idx = counters.get(cue.track, 0)
            counters[cue.track] = idx + 1
            yield {
                "media_id": media_id,
                "source": "ocr" if cue.track in read_by_ocr else "subtitle",
                "track": cue.track,
                "idx": idx,
                "start_s": seconds(cue.start_ms),
                "end_s": seconds(cue.end_ms),
                "text": cue.text,
                "language": cue.language,
                "confidence": None,
            }


def _write(
    target: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]], options: ExportOptions
) -> int:
    """Write one table atomically (temp file, then rename); returns the row count."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    count = 0
    try:
        if options.format == "csv":
            encoding = "utf-8-sig" if options.csv_bom else "utf-8"
            with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([neutralise(_cell(row.get(c))) for c in columns])
                    count += 1
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
                    count += 1
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def export(
    store_path: str | Path, out_dir: str | Path, options: ExportOptions | None = None
) -> list[ExportedTable]:
    """Write talking_points, members, media and transcripts as CSV or JSONL into ``out_dir``.

    Raises:
        ChorusError: unknown format, or the store is missing or unreadable.
    """
    options = options or ExportOptions()
    if options.format not in FORMATS:
        raise ChorusError(f"export format {options.format!r} is not one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[ExportedTable] = []
    with Store(store_path, create=False) as store:
        points, members = _talking_points(store)
        media = _media(store)
        tables: list[tuple[str, Sequence[str], Iterable[dict[str, Any]]]] = [
            ("talking_points", TALKING_POINT_COLUMNS, points),
            ("members", MEMBER_COLUMNS, members),
            ("media", MEDIA_COLUMNS, media),
            ("transcripts", TRANSCRIPT_COLUMNS, _transcripts(store)),
        ]
        for name, columns, rows in tables:
            target = out / f"{name}.{options.format}"
            written.append(ExportedTable(name, str(target), _write(target, columns, rows, options)))
    return written
