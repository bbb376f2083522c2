"""The ASR fields of findings.json: flagged segments and where each language is spoken.

A segment the hallucination guards flagged is never a unit, so it can never be a
talking-point member; it is listed here, per media item, so a reader sees what Chorus
heard and chose not to trust. Every field is always present (empty when there is nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.transcribe.base import AsrSegment
from analyzer.transcribe.evidence import language_spans


@dataclass(frozen=True)
class AsrFindings:
    """Decoded ASR segments with their evidence, per media id."""

    segments: Mapping[str, Sequence[AsrSegment]] = field(default_factory=dict)


def _seconds(ms: int) -> float:
    return round(ms / 1000, 2)


def flagged_entry(d: AsrSegment) -> dict[str, Any]:
    s = d.segment
    return {
        "start_s": _seconds(s.start_ms),
        "end_s": _seconds(s.end_ms),
        "text": s.text,
        "track": d.track,
        "language": s.language,
        "flags": list(d.flags),
        "avg_logprob": d.avg_logprob,
        "no_speech_prob": s.no_speech_prob,
        "compression_ratio": d.compression_ratio,
    }


def add_asr_fields(data: dict[str, Any], asr: AsrFindings) -> None:
    """Add ``asr_flagged`` and ``language_spans`` to every media entry, and a scan-wide count."""
    total = 0
    for entry in data.get("media", []):
        details = asr.segments.get(entry["id"], ())
        flagged = [flagged_entry(d) for d in details if d.flags]
        total += len(flagged)
        entry["asr_flagged"] = flagged
        entry["language_spans"] = [
            {
                "language": span.language,
                "start_s": _seconds(span.start_ms),
                "end_s": _seconds(span.end_ms),
                "probability": span.probability,
            }
            for span in language_spans(details)
        ]
    data["asr"] = {"flagged_segments": total}


def asr_findings(segments: Sequence[AsrSegment]) -> AsrFindings:
    """Group stored segments (``Store.asr_segments()``) by media id."""
    by_media: dict[str, list[AsrSegment]] = {}
    for d in segments:
        by_media.setdefault(d.segment.media_id, []).append(d)
    return AsrFindings(by_media)
