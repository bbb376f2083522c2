"""`chorus serve`: the real server process on a free loopback port, called over HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analyzer.server import safe_filename
from tests import hostile
from tests.conftest import HELD_OUT, SAMPLES


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m analyzer.cli serve ...` in its own process, with its own temp folder."""

    def __init__(self, store: Path, work: Path, *options: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = work / "server-tmp"
        self.tmp.mkdir(parents=True)
        self.log = (work / "server.log").open("w")
        env = {**os.environ, "TMPDIR": str(self.tmp), "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analyzer.cli",
                "serve",
                "--store",
                str(store),
                "--port",
                str(self.port),
                *options,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(work / 'server.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not answer /healthz in 90 s")
            time.sleep(0.2)
        self.client = httpx.Client(base_url=self.url, timeout=300)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _uploads_left(server: Server) -> list[Path]:
    """Upload folders the server left in its temp folder (other libraries may put files there)."""
    return [p for p in server.tmp.iterdir() if p.name.startswith("chorus-upload-")]


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The hostile store, no --allow-paths, a 1 MiB upload limit."""
    work = tmp_path_factory.mktemp("hostile-server")
    db, _ = hostile.build(work / "store")
    server = Server(db, work, "--max-upload-mb", "1")
    yield server
    server.stop()


def test_server_binds_loopback_and_reports_health(hostile_server):
    health = hostile_server.client.get("/healthz").json()
    assert health["status"] == "ok"
    assert (health["media"], health["talking_points"]) == (3, 1)
    assert hostile_server.process.poll() is None


def test_server_talking_points_list_and_one(hostile_server):
    listing = hostile_server.client.get("/talking-points").json()
    assert listing["total"] == 1
    first = listing["talking_points"][0]
    assert first["id"] == "tp-0001" and first["n_members"] == 4 and "members" not in first
    parts = {"breadth", "tightness", "specificity", "timing", "accounts", "subtitles"}
    assert set(first["score_parts"]) >= parts
    one = hostile_server.client.get("/talking-points/tp-0001").json()
    assert one["label"] == f"{hostile.LINE} {hostile.SCRIPT_TAG}"  # JSON is data: the text as it was
    assert {m["media_id"] for m in one["members"]} == {"m-evil0000001", "m-plain000002"}
    assert hostile_server.client.get("/talking-points/tp-9999").status_code == 404
    assert hostile_server.client.get("/talking-points", params={"limit": 0}).status_code == 422


def test_server_media_has_transcript_cues_and_talking_points(hostile_server):
    media = hostile_server.client.get("/media/m-plain000002").json()
    assert media["path"] == "plain.mp4" and media["url"] == "https://video.example/watch?v=plain"
    assert [s["text"] for s in media["segments"]] == [f"{hostile.LINE}."]
    assert [c["start_s"] for c in media["cues"]] == [1.2]
    assert {p["talking_point"] for p in media["talking_points"]} == {"tp-0001"}
    failed = hostile_server.client.get("/media/m-broken000003").json()
    assert failed["status"] == "failed" and failed["error"].startswith("broken.mp4")
    assert hostile_server.client.get("/media/m-nope").status_code == 404


def test_server_openapi_lists_every_endpoint(hostile_server):
    spec = hostile_server.client.get("/openapi.json").json()
    assert {"/check", "/talking-points", "/talking-points/{tp_id}", "/media/{media_id}", "/healthz"} <= set(
        spec["paths"]
    )
    body = spec["paths"]["/check"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    assert hostile_server.client.get("/docs").status_code == 200


def test_server_check_refuses_oversize_uploads_while_streaming(hostile_server):
    big = os.urandom(1536 * 1024)
    declared = hostile_server.client.post("/check", files={"file": ("big.mp4", big)})
    assert declared.status_code == 413 and "--max-upload-mb" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as bytes arrive
        boundary = b"--chorusboundary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]
        yield b"\r\n" + boundary + b"--\r\n"

    streamed = hostile_server.client.post(
        "/check", content=chunks(), headers={"content-type": "multipart/form-data; boundary=chorusboundary"}
    )
    assert streamed.status_code == 413
    assert _uploads_left(hostile_server) == []  # the partial upload is gone


def test_server_check_rejects_bad_requests_with_reasons(hostile_server):
    junk = hostile_server.client.post("/check", files={"file": ("../../etc/clip 1.mp4", b"not a video" * 50)})
    assert junk.status_code == 422 and junk.json()["detail"].startswith("clip_1.mp4:")
    no_paths = hostile_server.client.post("/check", json={"path": str(SAMPLES / HELD_OUT)})
    assert no_paths.status_code == 403 and "--allow-paths" in no_paths.json()["detail"]
    assert (
        hostile_server.client.post("/check", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    no_file = hostile_server.client.post("/check", files={"other": ("a.mp4", b"x")})
    assert no_file.status_code == 422
    assert _uploads_left(hostile_server) == []


@pytest.mark.parametrize(
    ("name", "safe"),
    [("clip.mp4", "clip.mp4"), ("../../x/évé nt.webm", "évé_nt.webm"), ("..", "upload"), (None, "upload")],
)
def test_server_safe_filename(name, safe):
    assert safe_filename(name) == safe


@pytest.fixture(scope="module")
def demo_server(demo_scan: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The samples' store, with --allow-paths on a folder holding a copy of the held-out video
    and a symlink that leads out of it."""
    work = tmp_path_factory.mktemp("demo-server")
    allowed = work / "allowed"
    allowed.mkdir()
    shutil.copy(SAMPLES / HELD_OUT, allowed / "new clip.webm")
    (allowed / "escape.webm").symlink_to(SAMPLES / HELD_OUT)
    server = Server(demo_scan["out"] / "chorus.db", work, "--allow-paths", str(allowed))
    server.allowed = allowed  # type: ignore[attr-defined]
    yield server
    server.stop()


def _recited(result: dict[str, Any]) -> set[str]:
    return {m["label"] for m in result["matches"]}


@pytest.mark.slow
def test_server_check_upload_and_allowed_path_find_the_script(demo_server, demo_scan):
    top = demo_scan["findings"]["talking_points"][0]
    upload = demo_server.client.post(
        "/check", files={"file": ("mountain.webm", (SAMPLES / HELD_OUT).read_bytes(), "video/webm")}
    )
    assert upload.status_code == 200, upload.text
    result = upload.json()
    assert result["media"]["path"] == "mountain.webm"
    assert top["label"] in _recited(result)
    match = next(m for m in result["matches"] if m["talking_point"] == top["id"])
    assert match["also_said_by"] and all(o["media_id"].startswith("m-") for o in match["also_said_by"])
    by_path = demo_server.client.post("/check", json={"path": "new clip.webm"})
    assert by_path.status_code == 200, by_path.text
    assert _recited(by_path.json()) == _recited(result)
    assert _uploads_left(demo_server) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("escape.webm", 403),  # a symlink out of the folder
        ("../allowed/../../x.webm", 403),
        (str(SAMPLES / HELD_OUT), 403),  # absolute, elsewhere
        ("/etc/passwd", 403),
        ("missing.webm", 404),
        (".", 404),  # the folder itself is not a file
    ],
)
def test_server_check_paths_stay_inside_allow_paths(demo_server, path, status):
    reply = demo_server.client.post("/check", json={"path": path})
    assert reply.status_code == status, reply.text


def test_server_cli_has_help_and_refuses_a_missing_store(tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--allow-paths" in result.output and "--max-upload-mb" in result.output
    missing = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "chorus scan" in missing.output
