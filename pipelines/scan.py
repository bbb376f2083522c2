"""Batch scan: per-media stages in workers, then corpus stages once over the store."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import models
from analyzer.cluster import (
    ClusterOptions,
    attach_alternatives,
    group_units,
    other_cuts,
    refine_groups,
)
from analyzer.coordination import (
    GENERIC_PHRASES,
    MediaInfo,
    ScoreOptions,
    build_talking_points,
    group_scripts,
    reupload_evidence,
    with_subtitle_copies,
)
from analyzer.embed import Embedder
from analyzer.errors import ChorusError, MediaError, ModelError
from analyzer.limits import LimitOptions
from analyzer.media import check_media_file, file_sha256, media_id_for
from analyzer.records import MediaInput, Reupload, TalkingPoint, Unit
from analyzer.report.asr import asr_findings
from analyzer.report.findings import build_findings, write_json
from analyzer.report.html import write_report
from analyzer.similarity import PairTable, candidate_pairs
from analyzer.store import MediaResult, MediaRow, Store
from analyzer.transcribe import TranscribeOptions
from analyzer.transcribe.base import cache_key, engine_for
from analyzer.units import stream_edges, unit_clock, unpunctuated, windows
from pipelines.asr_batches import run_jobs
from pipelines.executors import chosen_executor
from pipelines.fingerprint_stage import fingerprint_matches
from pipelines.lock import store_lock
from pipelines.media_stages import MediaJob
from pipelines.subtitle_stage import check_subtitles, mismatch_threshold, subtitle_copies, subtitle_findings

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScanOptions:
    """Everything a scan needs besides its inputs; defaults are the documented ones."""

    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    embed_model: str = "multilingual-e5-small"
    workers: int = 0  # 0: sized to the machine
    limits: LimitOptions = field(default_factory=LimitOptions)  # per-item limits and time-out
    lexical_threshold: float = 0.5  # character-shingle Jaccard for a lexical candidate
    neighbours: int = 20  # semantic candidates per unit
    executor: str = "local"  # "local" (a pool sized by workers) or "dask" (pipelines/executors.py)
    scheduler: str | None = None  # tcp://HOST:PORT of a running Dask scheduler to join
    ocr: str = "auto"  # read subtitles from the picture: auto, on, off (analyzer/subtitles/ocr.py)


@dataclass
class ScanSummary:
    """What a scan did, for the CLI's closing table and the issue notes."""

    n_media: int = 0
    n_failed: int = 0
    n_reused: int = 0
    n_processed: int = 0
    n_units: int = 0
    n_embedded: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    talking_points: list[TalkingPoint] = field(default_factory=list)
    findings_path: str = ""
    report_path: str = ""
    store_path: str = ""
    warnings: list[str] = field(default_factory=list)  # what this scan could not do, and how to fix it


def semantic_threshold(embed_model: str) -> float:
    """The cosine at which the model's vectors say the same thing (measured; models.toml)."""
    spec = models.get_spec("embed", embed_model)
    if "link_threshold" not in spec.raw:
        raise ChorusError(f"models.toml: embed model {embed_model!r} has no link_threshold")
    return float(spec.raw["link_threshold"])


def _path_hash(rel_path: str) -> str:
    return hashlib.sha256(rel_path.encode("utf-8", "surrogatepass")).hexdigest()


def _identify(item: MediaInput, max_file_bytes: int = 0) -> tuple[str, str | None, str | None]:
    """(media id, sha256, error): unusable files get a path-based id so they can be listed.

    Refused inputs, non-regular files (a named pipe would block the hash forever), empty
    files and files over the size limit fail here, before a byte is read.
    """
    fallback = "m-path-" + _path_hash(item.rel_path)[:8]
    if item.error:
        return fallback, None, item.error
    try:
        check_media_file(item.path, max_file_bytes)
        sha = file_sha256(item.path)
    except MediaError as exc:
        return fallback, None, f"{item.rel_path}: {exc.problem}"
    except OSError as exc:
        return fallback, None, f"{item.rel_path}: cannot read file ({exc.strerror or exc})"
    return media_id_for(sha), sha, None


