"""The subtitle fields of findings.json: alignments and mismatches per media, copies overall.

Kept apart from findings.py so the contract's subtitle part reads in one place. Every
field is always present (empty when there is nothing), so readers need no key checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analyzer.records import Alignment, SubtitleCopy, SubtitleMismatch


@dataclass(frozen=True)
class SubtitleFindings:
    """What the subtitle checks found over a whole scan."""

    alignments: Sequence[Alignment] = ()
    mismatches: Sequence[SubtitleMismatch] = ()
    copies: Sequence[SubtitleCopy] = ()


def _seconds(ms: int) -> float:
    return round(ms / 1000, 2)


def alignment_entry(a: Alignment) -> dict[str, Any]:
    return {
        "track": a.track,
        "offset_s": round(a.offset_ms / 1000, 3),
        "drift": a.drift,
        "confidence": a.confidence,
        "pairs": a.pairs,
        "agreement": a.agreement,
        "method": a.method,
        "applied": a.applied,
    }


def mismatch_entry(m: SubtitleMismatch) -> dict[str, Any]:
    return {
        "track": m.track,
        "start_s": _seconds(m.start_ms),
        "end_s": _seconds(m.end_ms),
        "subtitle_text": m.subtitle_text,
        "speech_text": m.speech_text,
        "similarity": m.similarity,
    }


def copy_entry(c: SubtitleCopy) -> dict[str, Any]:
    return {
        "members": [{"media_id": media_id, "track": track} for media_id, track in c.tracks],
        "n_media": len({media_id for media_id, _ in c.tracks}),
        "similarity": c.similarity,
        "speech_similarity": c.speech_similarity,
        "n_cues": c.n_cues,
        "sample_text": c.sample,
    }


def add_subtitle_fields(data: dict[str, Any], found: SubtitleFindings) -> None:
    """Add ``subtitle_alignments`` and ``subtitle_mismatches`` to each media entry and a
    top-level ``subtitle_copies`` list, in place."""
    alignments: dict[str, list[dict[str, Any]]] = {}
    for a in found.alignments:
        alignments.setdefault(a.media_id, []).append(alignment_entry(a))
    mismatches: dict[str, list[dict[str, Any]]] = {}
    for m in sorted(found.mismatches, key=lambda m: (m.media_id, m.track, m.start_ms)):
        mismatches.setdefault(m.media_id, []).append(mismatch_entry(m))
    for entry in data.get("media", []):
        entry["subtitle_alignments"] = alignments.get(entry["id"], [])
        entry["subtitle_mismatches"] = mismatches.get(entry["id"], [])
    data["subtitle_copies"] = [copy_entry(c) for c in found.copies]
