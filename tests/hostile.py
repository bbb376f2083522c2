"""A small real store whose every text field is hostile: markup, script, formula cells.

Built through the store's own write path (no ASR needed), so the report, the exports and the
server read it exactly as they read a scan. Each payload, if it ever ran in a browser,
leaves a mark the browser test can see: the page title changes or a <pwned> element appears.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer.records import (
    Cue,
    Media,
    Member,
    ScoreParts,
    Segment,
    Source,
    SubtitleTrack,
    TalkingPoint,
    Unit,
)
from analyzer.report.findings import build_findings
from analyzer.store import MediaResult, Store

SCRIPT_TAG = "<script>document.title='PWNED'</script>"
ONERROR = "<img src=x onerror=\"document.body.appendChild(document.createElement('pwned'))\">"
SVG_ONLOAD = "<svg onload=\"document.title='PWNED'\"></svg>"
JS_URL = "javascript:document.title='PWNED'"
FORMULA = '=HYPERLINK("http://evil.example","click")'
LINE = "The river belongs to all of us"


def _result(media_id: str, name: str, source: Source, speech: str, subtitle: str) -> MediaResult:
    media = Media(media_id, f"/corpus/{name}", media_id * 4, 12_000, source)
    segment = Segment(media_id, 1000, 5000, speech, "en", 0.9)
    track = SubtitleTrack(media_id, f"sidecar:{name}.en.srt", "en", "sidecar", "srt")
    cue = Cue(media_id, track.track, 1200, 5200, subtitle, "en")
    units = (
        Unit(f"{media_id}-a", media_id, 1000, 5000, speech, "en", "asr", "asr"),
        Unit(f"{media_id}-s", media_id, 1200, 5200, subtitle, "en", "subtitle", track.track),
    )
    return MediaResult(media, name, "whisper-base", (segment,), (track,), (cue,), units)


def build(folder: Path) -> tuple[Path, dict[str, Any]]:
    """Write ``folder/chorus.db``; returns its path and the findings built from it, with the
    script and subtitle fields (``scripts``, ``subtitle_mismatches``, ``subtitle_copies``)
    carrying payloads too."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "chorus.db"
    evil = Source(
        channel=f"Evil {SCRIPT_TAG}",
        uploader=ONERROR,
        handle="@evil_x7k2q",
        url=JS_URL,
        published="2024-05-01",
        title=SVG_ONLOAD,
    )
    plain = Source(
        channel=FORMULA,
        uploader="Plain",
        handle="+plain_3kq9z",
        url="https://video.example/watch?v=plain",
        published="2024-05-02",
        title="plain",
    )
    results = [
        _result("m-evil0000001", "evil.mp4", evil, f"{LINE} {SCRIPT_TAG}", f"{LINE} {ONERROR}"),
        _result("m-plain000002", "plain.mp4", plain, f"{LINE}.", f"-{LINE} {SVG_ONLOAD}"),
    ]
    with Store(db) as store:
        store.start_run({"asr_model": "whisper-base", "embed_model": "multilingual-e5-small"})
        for result in results:
            store.save_result(result)
        store.save_failure(
            "m-broken000003", "/corpus/broken.mp4", "broken.mp4", evil, f"broken.mp4: {ONERROR}"
        )
        members = tuple(
            Member(u, 0.95, "verbatim" if u.source == "asr" else "paraphrase")
            for r in results
            for u in r.units
        )
        point = TalkingPoint(
            "tp-0001",
            f"{LINE} {SCRIPT_TAG}",
            members,
            0.8,
            ScoreParts(0.6, 0.9, 1.0, 0.9, 1.0),
            2,
            2,
            ("en",),
            "2024-05-01",
        )
        store.save_talking_points([point])
        findings = build_findings(
            store.media_rows(),
            store.talking_points(),
            {"asr_model": "whisper-base", "embed_model": SCRIPT_TAG},
        )
    findings["scripts"] = [
        {"id": "script-01", "talking_points": ["tp-0001"], "media": ["m-evil0000001", "m-plain000002"]}
    ]
    findings["media"][1]["subtitle_mismatches"] = [
        {
            "track": f"sidecar:{ONERROR}",
            "start_s": 1.2,
            "end_s": 5.2,
            "subtitle_text": SCRIPT_TAG,
            "speech_text": ONERROR,
            "similarity": 0.2,
        }
    ]
    findings["subtitle_copies"] = [
        {
            "members": [
                {"media_id": "m-evil0000001", "track": "sidecar:evil.mp4.en.srt"},
                {"media_id": "m-plain000002", "track": "sidecar:plain.mp4.en.srt"},
            ],
            "n_media": 2,
            "similarity": 0.97,
            "speech_similarity": 0.1,
            "n_cues": 1,
            "sample_text": f"{LINE} {ONERROR}",
        }
    ]
    return db, findings
