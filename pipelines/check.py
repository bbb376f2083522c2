"""Per-video check: which known talking points one new video repeats, and who else says it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.embed import Embedder
from analyzer.errors import ChorusError
from analyzer.media import file_sha256, media_id_for
from analyzer.records import MediaInput, Source, TalkingPoint, Unit
from analyzer.report.findings import seconds, url_at
from analyzer.similarity import jaccard, shingles
from analyzer.store import Store
from analyzer.subtitles.read import sidecar_subtitles
from analyzer.transcribe import TranscribeOptions
from analyzer.units import aligned, parts, windows
from pipelines.media_stages import MediaJob, process_media
from pipelines.scan import semantic_threshold


@dataclass(frozen=True)
class CheckOptions:
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    max_duration_s: int = 4 * 3600
    verbatim_jaccard: float = 0.8


@dataclass(frozen=True)
class Match:
    """One sentence of the checked video that repeats a known talking point."""

    unit: Unit
    talking_point: TalkingPoint
    rank: int
    similarity: float
    relation: str
    closest: Unit  # the known member it is closest to


@lru_cache(maxsize=4)
def embedder_for(name: str) -> Embedder:
    """One loaded embedder per model and process: `chorus serve` checks many videos in a row."""
    return Embedder(name)


def job_like_the_scan(
    item: MediaInput, media_id: str, sha: str, settings: dict[str, Any], options: CheckOptions
) -> MediaJob:
    """The per-media job the store's own scan would have run: its ASR model, its English
    translation track when it made one, its OCR mode (so a line known only from a
    translation or from burned-in text can be matched)."""
    transcribe = replace(
        options.transcribe,
        model=str(settings.get("asr_model", options.transcribe.model)),
        translate=options.transcribe.translate or bool(settings.get("translate", False)),
    )
    ocr = str(settings.get("ocr", "off"))  # stores from before OCR: as they were scanned
    return MediaJob(item, media_id, sha, transcribe, options.max_duration_s, ocr=ocr)


def check(path: str, store_path: str, options: CheckOptions | None = None) -> dict[str, Any]:
    """Check one media file against a scanned store; returns a JSON-ready dict."""
    options = options or CheckOptions()
    media_path = Path(path)
    if not media_path.is_file():
        raise ChorusError(f"{path}: no such file")
    with Store(store_path, create=False) as store:
        settings = store.last_settings()
        embed_model = str(settings.get("embed_model", "multilingual-e5-small"))
        sha = file_sha256(path)
        siblings = sorted(p.name for p in media_path.parent.iterdir())
        item = MediaInput(
            path=str(media_path),
            rel_path=media_path.name,
            source=Source(),
            subtitle_paths=tuple(sidecar_subtitles(str(media_path), siblings)),
        )
        result = process_media(job_like_the_scan(item, media_id_for(sha), sha, settings, options))
        points = store.talking_points()
        rows = {r.media.id: r for r in store.media_rows()}
        embedder = embedder_for(embed_model)
        known = [m.unit for tp in points for m in tp.members]
        known_vectors = embedder.encode_cached([u.text for u in known], store)
    units = list(result.units)
    spans = [*units, *windows(units), *parts(units)]  # other cuts of the speech, as in the scan
    # and the known lines found word for word in its unpunctuated runs
    keys = [k for k, tp in enumerate(points) for _ in tp.members]
    found = aligned([*units, *known], [True] * len(units) + [False] * len(known), known, keys)
    spans += [u for u in found if u.media_id == result.media.id]
    matches = match_units(
        spans,
        embedder.encode([u.text for u in spans]),
        points,
        known,
        known_vectors,
        semantic_threshold(embed_model),
        options.verbatim_jaccard,
    )
    matches = without_overlaps(matches)
    return {
        "media": {
            "id": result.media.id,
            "path": str(media_path),
            "duration_s": seconds(result.media.duration_ms),
            "languages": sorted({u.language for u in units}),
            "notes": list(result.notes),
        },
        "store": str(store_path),
        "n_units": len(units),
        "matches": [_match_entry(m, rows, result.media.id) for m in matches],
    }


def match_units(
    units: list[Unit],
    vectors: np.ndarray,
    points: list[TalkingPoint],
    known: list[Unit],
    known_vectors: np.ndarray,
    threshold: float,
    verbatim_jaccard: float,
) -> list[Match]:
    """For each new unit, the talking point of its closest known member, if close enough."""
    if not units or not known:
        return []
    owner: list[tuple[int, TalkingPoint]] = [
        (rank, tp) for rank, tp in enumerate(points, 1) for _ in tp.members
    ]
    sims = vectors @ known_vectors.T  # brute force: 100,000 members x 50 sentences take ms
    matches: list[Match] = []
    for i, unit in enumerate(units):
        j = int(np.argmax(sims[i]))
        lexical = jaccard(shingles(unit.text), shingles(known[j].text))  # only the closest one's
        cosine = float(sims[i, j])
        if cosine < threshold and lexical < verbatim_jaccard:
            continue
        rank, tp = owner[j]
        if lexical >= verbatim_jaccard:
            relation, similarity = "verbatim", lexical
        elif unit.language != known[j].language:
            relation, similarity = "translation", cosine
        else:
            relation, similarity = "paraphrase", cosine
        matches.append(Match(unit, tp, rank, round(similarity, 4), relation, known[j]))
    matches.sort(key=lambda m: (m.rank, m.unit.start_ms))
    return matches


def without_overlaps(matches: list[Match]) -> list[Match]:
    """The best match for each stretch of speech: a match gives way to a closer one it overlaps.

    A sentence and the window holding it may both match; the one more alike its talking
    point stands for that stretch (the sentence on a tie), so nothing is reported twice.
    """
    kept: list[Match] = []
    for match in sorted(matches, key=lambda m: (-m.similarity, m.unit.end_ms - m.unit.start_ms)):
        u = match.unit
        if not any(
            k.unit.media_id == u.media_id
            and (k.unit.source, k.unit.track) == (u.source, u.track)
            and min(k.unit.end_ms, u.end_ms) > max(k.unit.start_ms, u.start_ms)
            for k in kept
        ):
            kept.append(match)
    kept.sort(key=lambda m: (m.rank, m.unit.start_ms))
    return kept


def _match_entry(match: Match, rows: dict[str, Any], own_id: str) -> dict[str, Any]:
    others = []
    for member in match.talking_point.members:
        if member.unit.media_id == own_id:
            continue
        row = rows.get(member.unit.media_id)
        source = row.media.source if row else Source()
        others.append(
            {
                "media_id": member.unit.media_id,
                "path": row.rel_path if row else None,
                "channel": source.channel,
                "published": source.published,
                "start_s": seconds(member.unit.start_ms),
                "end_s": seconds(member.unit.end_ms),
                "text": member.unit.text,
                "url_at": url_at(source.url, member.unit.start_ms),
            }
        )
    return {
        "talking_point": match.talking_point.id,
        "rank": match.rank,
        "label": match.talking_point.label,
        "similarity": match.similarity,
        "relation": match.relation,
        "start_s": seconds(match.unit.start_ms),
        "end_s": seconds(match.unit.end_ms),
        "text": match.unit.text,
        "language": match.unit.language,
        "source": match.unit.source,
        "also_said_by": others,
    }
