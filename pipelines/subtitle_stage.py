"""Corpus-stage subtitle checks: does each cue say what is said, and which tracks are copies.

Run once per scan over the store, after the units are embedded: the embedder is already
loaded here and its vectors are cached in the store, so checking agreement costs no
second model in every worker and a re-scan embeds nothing it has seen.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzer import models
from analyzer.embed import Embedder
from analyzer.errors import ChorusError
from analyzer.records import SubtitleCopy, SubtitleMismatch
from analyzer.report.subtitles import SubtitleFindings
from analyzer.store import MediaRow, Store
from analyzer.subtitles.agreement import AgreementOptions, subtitle_agreement
from analyzer.subtitles.copies import CopyOptions, TrackText, find_subtitle_copies


def mismatch_threshold(embed_model: str) -> float:
    """The cosine below which cue and speech say different things (measured; models.toml)."""
    spec = models.get_spec("embed", embed_model)
    if "mismatch_threshold" not in spec.raw:
        raise ChorusError(
            f"models.toml: embed model {embed_model!r} has no mismatch_threshold; measure one with "
            "benchmarks/embeddings.py (the 1st percentile of translation-pair cosines)"
        )
    return float(spec.raw["mismatch_threshold"])


def check_subtitles(store: Store, embedder: Embedder, rows: Sequence[MediaRow]) -> list[SubtitleMismatch]:
    """Compare every media item's cues with its transcript; store mismatches and agreement."""
    options = AgreementOptions(mismatch_threshold=mismatch_threshold(embedder.name))
    found: list[SubtitleMismatch] = []
    for row in rows:
        if row.status != "ok":
            continue
        media_id = row.media.id
        cues = store.cues(media_id)
        mismatches: list[SubtitleMismatch] = []
        if cues:
            mismatches, agreement = subtitle_agreement(
                cues, store.segments(media_id), lambda texts: embedder.encode_cached(texts, store), options
            )
            for track, value in agreement.items():
                store.set_agreement(media_id, track, value)
        store.save_mismatches(media_id, mismatches)
        found.extend(mismatches)
    return found


def subtitle_copies(
    store: Store, rows: Sequence[MediaRow], options: CopyOptions | None = None
) -> list[SubtitleCopy]:
    """Groups of (nearly) identical subtitle tracks over different speech, across the store."""
    tracks: list[TrackText] = []
    speech: dict[str, str] = {}
    duplicates: dict[str, str | None] = {}
    for row in rows:
        if row.status != "ok":
            continue
        media_id = row.media.id
        duplicates[media_id] = row.duplicate_of
        speech[media_id] = " ".join(s.text for s in store.segments(media_id))
        by_track: dict[str, list[str]] = {}
        for cue in store.cues(media_id):
            by_track.setdefault(cue.track, []).append(cue.text)
        tracks.extend(TrackText(media_id, track, tuple(texts)) for track, texts in by_track.items())
    return find_subtitle_copies(tracks, speech, duplicates, options)


def subtitle_findings(store: Store, rows: Sequence[MediaRow]) -> SubtitleFindings:
    """Alignments and mismatches as stored, and the copies found now, for findings.json."""
    return SubtitleFindings(store.alignments(), store.mismatches(), subtitle_copies(store, rows))
