"""findings.json (schema "chorus.findings/1"): the output contract other tools read.

Fields may be added, never renamed (DESIGN.md). Seconds appear only here, converted once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from analyzer.records import Reupload, Script, TalkingPoint
from analyzer.report.asr import AsrFindings, add_asr_fields
from analyzer.report.subtitles import SubtitleFindings, add_subtitle_fields
from analyzer.store import MediaRow, now

SCHEMA = "chorus.findings/1"


def seconds(ms: int | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


def url_at(url: str | None, start_ms: int) -> str | None:
    """The source URL opened at a time (``t=`` seconds), only for http(s) URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
    query.append(("t", str(max(0, start_ms // 1000))))
    return urlunsplit(parts._replace(query=urlencode(query)))


def media_entry(row: MediaRow) -> dict[str, Any]:
    m = row.media
    return {
        "id": m.id,
        "path": row.rel_path,
        "duration_s": seconds(m.duration_ms) if row.status == "ok" else None,
        "channel": m.source.channel,
        "uploader": m.source.uploader,
        "handle": m.source.handle,
        "title": m.source.title,
        "published": m.source.published,
        "url": m.source.url,
        "languages": list(row.languages),
        "duplicate_of": row.duplicate_of,
        "status": row.status,
        "error": row.error,
        "notes": list(row.notes),
    }


def talking_point_entry(rank: int, tp: TalkingPoint, media: Mapping[str, MediaRow]) -> dict[str, Any]:
    members = []
    for m in tp.members:
        row = media.get(m.unit.media_id)
        members.append(
            {
                "media_id": m.unit.media_id,
                "start_s": seconds(m.unit.start_ms),
                "end_s": seconds(m.unit.end_ms),
                "text": m.unit.text,
                "source": m.unit.source,
                "track": m.unit.track,
                "language": m.unit.language,
                "similarity": m.similarity,
                "relation": m.relation,
                "channel": row.media.source.channel if row else None,
                "published": row.media.source.published if row else None,
                "url_at": url_at(row.media.source.url, m.unit.start_ms) if row else None,
            }
        )
    p = tp.parts
    return {
        "id": tp.id,
        "rank": rank,
        "score": tp.score,
        "score_parts": {
            "breadth": p.breadth,
            "tightness": p.tightness,
            "specificity": p.specificity,
            "timing": p.timing,
            "accounts": p.accounts,
            "subtitles": p.subtitles,
        },
        "label": tp.label,
        "languages": list(tp.languages),
        "n_media": tp.n_media,
        "n_channels": tp.n_channels,
        "first_published": tp.first_published,
        "members": members,
    }


def build_findings(
    rows: Sequence[MediaRow],
    points: Sequence[TalkingPoint],
    settings: Mapping[str, Any],
    scripts: Sequence[Script] = (),
    subtitles: SubtitleFindings | None = None,
    asr: AsrFindings | None = None,
    reuploads: Mapping[str, Reupload] | None = None,
) -> dict[str, Any]:
    by_id = {r.media.id: r for r in rows}
    data = {
        "schema": SCHEMA,
        "generated_at": now(),
        "settings": dict(settings),
        "media": [media_entry(r) for r in rows],
        "talking_points": [talking_point_entry(i, tp, by_id) for i, tp in enumerate(points, 1)],
        "scripts": [
            {"id": s.id, "talking_points": list(s.talking_points), "media": list(s.media)} for s in scripts
        ],
    }
    add_subtitle_fields(data, subtitles or SubtitleFindings())
    add_asr_fields(data, asr or AsrFindings())
    add_reupload_fields(data, reuploads or {})
    return data


def add_reupload_fields(data: dict[str, Any], reuploads: Mapping[str, Reupload]) -> None:
    """Each re-upload says what showed it: ``duplicate_evidence`` (null for the others).

    ``by``: "audio fingerprint" (its Chromaprint fingerprint matches the original's at
    ``bit_error_rate``, starting ``offset_s`` into it, over ``overlap_s``), "transcript"
    (``transcript_share`` of its sentences said verbatim at the same offsets) or
    "identical file".
    """
    for entry in data["media"]:
        found = reuploads.get(entry["id"]) if entry.get("duplicate_of") else None
        entry["duplicate_evidence"] = (
            {
                "by": list(found.evidence),
                "bit_error_rate": found.bit_error_rate,
                "offset_s": seconds(found.offset_ms),
                "overlap_s": seconds(found.overlap_ms),
                "transcript_share": found.similarity,
            }
            if found is not None
            else None
        )


def write_json(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write atomically: readers never see a half-written findings file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".findings-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    os.replace(tmp, target)


def read_findings(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a {SCHEMA} file")
    return data
