"""`chorus serve`: a scanned store over HTTP (FastAPI + uvicorn), bound to loopback by default.

``POST /check`` runs the per-video check on an uploaded file (streamed to a private temp
folder, the size limit enforced while the bytes arrive) or, only when the server was started
with ``--allow-paths DIR``, on a file inside DIR named by path. The read endpoints serve
the talking points and media of the store. Models stay loaded between requests (the
transcriber and embedder caches in pipelines/), and checks run one at a time: each one
already uses every core for ASR.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from analyzer.errors import ChorusError
from analyzer.report.findings import SCHEMA, media_entry, seconds, talking_point_entry
from analyzer.store import Store

MB = 1024 * 1024
# Multipart framing (boundaries, part headers) around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_JSON_LIMIT = 64 * 1024
_SAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass(frozen=True)
class ServerOptions:
    """What the server serves and what it accepts.

    Attributes:
        store: a chorus.db written by ``chorus scan``.
        max_upload_mb: the largest media file ``POST /check`` accepts, in MiB.
        allow_paths: a folder whose files ``POST /check`` may read by path; None (the
            default) refuses paths, so a client can only send bytes.
    """

    store: str
    max_upload_mb: float = 500
    allow_paths: str | None = None


class UploadTooLarge(ChorusError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"upload is larger than the server's limit of {limit / MB:g} MiB (--max-upload-mb)")


def safe_filename(name: str | None) -> str:
    """A client's file name reduced to a harmless base name (keeps the extension)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip("._")[:120]
    return base or "upload"


def resolve_allowed(root: Path, requested: str) -> Path:
    """The real file a client names, only if it lies inside ``root`` after resolving ``..``
    and symlinks; a relative path is taken relative to ``root``.

    Raises:
        HTTPException: 403 outside the folder, 404 when there is no such file inside it.
    """
    base = root.resolve(strict=True)
    candidate = base / requested  # an absolute ``requested`` replaces base here
    outside = HTTPException(403, f"{requested}: not inside the folder this server may read")
    if not Path(os.path.normpath(candidate)).is_relative_to(base):
        raise outside  # before touching the disk: no probing of what exists elsewhere
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise HTTPException(404, f"{requested}: no such file in the allowed folder") from exc
    if not real.is_relative_to(base):
        raise outside  # a symlink that leads out
    if not real.is_file():
        raise HTTPException(404, f"{requested}: not a file")
    return real


class _UploadSink:
    """python-multipart callbacks: the first part named ``file`` goes to disk, counted."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder = folder
        self.limit = limit
        self.path: Path | None = None
        self.name = ""
        self.size = 0
        self._handle: Any = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._writing = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._grow("_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._grow("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _grow(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if self.path is None and params.get(b"name") == b"file" and b"filename" in params:
            self.name = safe_filename(params[b"filename"].decode("utf-8", "replace"))
            self.path = self.folder / self.name
            self._handle = self.path.open("wb")
            self._writing = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing:
            return
        self.size += end - start
        if self.size > self.limit:
            raise UploadTooLarge(self.limit)
        self._handle.write(data[start:end])

    def _part_end(self) -> None:
        if self._writing:
            self._handle.close()
            self._writing = False

    def close(self) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()


async def receive_upload(request: Request, folder: Path, limit: int) -> tuple[Path, str]:
    """Stream a multipart body into ``folder``; the file's path and the client's file name.

    The limit is checked against Content-Length before reading and against the bytes
    actually received while reading (a chunked body has no length to trust).
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise UploadTooLarge(limit)
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart body without a boundary")
    sink = _UploadSink(folder, limit)
    parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + _MULTIPART_OVERHEAD:
                raise UploadTooLarge(limit)
            parser.write(chunk)
        parser.finalize()
    except UploadTooLarge:
        raise
    except Exception as exc:  # python-multipart raises its own errors on malformed bodies
        raise HTTPException(400, f"malformed multipart body ({exc})") from exc
    finally:
        sink.close()
    if sink.path is None:
        raise HTTPException(422, "multipart body has no file part named 'file'")
    return sink.path, sink.name


_CHECK_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "a file inside the server's --allow-paths folder (absolute, or "
                        "relative to it); refused when the server has no --allow-paths",
                    }
                },
                "required": ["path"],
            }
        },
    },
}