_SIDECAR_HASH_MAX = 64 * 1024 * 1024


def sidecar_signature(item: MediaInput) -> str:
    """What a media item's sidecar subtitles are: each file's name after the media's stem
    (``.en.srt``) and a hash of its bytes; "" without sidecars."""
    stem = Path(item.path).stem
    parts: list[str] = []
    for path in sorted(item.subtitle_paths):
        name = Path(path).name
        suffix = name[len(stem) :] if name.startswith(stem) else name
        try:
            info = os.stat(path)
            # never open a FIFO or device (it would block); the subtitle reader reports it
            if not stat.S_ISREG(info.st_mode):
                digest = f"not a regular file ({info.st_mode:o})"
            elif info.st_size > _SIDECAR_HASH_MAX:  # no subtitle is this big: the reader refuses it
                digest = f"{info.st_size} bytes, modified {info.st_mtime_ns}"
            else:
                digest = file_sha256(path)[:16]
        except OSError as exc:
            digest = f"unreadable ({exc.strerror or exc})"
        parts.append(f"{suffix}={digest}")
    return "\n".join(parts)


def run_media_stages(
    inputs: Sequence[MediaInput], store: Store, options: ScanOptions, progress: Progress | None
) -> ScanSummary:
    """Process new media in workers; reuse what the store already has for unchanged content.

    Content is what the video's bytes and its sidecar subtitles are: an unchanged video
    whose subtitle file was edited or added is processed again, and a byte-identical copy
    with other subtitles than the original's is processed as its own item (under its copy
    id) instead of borrowing the original's tracks.
    """
    summary = ScanSummary(n_media=len(inputs))
    asr_key = cache_key(options.transcribe)
    jobs: list[MediaJob] = []
    seen: dict[str, str] = {}  # media id -> sidecar signature of the first file with it
    keep: set[str] = set()
    copies: list[tuple[MediaInput, str]] = []
    signatures: dict[str, str] = {}  # job media id -> sidecar signature, stored once done
    for item in inputs:
        media_id, sha, error = _identify(item, options.limits.max_file_bytes)
        if error is not None or sha is None:
            store.save_failure(media_id, item.path, item.rel_path, item.source, error or "unreadable")
            keep.add(media_id)
            continue
        signature = sidecar_signature(item)
        if media_id in seen:  # byte-identical copy under another name: a re-upload
            if seen[media_id] == signature:
                copies.append((item, media_id))
                continue
            media_id = f"{media_id}-{_path_hash(item.rel_path)[:4]}"  # its own subtitles: its own item
        seen.setdefault(media_id, signature)
        keep.add(media_id)
        recorded = store.sidecars(media_id)
        if store.done(media_id, asr_key) and recorded in (None, signature):  # None: a store from before
            if recorded is None:
                store.set_sidecars(media_id, signature)
            store.update_source(media_id, item.rel_path, item.source)
            summary.n_reused += 1
            continue
        signatures[media_id] = signature
        limits = options.limits
        jobs.append(
            MediaJob(
                item,
                media_id,
                sha,
                options.transcribe,
                limits.max_duration_s,
                limits.max_cues_per_track,
                limits.max_file_bytes,
                options.ocr,
            )
        )
    copy_ids = [(item, media_id, f"{media_id}-{_path_hash(item.rel_path)[:4]}") for item, media_id in copies]
    keep.update(copy_id for _, _, copy_id in copy_ids)
    store.forget_missing(keep)

    if progress:
        progress("transcribe", 0, len(jobs))
    results = run_jobs(jobs, options.workers, options.limits.item_timeout_s)
    for done, (job, result) in enumerate(results, 1):
        if isinstance(result, ModelError):
            raise result  # not this item's fault: every item would fail the same way
        if isinstance(result, BaseException):
            reason = str(result) if isinstance(result, ChorusError) else f"{type(result).__name__}: {result}"
            if not isinstance(result, MediaError):
                reason = f"{job.item.rel_path}: {reason}"
            store.save_failure(job.media_id, job.item.path, job.item.rel_path, job.item.source, reason)
        else:
            store.save_result(result)
            store.set_sidecars(job.media_id, signatures.get(job.media_id, ""))
            summary.n_processed += 1
        if progress:
            progress("transcribe", done, len(jobs))
    for item, media_id, copy_id in copy_ids:  # after the originals are in the store
        _copy_media(store, media_id, copy_id, item)
    return summary


