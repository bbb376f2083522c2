"""report.html in a real headless Chromium: what a reader sees, and that no script from the data runs.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): the
test asks the rendered page for element sizes (visible, not just present in the markup),
the title and the elements a payload would create, and takes a full-page screenshot kept
under out/browser/. Debian's ``chromium`` is installed by ``make system-deps``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from analyzer.report.html import render
from tests import hostile
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,1600",
]
SHOTS = ROOT / "out" / "browser"

# What the page looks like from inside, as one JSON value.
PROBE = """JSON.stringify((() => {
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return {w: r.width, h: r.height, shown: s.visibility !== 'hidden' && s.display !== 'none'}; };
  const all = [...document.querySelectorAll('*')];
  return {
    title: document.title,
    pwned: document.getElementsByTagName('pwned').length,
    scripts: document.scripts.length,
    handlers: all.filter(el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
    jsLinks: [...document.querySelectorAll('[href]')].filter(
      a => !/^(https?:|file:|#)/.test(a.getAttribute('href'))).length,
    network: box(document.querySelector('svg.network')),
    networkNodes: document.querySelectorAll('svg.network circle').length,
    timeline: box(document.querySelector('svg.timeline')),
    timelineDots: document.querySelectorAll('svg.timeline circle').length,
    points: [...document.querySelectorAll('div.tp[id^="tp-"]')].map(el => ({
      id: el.id, label: el.querySelector('h3').innerText, box: box(el),
      quotes: [...el.querySelectorAll('td.quote')].map(td => td.innerText)})),
    text: document.body.innerText,
    height: document.documentElement.scrollHeight,
  };
})())"""


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser's ends move above 9 first, so the shell's `3<&N 4>&M` never clobbers them.
        to_browser_r, from_browser_w = (self._high(fd) for fd in (to_browser_r, from_browser_w))
        command = " ".join(
            [
                "exec",
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
                f"3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-",
            ]
        )
        self.process = subprocess.Popen(
            ["bash", "-c", command],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)

    @staticmethod
    def _high(fd: int) -> int:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return moved

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the debugging pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, session: bool = False, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def open(self, url: str, timeout: float = 60) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read_message(deadline))

    def probe(self) -> dict[str, Any]:
        result = self.call("Runtime.evaluate", session=True, expression=PROBE, returnByValue=True)
        return dict(json.loads(result["result"]["value"]))

    def screenshot(self, path: Path, height: int) -> None:
        clip = {"x": 0, "y": 0, "width": 1280, "height": min(height, 16000), "scale": 1}
        shot = self.call(
            "Page.captureScreenshot", session=True, format="png", clip=clip, captureBeyondViewport=True
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make system-deps` installs it")
        pytest.skip("chromium is not installed (run `make system-deps`)")
    chrome = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_browser_detects_a_script_that_runs(browser, tmp_path):
    """The control: the probe does see a script run when a page lets one (no escaping, no CSP)."""
    page = tmp_path / "control.html"
    page.write_text(f"<!doctype html><title>Chorus report</title><body>{hostile.SCRIPT_TAG}{hostile.ONERROR}")
    browser.open(page.as_uri())
    seen = browser.probe()
    assert seen["title"] == "PWNED"
    assert seen["scripts"] == 1


@pytest.mark.parametrize("with_csp", [True, False], ids=["as-written", "csp-removed"])
def test_browser_hostile_data_runs_no_script_and_shows_as_text(browser, tmp_path, with_csp):
    """Payloads in transcripts, subtitles, metadata and links stay text, even without the CSP."""
    _, findings = hostile.build(tmp_path / "store")
    page = render(findings, scan_root=str(tmp_path))
    if not with_csp:
        page, removed = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
        assert removed == 1
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    browser.open(report.as_uri())
    seen = browser.probe()
    assert seen["title"] == "Chorus report"
    assert (seen["pwned"], seen["scripts"], seen["handlers"], seen["jsLinks"]) == (0, 0, 0, 0)
    assert hostile.SCRIPT_TAG in seen["text"] and hostile.ONERROR in seen["text"]
    quotes = " ".join(q for p in seen["points"] for q in p["quotes"])
    assert f"{hostile.LINE} {hostile.SCRIPT_TAG}" in quotes
    assert f"{hostile.LINE} {hostile.ONERROR}" in quotes
    if with_csp:
        browser.screenshot(SHOTS / "hostile.png", seen["height"])


@pytest.mark.slow
def test_browser_demo_report_shows_points_quotes_and_both_plots(browser, demo_scan):
    """The report `chorus scan` wrote for the samples, as a reader sees it."""
    findings = demo_scan["findings"]
    report = Path(demo_scan["out"]) / "report.html"
    browser.open(report.as_uri())
    seen = browser.probe()
    assert seen["title"] == "Chorus report"
    assert (seen["pwned"], seen["scripts"], seen["handlers"], seen["jsLinks"]) == (0, 0, 0, 0)
    for plot, marks in (("network", "networkNodes"), ("timeline", "timelineDots")):
        assert seen[plot]["shown"] and seen[plot]["w"] > 600 and seen[plot]["h"] > 150, plot
        assert seen[marks] >= 3, marks
    shown = {p["id"]: p for p in seen["points"]}
    assert len(shown) == len(findings["talking_points"]) > 0
    for tp in findings["talking_points"]:
        card = shown[tp["id"]]
        assert card["box"]["shown"] and card["box"]["h"] > 50
        assert tp["label"] in card["label"]
        assert sorted(card["quotes"]) == sorted(m["text"] for m in tp["members"])
    failed = [m for m in findings["media"] if m["status"] == "failed"]
    assert all(m["error"] in seen["text"] for m in failed)
    browser.screenshot(SHOTS / "report.png", seen["height"])
    width, height = _png_size(SHOTS / "report.png")
    assert width == 1280 and height > 2000
