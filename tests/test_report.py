from __future__ import annotations

import pytest

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


# ---- report.html sections and plots -----------------------------------------------------------


def _page_and_findings(tmp_path):
    from tests import hostile

    _, findings = hostile.build(tmp_path / "store")
    return render(findings, scan_root=str(tmp_path)), findings


def test_report_html_shows_scripts_mismatches_failed_and_score_parts(tmp_path):
    from tests import hostile

    page, _ = _page_and_findings(tmp_path)
    anchors = ("scripts", "subtitle-mismatches", "subtitle-copies", "failed", "media", "network-plot")
    for anchor in (*anchors, "timeline-plot"):
        assert f"id={anchor}" in page or f'id="{anchor}"' in page, anchor
    assert 'href="#tp-0001"' in page and 'id="script-01"' in page
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "javascript:" not in page
    assert html_escaped(hostile.ONERROR) in page  # the mismatch's speech text, shown as text
    for part in ("breadth", "tightness", "specificity", "timing", "accounts"):
        assert f">{part} <span class=bar>" in page
    # the javascript: URL is dropped; the timestamp falls back to the local file at that second
    assert (tmp_path / "evil.mp4").resolve().as_uri() + "#t=1.0" in page


def html_escaped(text):
    import html

    return html.escape(text, quote=True)


def test_report_html_degrades_without_optional_fields():
    findings = _findings()
    for tp in findings["talking_points"]:
        del tp["score_parts"]
    for m in findings["media"]:
        m.pop("notes")
    page = render(findings)
    assert "id=scripts" not in page and "subtitle-mismatches" not in page
    assert "class=bar" not in page and "tp-0001" in page


def test_report_html_local_links_when_no_url(tmp_path):
    findings = _findings()
    page = render(findings, scan_root=str(tmp_path))
    # m-1's URL is javascript: (dropped): its time links to the local file at 3.1 s
    assert (tmp_path / "a.mp4").resolve().as_uri() + "#t=3.1" in page
    assert 'href="https://v.example/watch?v=b&amp;t=61"' in page


def test_report_highlight_marks_only_changed_words():
    from analyzer.report.html import highlight_changes

    marked = highlight_changes("We are all free to leave <our> lives.", "We are free to live our lives.")
    assert marked == "We are <mark>all</mark> free to <mark>leave</mark> &lt;our&gt; lives."
    assert highlight_changes("Nous sommes libres.", "We are free.") == "Nous sommes libres."


def test_report_members_fold_past_the_open_limit():
    from analyzer.report.html import ReportOptions

    page = render(_findings(), options=ReportOptions(open_members=1))
    assert "<details><summary>1 more members</summary>" in page


def _tp(tp_id, rank, score, members):
    return {
        "id": tp_id,
        "rank": rank,
        "score": score,
        "label": tp_id,
        "languages": ["en"],
        "n_media": len(members),
        "n_channels": len(members),
        "first_published": None,
        "members": [{"media_id": m, "start_s": 0.0, "end_s": 1.0} for m in members],
    }


def _media(media_id, channel, published):
    return {
        "id": media_id,
        "path": f"{media_id}.mp4",
        "channel": channel,
        "published": published,
        "status": "ok",
    }


def test_report_network_weights_links_by_score():
    from analyzer.report.plots import channel_graph, network_svg

    findings = {
        "media": [
            _media("a", "A", "2024-01-01"),
            _media("b", "B", "2024-01-02"),
            _media("c", "C", None),
            _media("d", "D", None),
            {**_media("e", "E", None), "status": "failed"},
        ],
        "talking_points": [
            _tp("tp-1", 1, 0.9, ["a", "b"]),
            _tp("tp-2", 2, 0.8, ["a", "b"]),
            _tp("tp-3", 3, 0.02, ["a", "b", "c"]),  # a greeting: everyone, near-zero score
            _tp("tp-4", 4, 0.5, ["d"]),
        ],
    }
    graph = channel_graph(findings, max_channels=10)
    assert graph.names == ("A", "B", "C") and graph.isolated == 1  # D shares nothing; E failed
    weights = {(graph.names[i], graph.names[j]): w for i, j, w, _ in graph.edges}
    assert weights[("A", "B")] == pytest.approx(1.72) and weights[("A", "C")] == pytest.approx(0.02)
    svg = network_svg(findings)
    assert svg.count("<circle") == 3 and svg.count("<line") == 3
    assert "1 channel(s) share no talking point" in svg
    capped = channel_graph(findings, max_channels=2)
    assert capped.names == ("A", "B") and capped.left_out == 1


def test_report_force_layout_is_deterministic_and_in_the_unit_square():
    from analyzer.report.plots import force_layout

    edges = [(0, 1, 1.0), (1, 2, 0.5), (2, 3, 0.1)]
    first, second = force_layout(4, edges, 200), force_layout(4, edges, 200)
    assert (first == second).all()
    assert first.min() >= 0 and first.max() <= 1 and first.shape == (4, 2)


def test_report_timeline_breaks_long_gaps_and_rings_the_first_day():
    from datetime import date

    from analyzer.report.plots import TimeAxis, timeline_svg

    days = [date(2023, 6, 14), date(2024, 3, 11), date(2024, 3, 12), date(2024, 3, 14)]
    axis = TimeAxis.fit(days, 0, 1000)
    assert len(axis.pieces) == 2 and len(axis.breaks()) == 1
    xs = [axis.x(d) for d in days]
    assert xs == sorted(xs) and xs[-1] - xs[1] > 300  # the campaign's days get room
    findings = {
        "media": [
            _media("a", "A", "2024-03-11"),
            _media("b", "B", "2024-03-14"),
            _media("c", "C", "2023-06-14"),
        ],
        "talking_points": [_tp("tp-1", 1, 0.9, ["a", "b"]), _tp("tp-2", 2, 0.1, ["c", "a"])],
    }
    svg = timeline_svg(findings)
    assert svg.count("<circle") == 4 and svg.count('stroke="#111"') == 2  # one first day per row
    assert "class=break" in svg and "2024-03-11 (first)" in svg


def test_report_timeline_without_dates_says_so():
    from analyzer.report.plots import timeline_svg

    findings = {
        "media": [_media("a", "A", None), _media("b", "B", "not a date")],
        "talking_points": [_tp("t", 1, 0.5, ["a", "b"])],
    }
    assert "No publish dates are known" in timeline_svg(findings)


def test_report_source_cell_names_where_a_quote_was_read():
    from analyzer.report.html import _source_cell

    assert _source_cell({"source": "asr", "track": "asr"}) == "speech (ASR)"
    assert "OCR" in _source_cell({"source": "ocr", "track": "ocr:video"})
    assert "the picture" in _source_cell({"source": "ocr", "track": "ocr:video"})
    assert "stream 3" in _source_cell({"source": "ocr", "track": "stream:3"})
    cell = _source_cell({"source": "subtitle", "track": "sidecar:<b>x</b>.srt"})
    assert "<b>x</b>" not in cell and "&lt;b&gt;" in cell  # file names are untrusted
