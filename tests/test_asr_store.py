"""ASR evidence in the store and in findings.json: flagged segments listed, never used as units."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from analyzer.records import Media, Segment, Source, Word
from analyzer.report.asr import asr_findings
from analyzer.report.findings import build_findings
from analyzer.store import MediaResult, Store
from analyzer.transcribe import TRANSLATION_TRACK, AsrSegment
from pipelines.asr_batches import BatchOptions, plan, sized
from pipelines.media_stages import MediaJob


def _details(media_id: str) -> tuple[AsrSegment, ...]:
    speech = Segment(media_id, 0, 2000, "We are free.", "en", 0.9, 0.02, words=(Word(0, 400, "We", 0.95),))
    loop = Segment(media_id, 3000, 9000, "Thank you. " * 6, "en", 0.95, 0.85)
    german = Segment(media_id, 10_000, 12_000, "Wir sind frei.", "de", 0.8, 0.05)
    english = Segment(media_id, 10_000, 12_000, "We are free.", "en", 0.7, 0.05)
    return (
        AsrSegment(speech, language_probability=0.99, audio_language="en", audio_probability=0.97),
        AsrSegment(loop, avg_logprob=-0.05, compression_ratio=4.1, flags=("repetition", "compression_ratio")),
        AsrSegment(german, language_probability=0.93, audio_language="de", audio_probability=0.9),
        AsrSegment(english, track=TRANSLATION_TRACK, language_probability=1.0),
    )


def _result(media_id: str = "m-asr") -> MediaResult:
    media = Media(media_id, "/x/a.mp4", "a" * 64, 13_000, Source())
    details = _details(media_id)
    kept = tuple(d.segment for d in details if d.used and d.track == "asr")
    return MediaResult(media, "a.mp4", "whisper-base", kept, (), (), (), asr_segments=details)


def test_asr_store_keeps_every_decoded_segment_with_its_evidence(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.save_result(_result())
        stored = store.asr_segments("m-asr")
        assert [(d.track, d.segment.text[:12], d.flags) for d in stored] == [
            ("asr", "We are free.", ()),
            ("asr", "Thank you. T", ("repetition", "compression_ratio")),
            ("asr", "Wir sind fre", ()),
            (TRANSLATION_TRACK, "We are free.", ()),
        ]
        assert stored[0].segment.words == (Word(0, 400, "We", 0.95),)
        assert stored[0].language_probability == 0.99 and stored[2].segment.language == "de"
        assert [d.segment.text[:5] for d in store.asr_segments(flagged_only=True)] == ["Thank"]
        assert len(store.segments("m-asr")) == 2  # the flagged loop is not a speech segment
        store.save_failure("m-asr", "/x/a.mp4", "a.mp4", Source(), "gone")
        assert store.asr_segments("m-asr") == []
    used = sqlite3.connect(tmp_path / "c.db").execute("SELECT used FROM asr_segments").fetchall()
    assert used == []


def test_asr_store_findings_list_flagged_segments_and_language_spans(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.save_result(_result())
        findings = build_findings(store.media_rows(), [], {}, asr=asr_findings(store.asr_segments()))
    entry = findings["media"][0]
    assert [f["flags"] for f in entry["asr_flagged"]] == [["repetition", "compression_ratio"]]
    assert entry["asr_flagged"][0]["start_s"] == 3.0 and entry["asr_flagged"][0]["track"] == "asr"
    assert [(s["language"], s["start_s"], s["end_s"]) for s in entry["language_spans"]] == [
        ("en", 0.0, 2.0),
        ("de", 10.0, 12.0),
    ]
    assert findings["asr"] == {"flagged_segments": 1}
    assert json.loads(json.dumps(findings)) == findings


def test_asr_store_demo_scan_reports_asr_evidence_for_every_media(demo_scan: dict[str, Any]):
    findings = demo_scan["findings"]
    assert "asr" in findings and findings["asr"]["flagged_segments"] >= 0
    heard = [m for m in findings["media"] if m["status"] == "ok" and m["language_spans"]]
    assert len(heard) >= 10
    for media in findings["media"]:
        assert isinstance(media["asr_flagged"], list) and isinstance(media["language_spans"], list)
    flagged = {f["text"] for m in findings["media"] for f in m["asr_flagged"]}
    members = {m["text"] for tp in findings["talking_points"] for m in tp["members"] if m["source"] == "asr"}
    assert not flagged & members  # a flagged segment never becomes evidence
    with Store(demo_scan["out"] / "chorus.db") as store:
        languages = {d.segment.language for d in store.asr_segments() if d.used}
    assert {"en", "de"} <= languages


def _job(tmp_path, name: str, size: int) -> MediaJob:
    from analyzer.records import MediaInput
    from analyzer.transcribe import TranscribeOptions

    path = tmp_path / name
    path.write_bytes(b"x" * size)
    return MediaJob(MediaInput(str(path), name), "m-" + name, "s" * 64, TranscribeOptions(), 3600)


def test_asr_store_batches_follow_workers_files_and_bytes(tmp_path):
    jobs = [_job(tmp_path, f"{i}.mp4", 1000) for i in range(10)]
    assert [len(b) for b in plan(jobs, 1, BatchOptions(max_files=4))] == [4, 4, 2]
    assert [len(b) for b in plan(jobs, 5, BatchOptions(max_files=16))] == [2, 2, 2, 2, 2]
    big = [*jobs[:2], _job(tmp_path, "big.mp4", 5000), *jobs[2:4]]
    assert [len(b) for b in plan(big, 1, BatchOptions(max_bytes=4000))] == [2, 1, 2]
    assert plan([], 2, BatchOptions()) == []
    options = jobs[0].transcribe
    assert sized(options, 1).cpu_threads >= 1 and sized(options, 64).cpu_threads == 1