def create_app(options: ServerOptions) -> FastAPI:
    """The FastAPI application for one store.

    Raises:
        ChorusError: the store is missing or unreadable, or --allow-paths is not a folder.
    """
    store_path = str(options.store)
    with Store(store_path, create=False):
        pass  # fail at start-up, not on the first request
    allowed = Path(options.allow_paths) if options.allow_paths else None
    if allowed is not None and not allowed.is_dir():
        raise ChorusError(f"--allow-paths {allowed}: not a folder")
    limit = int(options.max_upload_mb * MB)
    check_lock = threading.Lock()

    app = FastAPI(
        title="Chorus",
        version="1",
        description=(
            "Which known talking points a video repeats, and the evidence behind each "
            f"talking point of the store `{Path(store_path).name}`. Talking points and media follow "
            f"findings.json ({SCHEMA})."
        ),
    )

    def run_check(path: str) -> dict[str, Any]:
        from pipelines.check import check

        with check_lock:
            return check(path, store_path)

    @app.exception_handler(ChorusError)
    async def chorus_error(_: Request, exc: ChorusError) -> JSONResponse:
        status = 413 if isinstance(exc, UploadTooLarge) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/healthz", summary="Liveness, with what the store holds")
    def healthz() -> dict[str, Any]:
        with Store(store_path, create=False) as store:
            counts = {
                table: int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("media", "talking_points")
            }
        return {"status": "ok", "store": store_path, "schema": SCHEMA, **counts}

    @app.get("/talking-points", summary="Talking points, ranked, without their members")
    def talking_points(limit: int = 100, offset: int = 0) -> dict[str, Any]:
        if limit < 1 or offset < 0:
            raise HTTPException(422, "limit must be >= 1 and offset >= 0")
        with Store(store_path, create=False) as store:
            rows = {r.media.id: r for r in store.media_rows()}
            points = store.talking_points()
        page = []
        for rank, tp in list(enumerate(points, 1))[offset : offset + limit]:
            entry = talking_point_entry(rank, tp, rows)
            entry["n_members"] = len(entry.pop("members"))
            page.append(entry)
        return {"total": len(points), "offset": offset, "talking_points": page}

    @app.get("/talking-points/{tp_id}", summary="One talking point with every member")
    def talking_point(tp_id: str) -> dict[str, Any]:
        with Store(store_path, create=False) as store:
            rows = {r.media.id: r for r in store.media_rows()}
            points = store.talking_points()
        for rank, tp in enumerate(points, 1):
            if tp.id == tp_id:
                return talking_point_entry(rank, tp, rows)
        raise HTTPException(404, f"no talking point {tp_id!r} in this store")

    @app.get("/media/{media_id}", summary="One media item: metadata, its talking points, transcript")
    def media(media_id: str) -> dict[str, Any]:
        with Store(store_path, create=False) as store:
            row = store.media_row(media_id)
            if row is None:
                raise HTTPException(404, f"no media {media_id!r} in this store")
            points = store.talking_points()
            segments = store.segments(media_id)
            cues = store.cues(media_id)
        said = [
            {
                "talking_point": tp.id,
                "rank": rank,
                "label": tp.label,
                "start_s": seconds(m.unit.start_ms),
                "end_s": seconds(m.unit.end_ms),
                "text": m.unit.text,
                "source": m.unit.source,
                "relation": m.relation,
            }
            for rank, tp in enumerate(points, 1)
            for m in tp.members
            if m.unit.media_id == media_id
        ]
        return {
            **media_entry(row),
            "talking_points": said,
            "segments": [
                {
                    "start_s": seconds(s.start_ms),
                    "end_s": seconds(s.end_ms),
                    "text": s.text,
                    "language": s.language,
                    "confidence": s.confidence,
                }
                for s in segments
            ],
            "cues": [
                {
                    "track": c.track,
                    "start_s": seconds(c.start_ms),
                    "end_s": seconds(c.end_ms),
                    "text": c.text,
                    "language": c.language,
                }
                for c in cues
            ],
        }

    @app.post(
        "/check",
        summary="Which known talking points one video repeats",
        openapi_extra={"requestBody": _CHECK_BODY},
        responses={
            403: {"description": "a path outside --allow-paths, or paths not allowed at all"},
            413: {"description": "upload larger than --max-upload-mb"},
            415: {"description": "neither multipart/form-data nor application/json"},
            422: {"description": "the file cannot be used as media (the reason names it)"},
        },
    )
    async def check_media(request: Request) -> dict[str, Any]:
        """Send the file as multipart field ``file``, or ``{"path": ...}`` as JSON when the server
        was started with ``--allow-paths``. The answer is ``chorus check --json``'s."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            with tempfile.TemporaryDirectory(prefix="chorus-upload-") as folder:
                saved, name = await receive_upload(request, Path(folder), limit)
                result = await run_in_threadpool(run_check, str(saved))
            result["media"]["path"] = name
            return result
        if kind == "application/json":
            if allowed is None:
                raise HTTPException(
                    403, "this server reads no paths; upload the file, or start it with --allow-paths DIR"
                )
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > _JSON_LIMIT:
                    raise HTTPException(413, "JSON body too large")
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise HTTPException(400, f"body is not JSON ({exc})") from exc
            if not isinstance(data, dict) or not isinstance(data.get("path"), str):
                raise HTTPException(422, 'expected {"path": "..."}')
            target = resolve_allowed(allowed, data["path"])
            return await run_in_threadpool(run_check, str(target))
        raise HTTPException(
            415, "send multipart/form-data (field 'file') or application/json {\"path\": ...}"
        )

    return app


def serve(options: ServerOptions, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(options), host=host, port=port, log_level="info")
