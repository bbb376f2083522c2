"""Find inputs, read their metadata sidecars, hash them, and decode audio with PyAV."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import ChorusError, MediaError
from analyzer.limits import FLAGS, LimitExceeded, format_bytes, format_duration
from analyzer.records import MediaInput, Source
from analyzer.safe_text import clean_text
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


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_media_file(path: str, max_bytes: int = 0) -> int:
    """The size of a file that is worth opening; MediaError for one that is not.

    Checked before anything reads it: opening a named pipe blocks forever and hashing a
    huge file reads for minutes, so both are refused from ``stat`` alone.

    Raises:
        MediaError: missing, not a regular file, empty, or larger than ``max_bytes``.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise MediaError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "not a regular file")
        raise MediaError(path, f"not a regular file but {kind}; nothing to read")
    if info.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if max_bytes and info.st_size > max_bytes:
        size, limit = format_bytes(info.st_size), format_bytes(max_bytes)
        raise LimitExceeded(path, f"file is {size}", limit, FLAGS["max_file_bytes"])
    return info.st_size


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
    return clean_text(value.strip()) or None if isinstance(value, str) else None


# .info.json fields read, and the JSON types yt-dlp writes for them.
_INFO_TYPES: dict[str, tuple[type, ...]] = {
    "channel": (str,),
    "uploader": (str,),
    "uploader_id": (str,),
    "channel_id": (str,),
    "webpage_url": (str,),
    "original_url": (str,),
    "title": (str,),
    "upload_date": (str, int),
    "release_date": (str, int),
}


def _info_problems(data: dict[str, Any]) -> list[str]:
    """The fields read from an .info.json that had to be ignored, and why."""
    problems = []
    for key, types in _INFO_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, types) or isinstance(value, bool):
            problems.append(f"{key} ({type(value).__name__})")
        elif key.endswith("_date") and _date(value) is None:
            problems.append(f"{key} ({clean_text(str(value))[:40]!r} is not a date)")
    return problems


def read_info_json(path: str) -> Source:
    """The publisher fields of a yt-dlp ``.info.json``; wrong types are ignored, not trusted."""
    return _load_info_json(path)[0]


def _load_info_json(path: str) -> tuple[Source, str | None]:
    """Publisher fields, and a note naming the fields that had the wrong type (or None)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # opening a named pipe would block forever
            raise MediaError(path, "metadata sidecar is not a regular file (a folder, pipe or device)")
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise MediaError(path, f"metadata sidecar is not readable JSON ({reason})") from exc
    if not isinstance(data, dict):
        raise MediaError(path, "metadata sidecar is JSON but not an object")
    problems = _info_problems(data)
    name = os.path.basename(path)
    note = f"{name}: ignored metadata fields of the wrong type: {', '.join(problems)}" if problems else None
    handle_value = _text(data.get("uploader_id")) or _text(data.get("channel_id"))
    return Source(
        channel=_text(data.get("channel")) or _text(data.get("uploader")),
        uploader=_text(data.get("uploader")) or _text(data.get("channel")),
        handle=handle_value,
        url=_text(data.get("webpage_url")) or _text(data.get("original_url")),
        published=_date(data.get("upload_date")) or _date(data.get("release_date")),
        title=_text(data.get("title")),
    ), note


def _info_json_for(media_path: Path, siblings: set[str]) -> str | None:
    stem = media_path.name[: -len(media_path.suffix)] if media_path.suffix else media_path.name
    name = f"{stem}.info.json"
    return str(media_path.with_name(name)) if name in siblings else None


def _walk(root: Path, allowed: Path | None = None) -> Iterator[tuple[Path, list[str]]]:
    """Directories under root with their file names, sorted, following no symlink loops.

    With ``allowed``, symlinked folders that lead outside it are not entered.
    """
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
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and _inside(os.path.join(dirpath, d), allowed)
        )
        yield Path(dirpath), sorted(filenames)


def _inside(path: str | Path, root: Path | None) -> bool:
    """True when path, after following '..' and every symlink, lies in root (or no root)."""
    if root is None:
        return True
    return Path(os.path.realpath(path)).is_relative_to(root)


def _media_input(path: Path, rel_path: str, siblings: list[str], root: Path | None) -> MediaInput:
    """A media file with its sidecars; with ``root``, nothing outside it is read or opened.

    A sidecar may be a symlink to any file on the machine (a ``.srt`` pointing at a
    secret): with an allowed root such sidecars are left unread, with a note.
    """
    if not _inside(path, root):
        problem = "the path leads outside the folder this scan may read (after '..' and symlinks); refused"
        return MediaInput(path=str(path), rel_path=rel_path, error=f"{rel_path}: {problem}")
    notes: list[str] = []
    source = Source()
    info = _info_json_for(path, set(siblings))
    # Sidecars are named by file name: the item's own path already says where they are.
    if info and not _inside(info, root):
        notes.append(f"{Path(info).name}: metadata sidecar leads outside the allowed folder; not read")
        info = None
    if info:
        try:
            source, note = _load_info_json(info)
        except MediaError as exc:
            notes.append(f"{Path(info).name}: {exc.problem}")
        else:
            notes.extend([note] if note else [])
    subtitles = []
    for subtitle in sidecar_subtitles(str(path), siblings):
        if _inside(subtitle, root):
            subtitles.append(subtitle)
        else:
            notes.append(f"{Path(subtitle).name}: subtitle sidecar leads outside the allowed folder; skipped")
    return MediaInput(
        path=str(path),
        rel_path=rel_path,
        source=source,
        subtitle_paths=tuple(subtitles),
        metadata_error="; ".join(notes) or None,
    )


def _allowed(allowed_root: str | None) -> Path | None:
    return None if allowed_root is None else Path(os.path.realpath(allowed_root))


def discover(root: str, allowed_root: str | None = None) -> list[MediaInput]:
    """Every media file under root (recursively) with its yt-dlp sidecars.

    With ``allowed_root`` (the HTTP server passes the folder it serves), files and
    sidecars whose real path lies outside it are refused per item, and symlinked folders
    that lead outside it are not walked.
    """
    base = Path(root)
    if not base.is_dir():
        raise ChorusError(f"{root}: not a folder; pass a folder of media or use --manifest")
    allowed = _allowed(allowed_root)
    if not _inside(base, allowed):
        raise ChorusError(f"{root}: outside the folder this scan may read; refused")
    found: list[MediaInput] = []
    for folder, names in _walk(base, allowed):
        for name in names:
            path = folder / name
            if path.suffix.lower() not in MEDIA_EXTENSIONS or name.startswith("."):
                continue
            found.append(_media_input(path, str(path.relative_to(base)), names, allowed))
    return found


_MANIFEST_FIELDS = ("channel", "uploader", "handle", "url", "published", "title")


def _manifest_rows(manifest: Path) -> list[dict[str, Any] | str]:
    """The manifest's rows; a JSONL line that is not a JSON object becomes its problem."""
    rows: list[dict[str, Any] | str] = []
    try:
        if manifest.suffix.lower() in (".jsonl", ".ndjson"):
            for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    rows.append(f"line {number} is not JSON ({exc})")
                    continue
                rows.append(row if isinstance(row, dict) else f"line {number} is not a JSON object")
        else:
            with manifest.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ChorusError(f"{manifest}: manifest is not readable ({exc})") from exc
    return rows


