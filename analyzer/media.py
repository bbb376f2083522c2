"""Find inputs, read their metadata sidecars, hash them, and decode audio with PyAV."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import ChorusError, MediaError
from analyzer.records import MediaInput, Source
from analyzer.subtitles.read import sidecar_subtitles

MEDIA_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".mkv",
        ".webm",
        ".mov",
        ".m4v",
        ".avi",
        ".flv",
        ".ts",
        ".3gp",
        ".m4a",
        ".mp3",
        ".wav",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".aac",
        ".wma",
    }
)
SAMPLE_RATE = 16_000


def media_id_for(sha256: str) -> str:
    """Stable id from the content hash: the same bytes get the same id on every machine."""
    return f"m-{sha256[:12]}"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _date(value: Any) -> str | None:
    """yt-dlp's YYYYMMDD (or an ISO date/time) as YYYY-MM-DD; None if unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        return text[:10]
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def read_info_json(path: str) -> Source:
    """The publisher fields of a yt-dlp ``.info.json``; wrong types are ignored, not trusted."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(path, f"metadata sidecar is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MediaError(path, "metadata sidecar is JSON but not an object")
    handle_value = _text(data.get("uploader_id")) or _text(data.get("channel_id"))
    return Source(
        channel=_text(data.get("channel")) or _text(data.get("uploader")),
        uploader=_text(data.get("uploader")) or _text(data.get("channel")),
        handle=handle_value,
        url=_text(data.get("webpage_url")) or _text(data.get("original_url")),
        published=_date(data.get("upload_date")) or _date(data.get("release_date")),
        title=_text(data.get("title")),
    )


def _info_json_for(media_path: Path, siblings: set[str]) -> str | None:
    stem = media_path.name[: -len(media_path.suffix)] if media_path.suffix else media_path.name
    name = f"{stem}.info.json"
    return str(media_path.with_name(name)) if name in siblings else None


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """Directories under root with their file names, sorted, following no symlink loops."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            stat = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        yield Path(dirpath), sorted(filenames)


def discover(root: str) -> list[MediaInput]:
    """Every media file under root (recursively) with its yt-dlp sidecars."""
    base = Path(root)
    if not base.is_dir():
        raise ChorusError(f"{root}: not a folder; pass a folder of media or use --manifest")
    found: list[MediaInput] = []
    for folder, names in _walk(base):
        siblings = set(names)
        for name in names:
            path = folder / name
            if path.suffix.lower() not in MEDIA_EXTENSIONS or name.startswith("."):
                continue
            source, error = Source(), None
            info = _info_json_for(path, siblings)
            if info:
                try:
                    source = read_info_json(info)
                except MediaError as exc:
                    error = str(exc)
            found.append(
                MediaInput(
                    path=str(path),
                    rel_path=str(path.relative_to(base)),
                    source=source,
                    subtitle_paths=tuple(sidecar_subtitles(str(path), names)),
                    metadata_error=error,
                )
            )
    return found


_MANIFEST_FIELDS = ("channel", "uploader", "handle", "url", "published", "title")


def read_manifest(path: str) -> list[MediaInput]:
    """A CSV or JSONL manifest: a ``path`` column plus optional publisher columns.

    Relative paths are taken relative to the manifest's folder. Sidecars beside each
    file are still read; manifest columns win over .info.json fields.
    """
    manifest = Path(path)
    rows: list[dict[str, Any]] = []
    try:
        if manifest.suffix.lower() in (".jsonl", ".ndjson"):
            for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ChorusError(f"{path}: line {number} is not a JSON object")
                    rows.append(row)
        else:
            with manifest.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ChorusError(f"{path}: manifest is not readable ({exc})") from exc
    inputs: list[MediaInput] = []
    for number, row in enumerate(rows, 1):
        raw_path = row.get("path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            raise ChorusError(f"{path}: row {number} has no 'path'")
        media_path = (manifest.parent / raw_path.strip()).resolve()
        siblings = os.listdir(media_path.parent) if media_path.parent.is_dir() else []
        source, error = Source(), None
        info = _info_json_for(media_path, set(siblings))
        if info:
            try:
                source = read_info_json(info)
            except MediaError as exc:
                error = str(exc)
        overrides = {k: _text(row.get(k)) for k in _MANIFEST_FIELDS if _text(row.get(k))}
        if "published" in overrides:
            overrides["published"] = _date(overrides["published"])
        inputs.append(
            MediaInput(
                path=str(media_path),
                rel_path=raw_path.strip(),
                source=replace(source, **overrides),
                subtitle_paths=tuple(sidecar_subtitles(str(media_path), sorted(siblings))),
                metadata_error=error,
            )
        )
    return inputs


def decode_audio(path: str, max_duration_ms: int | None = None) -> np.ndarray:
    """Decode the first audio stream to 16 kHz mono float32 with PyAV (no ffmpeg binary).

    Raises:
        MediaError: the file cannot be opened, has no audio stream, or decodes to nothing.
    """
    import av

    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
        raise MediaError(path, f"cannot open as media ({_reason(exc)})") from exc
    chunks: list[np.ndarray] = []
    total = 0
    limit = None if max_duration_ms is None else max_duration_ms * SAMPLE_RATE // 1000
    try:
        if not container.streams.audio:
            raise MediaError(path, "no audio stream (video only); nothing to transcribe")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if limit is not None and total > limit:
                    raise MediaError(path, f"audio longer than the limit of {limit // SAMPLE_RATE} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            if not chunks:
                raise MediaError(path, f"audio stream cannot be decoded ({_reason(exc)})") from exc
            # A truncated tail: keep what decoded, which is what a player would play.
    finally:
        container.close()
    if not chunks:
        raise MediaError(path, "audio stream decodes to no samples (empty or truncated file)")
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _reason(exc: BaseException) -> str:
    """FFmpeg's words for what went wrong, without the errno and the path it repeats."""
    text = str(exc)
    text = text.split(": '", 1)[0] if ": '" in text else text  # the caller names the file
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)