def _copy_media(store: Store, original_id: str, copy_id: str, item: MediaInput) -> None:
    """A byte-identical file: reuse the original's results under its own id and source."""
    row = store.media_row(original_id)
    if row is None:
        return
    if row.status != "ok":  # listed with its original's reason, never silently left out
        reason = f"{item.rel_path}: byte-identical copy of {row.rel_path}, which failed: {row.error}"
        store.save_failure(copy_id, item.path, item.rel_path, item.source, reason)
        return
    units = tuple(
        replace(u, id=u.id + "-" + copy_id[-4:], media_id=copy_id) for u in store.units([original_id])
    )
    result = MediaResult(
        media=replace(row.media, id=copy_id, path=item.path, source=item.source),
        rel_path=item.rel_path,
        asr_model=row.asr_model or "",
        segments=tuple(replace(s, media_id=copy_id) for s in store.segments(original_id)),
        tracks=tuple(replace(t, media_id=copy_id) for t, _ in store.tracks(original_id)),
        cues=tuple(replace(c, media_id=copy_id) for c in store.cues(original_id)),
        units=units,
        notes=("byte-identical copy of " + row.rel_path,),
        alignments=tuple(replace(a, media_id=copy_id) for a in store.alignments(original_id)),
        asr_segments=tuple(
            replace(d, segment=replace(d.segment, media_id=copy_id)) for d in store.asr_segments(original_id)
        ),
    )
    store.save_result(result)


def media_infos(rows: Sequence[MediaRow]) -> dict[str, MediaInfo]:
    return {
        r.media.id: MediaInfo(r.media.id, r.media.source, r.media.duration_ms, r.duplicate_of)
        for r in rows
        if r.status == "ok"
    }


# Whisper at less than even odds on its own words (confidence, the geometric mean of its
# word probabilities, < 0.5) is guessing: the meaning of such a transcript is no evidence
# of a shared line, though its exact wording still is. Two garbled transcripts otherwise
# "agree" in embedding space.
MIN_ASR_CONFIDENCE = 0.5


def guessed_asr_units(store: Store, units: Sequence[Unit]) -> np.ndarray:
    """Per unit: True for ASR units whose segments' confidence is below MIN_ASR_CONFIDENCE."""
    weak = np.zeros(len(units), dtype=bool)
    segments: dict[str, list[tuple[int, int, float]]] = {}
    for i, unit in enumerate(units):
        if unit.source != "asr" or unit.track != "asr":
            continue
        if unit.media_id not in segments:
            segments[unit.media_id] = [
                (s.start_ms, s.end_ms, s.confidence) for s in store.segments(unit.media_id)
            ]
        spans = [
            (min(end, unit.end_ms) - max(start, unit.start_ms), confidence)
            for start, end, confidence in segments[unit.media_id]
            if min(end, unit.end_ms) > max(start, unit.start_ms)
        ]
        total = sum(overlap for overlap, _ in spans)
        if total > 0:
            weak[i] = sum(overlap * c for overlap, c in spans) / total < MIN_ASR_CONFIDENCE
    return weak


def drop_guessed_meaning(pairs: PairTable, weak: np.ndarray) -> PairTable:
    """Keep lexical links; keep semantic-only links only between units heard with confidence."""
    if len(pairs) == 0 or not weak.any():
        return pairs
    keep = (pairs.jaccard > 0) | ~(weak[pairs.a] | weak[pairs.b])
    return PairTable(pairs.a[keep], pairs.b[keep], pairs.cosine[keep], pairs.jaccard[keep])


