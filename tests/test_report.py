from __future__ import annotations

from analyzer.records import Media, Member, ScoreParts, Source, TalkingPoint, Unit
from analyzer.report.findings import SCHEMA, build_findings, read_findings, url_at, write_json
from analyzer.report.html import render
from analyzer.store import MediaRow

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _findings():
    source = Source(channel=EVIL, url="javascript:alert(3)", published="2024-03-11", title=EVIL)
    row = MediaRow(Media("m-1", "/x/a.mp4", "f" * 64, 9000, source), "a.mp4", "ok", None, None, ("en",), "wb")
    row2 = MediaRow(
        Media("m-2", "/x/b.mp4", "e" * 64, 9000, Source(url="https://v.example/watch?v=b&t=9")),
        "b.mp4",
        "ok",
        None,
        None,
        ("en",),
        "wb",
    )
    failed = MediaRow(
        Media("m-3", "/x/c.mp4", "", 0, Source()), "c.mp4", "failed", "c.mp4: truncated", None, (), None
    )
    units = [
        Unit("u1", "m-1", 3100, 6800, EVIL, "en", "subtitle"),
        Unit("u2", "m-2", 61_000, 64_000, "line", "en", "asr"),
    ]
    tp = TalkingPoint(
        "tp-0001",
        EVIL,
        tuple(Member(u, 0.9, "paraphrase") for u in units),
        0.7,
        ScoreParts(0.5, 0.5, 1.0, 0.5, 0.0),
        2,
        2,
        ("en",),
        "2024-03-11",
    )
    return build_findings([row, row2, failed], [tp], {"asr_model": "whisper-base", "embed_model": "e5"})


def test_report_url_at_only_for_http_and_replaces_t():
    assert url_at("https://v.example/watch?v=b&t=9", 61_500) == "https://v.example/watch?v=b&t=61"
    assert url_at("javascript:alert(1)", 0) is None
    assert url_at(None, 0) is None


def test_report_findings_contract_and_round_trip(tmp_path):
    findings = _findings()
    assert findings["schema"] == SCHEMA
    member = findings["talking_points"][0]["members"][1]
    assert (member["start_s"], member["end_s"], member["url_at"]) == (
        61.0,
        64.0,
        "https://v.example/watch?v=b&t=61",
    )
    assert findings["media"][2]["status"] == "failed" and findings["media"][2]["duration_s"] is None
    write_json(tmp_path / "f.json", findings)
    assert read_findings(tmp_path / "f.json") == findings


def test_report_html_escapes_untrusted_text_and_drops_bad_links():
    page = render(_findings())
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert 'href="https://v.example/watch?v=b&amp;t=61"' in page
    assert "c.mp4: truncated" in page