def read_manifest(path: str, allowed_root: str | None = None) -> list[MediaInput]:
    """A CSV or JSONL manifest: a ``path`` column plus optional publisher columns.

    Relative paths are taken relative to the manifest's folder. Sidecars beside each
    file are still read; manifest columns win over .info.json fields. A row that cannot
    be used (no path, not JSON) becomes an item that fails with the reason. With
    ``allowed_root``, a path that leads outside that folder ('..', an absolute path, a
    symlink) is refused per item and nothing at it is opened or listed.
    """
    manifest = Path(path)
    allowed = _allowed(allowed_root)
    inputs: list[MediaInput] = []
    for number, row in enumerate(_manifest_rows(manifest), 1):
        label = f"{manifest.name} row {number}"
        raw_path = row.get("path") if isinstance(row, dict) else None
        if not isinstance(raw_path, str) or not raw_path.strip():
            problem = row if isinstance(row, str) else "has no 'path'"
            inputs.append(MediaInput(path="", rel_path=label, error=f"{label}: {problem}"))
            continue
        assert isinstance(row, dict)
        rel_path = clean_text(raw_path.strip())
        media_path = (manifest.parent / raw_path.strip()).resolve()
        siblings: list[str] = []
        if _inside(media_path, allowed):
            try:
                siblings = sorted(os.listdir(media_path.parent))
            except OSError:
                siblings = []  # the file itself is reported unreadable when it is opened
        else:
            media_path = manifest.parent / raw_path.strip()  # shown as written, never opened
        item = _media_input(media_path, rel_path, siblings, allowed)
        overrides = {k: _text(row.get(k)) for k in _MANIFEST_FIELDS if _text(row.get(k))}
        if "published" in overrides:
            overrides["published"] = _date(overrides["published"])
        inputs.append(replace(item, source=replace(item.source, **overrides)))
    return inputs


def decode_audio(path: str, max_duration_ms: int | None = None) -> np.ndarray:
    """Decode the first audio stream to 16 kHz mono float32 with PyAV (no ffmpeg binary).

    Raises:
        MediaError: the file cannot be opened, has no audio stream, or decodes to nothing.
    """
    import av

    container = _open(path)
    chunks: list[np.ndarray] = []
    total = 0
    limit = None if not max_duration_ms else max_duration_ms * SAMPLE_RATE // 1000
    try:
        if not container.streams.audio:
            raise MediaError(path, "no audio stream (video only); nothing to transcribe")
        declared = _declared_ms(container)
        if max_duration_ms and declared is not None and declared > max_duration_ms:
            _too_long(path, declared, max_duration_ms)  # refused before decoding a second
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if limit is not None and total > limit:  # the container understated its length
                    _too_long(path, None, max_duration_ms or 0)
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


def _open(path: str) -> Any:
    import av

    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:  # type: ignore[attr-defined]
        raise MediaError(path, f"cannot open as media ({_reason(exc)})") from exc


def _declared_ms(container: Any) -> int | None:
    """The duration the container declares (it can lie; decoding checks again)."""
    duration = container.duration  # in AV_TIME_BASE (microseconds); None when unknown
    return None if duration is None or duration <= 0 else int(duration // 1000)


def declared_duration_ms(path: str) -> int | None:
    """How long the container says it is, without decoding; None when it does not say.

    Raises:
        MediaError: the file cannot be opened as media.
    """
    container = _open(path)
    try:
        return _declared_ms(container)
    finally:
        container.close()


def _too_long(path: str, duration_ms: int | None, limit_ms: int) -> None:
    limit = format_duration(limit_ms / 1000)
    what = f"audio goes on past {limit}"
    if duration_ms is not None:
        what = f"{format_duration(duration_ms / 1000)} long"
    raise LimitExceeded(path, what, limit, FLAGS["max_duration_s"])


def _reason(exc: BaseException) -> str:
    """FFmpeg's words for what went wrong, without the errno and the path it repeats."""
    text = str(exc)
    text = text.split(": '", 1)[0] if ": '" in text else text  # the caller names the file
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)