def corpus_stages(
    store: Store, options: ScanOptions, progress: Progress | None, summary: ScanSummary
) -> list[TalkingPoint]:
    """Embed all units (cached), find re-uploads, link, cluster and rank talking points."""
    timings = summary.timings
    units: list[Unit] = store.units()
    summary.n_units = len(units)
    started = time.perf_counter()
    if progress:
        progress("embed", 0, len(units))
    embedder = Embedder(options.embed_model)
    vectors = _embed(embedder, [u.text for u in units], store, progress) if units else np.zeros((0, 1))
    spans = windows(units)  # a line cut in two, read whole (attach_alternatives decides)
    span_vectors = embedder.encode_cached([u.text for u in spans], store) if spans else vectors[:0]
    generic = embedder.encode_cached(list(GENERIC_PHRASES), store) if units else np.zeros((0, 1))
    if progress:
        progress("embed", len(units), len(units))
    timings["embed"] = time.perf_counter() - started
    started = time.perf_counter()
    check_subtitles(store, embedder, store.media_rows())  # uses the loaded model and its cache
    timings["subtitle agreement"] = time.perf_counter() - started

    started = time.perf_counter()
    rows = store.media_rows()
    infos = media_infos(rows)
    threshold = semantic_threshold(options.embed_model)
    cluster_options = ClusterOptions(link_threshold=threshold)
    if progress:
        progress("re-uploads", 0, 1)
    audio, warnings = fingerprint_matches(store, rows, options.limits.max_duration_s)
    summary.warnings.extend(warnings)
    evidence = reupload_evidence(units, infos, cluster_options.verbatim_jaccard, audio)
    if progress:
        progress("re-uploads", 1, 1)
    for row in rows:
        marked = evidence[row.media.id].duplicate_of if row.media.id in evidence else None
        if not marked and row.notes and row.notes[0].startswith("byte-identical copy"):
            marked = row.media.id.rsplit("-", 1)[0]
            evidence[row.media.id] = Reupload(row.media.id, marked, ("identical file",))
        if marked != row.duplicate_of:
            store.set_duplicate(row.media.id, marked)
    store.save_reuploads(list(evidence.values()))
    rows = store.media_rows()
    infos = with_subtitle_copies(media_infos(rows), subtitle_copies(store, rows))
    pairs = candidate_pairs(
        [u.text for u in units],
        vectors,
        [u.media_id for u in units],
        threshold,
        options.lexical_threshold,
        options.neighbours,
        progress=progress,
    )
    pairs = drop_guessed_meaning(pairs, guessed_asr_units(store, units))
    timings["similarity"] = time.perf_counter() - started

    started = time.perf_counter()
    groups = group_units(vectors, pairs, cluster_options, progress) if units else []
    # units no group holds closely (two lines in one unpunctuated segment): cut evenly, and
    # searched for the stretches that copy a line other media say well
    # a re-upload carries its original's recording: one voice, not another medium
    voices = {m: r.duplicate_of for m, r in evidence.items()}
    # where Whisper left speech unpunctuated, a stretch found inside a unit is timed by its
    # words, read again from the stored segments (a unit keeps only its start and end)
    clock: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
    for media_id in sorted({u.media_id for u in units if u.source == "asr" and unpunctuated(u.text)}):
        clock.update(unit_clock(store.segments(media_id)))
    cut, found = other_cuts(groups, units, vectors, pairs, threshold, voices, clock)
    free = np.zeros(len(spans) + len(cut) + len(found), dtype=bool)
    free[len(spans) + len(cut) :] = True  # aligned stretches may enter a group alone
    if cut or found:
        texts = [u.text for u in [*cut, *found]]
        spans = [*spans, *cut, *found]
        span_vectors = np.concatenate([span_vectors, embedder.encode_cached(texts, store)])
    summary.n_embedded = embedder.computed
    heard = ~guessed_asr_units(store, spans)  # a guessed transcript's meaning is no evidence
    spans = [u for u, keep in zip(spans, heard, strict=True) if keep]
    span_vectors = span_vectors[heard]
    alone = free[heard]
    groups = attach_alternatives(groups, units, vectors, spans, span_vectors, threshold, alone, voices)
    every = [*units, *spans]
    every_vector = np.concatenate([vectors, span_vectors]) if spans else vectors
    edges = stream_edges(every)  # where each stream opens and closes (greetings frame it)
    # glued lines and two campaigns' lines split, cuts placed again, parallel groups merged,
    # asides and coincidences out (analyzer.cluster.refine_groups)
    mismatch = mismatch_threshold(options.embed_model)
    groups = refine_groups(groups, every, every_vector, len(units), alone, threshold, mismatch, voices, edges)
    if progress:
        progress("score", 0, len(groups))
    points = build_talking_points(
        groups, every, every_vector, infos, generic, ScoreOptions(semantic_threshold=threshold), edges
    )
    if progress:
        progress("score", len(groups), len(groups))
    own = {u.id for u in units}
    store.save_window_units([m.unit for tp in points for m in tp.members if m.unit.id not in own])
    store.save_talking_points(points)
    timings["cluster+score"] = time.perf_counter() - started
    return points


def _embed(embedder: Embedder, texts: list[str], store: Store, progress: Progress | None) -> np.ndarray:
    """Embed through the store's cache in chunks, so a long embedding shows its progress."""
    chunk = 4096
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(embedder.encode_cached(texts[start : start + chunk], store))
        if progress:
            progress("embed", min(len(texts), start + chunk), len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def settings_of(options: ScanOptions) -> dict[str, Any]:
    return {
        "asr_model": options.transcribe.model,
        "asr_engine": engine_for(options.transcribe),
        "translate": options.transcribe.translate,
        "compute_type": options.transcribe.compute_type,
        "vad": options.transcribe.vad,
        "embed_model": options.embed_model,
        "semantic_threshold": semantic_threshold(options.embed_model),
        "lexical_threshold": options.lexical_threshold,
        "ocr": options.ocr,
        "cluster": asdict(ClusterOptions(link_threshold=semantic_threshold(options.embed_model))),
    }


def scan(
    inputs: Sequence[MediaInput],
    out_dir: str | Path,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
    scan_root: str | None = None,
) -> ScanSummary:
    """Scan media into ``out_dir``: chorus.db, findings.json and report.html."""
    options = options or ScanOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_of(options)
    with store_lock(out / "chorus.db"), Store(out / "chorus.db") as store:
        run_id = store.start_run(settings)
        started = time.perf_counter()
        with chosen_executor(options.executor, options.scheduler):
            summary = run_media_stages(inputs, store, options, progress)
        summary.timings["per-media (decode, ASR, subtitles, units)"] = time.perf_counter() - started
        points = corpus_stages(store, options, progress, summary)
        started = time.perf_counter()
        rows = store.media_rows()
        scripts = group_scripts(points, media_infos(rows))
        asr = asr_findings(store.asr_segments(flagged_only=False))
        subtitles = subtitle_findings(store, rows)
        findings = build_findings(rows, points, settings, scripts, subtitles, asr, store.reuploads())
        findings["warnings"] = list(summary.warnings)  # e.g. no fpcalc: re-uploads by transcript only
        write_json(out / "findings.json", findings)
        write_report(out / "report.html", findings, scan_root)
        summary.timings["report"] = time.perf_counter() - started
        store.finish_run(run_id)
    summary.n_failed = sum(1 for r in rows if r.status == "failed")
    summary.talking_points = points
    summary.findings_path = str(out / "findings.json")
    summary.report_path = str(out / "report.html")
    summary.store_path = str(out / "chorus.db")
    return summary
