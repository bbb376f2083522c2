"""Coordination signals beyond text, each on constructed cases: accounts, re-upload evidence,
copied subtitles, and the documented score that combines them."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from analyzer.coordination import (
    WEIGHTS,
    MediaInfo,
    ScoreOptions,
    build_talking_points,
    reupload_evidence,
    score_of,
    with_subtitle_copies,
)
from analyzer.fingerprint import AudioMatch, fpcalc_path
from analyzer.handles import handle_randomness, looks_random_handle
from analyzer.records import Media, Member, Reupload, ScoreParts, Source, SubtitleCopy, TalkingPoint, Unit
from analyzer.report.findings import build_findings
from analyzer.report.html import render
from analyzer.store import MediaResult, MediaRow, Store

ROOT = Path(__file__).resolve().parents[1]
TATOEBA = ROOT.parent / "shared" / "data" / "text" / "tatoeba"


# ---- account handles -------------------------------------------------------------------


@pytest.mark.parametrize(
    "handle",
    [
        "maria_lopez",
        "john1987",
        "@SarahHikes",
        "@toms_kitchen",
        "@news_2024",
        "tom_22",
        "kowalski",
        "nguyen_van_an",
    ],
)
def test_coordination_signals_ordinary_handles_are_not_random(handle):
    assert not looks_random_handle(handle)
    assert 0.0 <= handle_randomness(handle) < 0.5


@pytest.mark.parametrize(
    "handle",
    [
        "user_x7k2q9",
        "ayguli_5fj3k",
        "@freevalley_voice_x7k2q",
        "@valleylife_93fj1",
        "user_839271",
        "mariagarcia7k2q9",
    ],
)
def test_coordination_signals_random_suffixes_are_random(handle):
    assert looks_random_handle(handle)
    assert handle_randomness(handle) > 0.9


def test_coordination_signals_no_handle_scores_zero():
    assert handle_randomness(None) == 0.0 and handle_randomness("@") == 0.0 and not looks_random_handle("")


def _tatoeba_names() -> list[str]:
    """Proper nouns of the Latin-script Tatoeba files (capitalised mid-sentence, never lower case)."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for suffix in ("eng", "fra", "deu", "spa"):
        for path in TATOEBA.glob(f"tatoeba.*.{suffix}"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = re.findall(r"[^\W\d_]+", line)
                lower.update(w for w in words if w.islower())
                capitalised.update(w for w in words[1:] if w[0].isupper() and w[1:].islower() and len(w) >= 3)
    return sorted(w.casefold() for w in capitalised if w.casefold() not in lower)


@pytest.mark.slow
def test_coordination_signals_real_names_are_rarely_flagged_and_random_runs_are_caught():
    names = _tatoeba_names()
    if len(names) < 200:
        pytest.skip(f"Tatoeba sentences not available in {TATOEBA}")
    rng = random.Random(11)
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    ordinary = [f"{n}_{rng.choice(names)}" for n in names] + [f"{n}{rng.randint(1950, 2012)}" for n in names]
    randoms = [f"{n}_{''.join(rng.choice(alnum) for _ in range(rng.randint(4, 8)))}" for n in names]
    false_positives = sum(map(looks_random_handle, ordinary)) / len(ordinary)
    false_negatives = sum(not looks_random_handle(h) for h in randoms) / len(randoms)
    assert false_positives < 0.03, false_positives  # measured 0.6 % (benchmarks/handles.py)
    assert false_negatives < 0.06, false_negatives  # measured 1.8 % for name_[a-z0-9]{4,8}


# ---- re-uploads: which evidence decided -----------------------------------------------


def _unit(i: int, media: str, text: str, start: int) -> Unit:
    return Unit(f"u{i}", media, start, start + 2000, text, "en", "asr", "asr")


LINES = [
    "We are free to live our lives here.",
    "Nobody forces me to do anything.",
    "Foreign media tell lies.",
]


def _media(*ids: str, published: str = "2024-03-1{}") -> dict[str, MediaInfo]:
    return {m: MediaInfo(m, Source(published=published.format(i + 1)), 10_000) for i, m in enumerate(ids)}


def test_coordination_signals_audio_alone_decides_a_reupload_the_transcript_missed():
    # b's transcript differs (Whisper heard it otherwise), but its audio is a's
    units = [_unit(i, "a", t, 1000 + 3000 * i) for i, t in enumerate(LINES)]
    garbled = ["We're three to leave our lies hear.", "No bodyforce is me too.", "For rain meteor tell eyes."]
    units += [_unit(10 + i, "b", t, 1000 + 3000 * i) for i, t in enumerate(garbled)]
    media = _media("a", "b", "c")
    match = AudioMatch("b", "a", 0.04, -990, 20_000)  # b starts 0.99 s before a (ids sorted a < b)
    found = reupload_evidence(units, media, 0.8, [match])
    assert found == {"b": Reupload("b", "a", ("audio fingerprint",), 0.04, 990, 20_000, None)}
    assert reupload_evidence(units, media, 0.8) == {}  # text alone does not see it


def test_coordination_signals_transcript_alone_and_both_say_so():
    units = [_unit(i, "a", t, 1000 + 3000 * i) for i, t in enumerate(LINES)]
    units += [_unit(10 + i, "b", t, 1200 + 3000 * i) for i, t in enumerate(LINES)]  # same words, same times
    media = _media("a", "b")
    text_only = reupload_evidence(units, media, 0.8)
    assert text_only["b"].evidence == ("transcript",) and text_only["b"].similarity == 1.0
    both = reupload_evidence(units, media, 0.8, [AudioMatch("a", "b", 0.01, 200, 9000)])
    assert both["b"].evidence == ("audio fingerprint", "transcript")
    assert both["b"].duplicate_of == "a" and both["b"].offset_ms == 200


def test_coordination_signals_copies_of_copies_point_at_the_earliest():
    media = _media("x", "y", "z")  # published 11, 12, 13
    matches = [AudioMatch("y", "z", 0.05, 0, 9000), AudioMatch("x", "y", 0.03, 0, 9000)]
    found = reupload_evidence([], media, 0.8, matches)
    assert {m: r.duplicate_of for m, r in found.items()} == {"y": "x", "z": "x"}


def test_coordination_signals_reuploads_count_as_one_voice():
    """A line said by a and by three re-uploads of a is one voice: no talking point."""
    units = [_unit(i, m, LINES[0], 1000) for i, m in enumerate("abcd")]
    media = {m: MediaInfo(m, Source(channel=m), 9000, None if m == "a" else "a") for m in "abcd"}
    vectors = np.ones((4, 4), dtype=np.float32) / 2
    assert (
        build_talking_points([[0, 1, 2, 3]], units, vectors, media, np.zeros((0, 4)), ScoreOptions(0.85))
        == []
    )


# ---- copied subtitles and the score -----------------------------------------------------


def _point(media: dict[str, MediaInfo]) -> TalkingPoint:
    units = [
        _unit(i, m, "We are free to live our lives the way we choose in this valley.", 0)
        for i, m in enumerate(media)
    ]
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (len(units), 1))
    points = build_talking_points(
        [list(range(len(units)))], units, vectors, media, np.zeros((0, 8)), ScoreOptions(0.85)
    )
    return points[0]


def test_coordination_signals_subtitle_copies_among_a_lines_media_raise_its_score():
    plain = {m: MediaInfo(m, Source(channel=m, handle=f"@{m}_smith"), 9000) for m in ("m1", "m2", "m3", "m4")}
    copy = SubtitleCopy((("m1", "sidecar:a.srt"), ("m2", "sidecar:b.srt")), 0.98, 0.2, 6, "We are free")
    other = SubtitleCopy((("m3", "stream:2"), ("zz", "stream:2")), 0.97, 0.1, 5, "Something else")
    copied = with_subtitle_copies(plain, [copy, other])
    assert copied["m1"].subtitle_copy == copied["m2"].subtitle_copy != copied["m3"].subtitle_copy
    without, with_copies = _point(plain), _point(copied)
    # m1 and m2 share a subtitle file; m3's copy partner is not in this line: 2 of 4
    assert without.parts.subtitles == 0.0 and with_copies.parts.subtitles == 0.5
    assert with_copies.score == pytest.approx(without.score + 0.1 * 0.5, abs=1e-3)


def test_coordination_signals_score_is_the_documented_combination():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    parts = ScoreParts(0.8, 0.6, 0.5, 0.4, 1.0, 0.5)
    expected = 0.5 * (0.405 * 0.8 + 0.27 * 0.6 + 0.135 * 0.4 + 0.09 * 1.0 + 0.1 * 0.5)
    assert score_of(parts) == pytest.approx(expected)
    # the earlier four weights, scaled by 0.9: lines without copied subtitles keep their order
    assert score_of(ScoreParts(0.8, 0.6, 1.0, 0.4, 1.0)) == pytest.approx(
        0.9 * (0.45 * 0.8 + 0.3 * 0.6 + 0.15 * 0.4 + 0.1 * 1.0)
    )
    assert score_of(ScoreParts(1, 1, 0.1, 1, 1, 1)) <= 0.1  # boilerplate stays low whatever else


def test_coordination_signals_random_handles_raise_accounts_continuously():
    ordinary = {
        m: MediaInfo(m, Source(channel=m, handle=f"@{n}"), 9000)
        for m, n in zip("abc", ["maria_lopez", "john1987", "tom_22"], strict=True)
    }
    bulk = {
        m: MediaInfo(m, Source(channel=m, handle=f"@valley_{s}"), 9000)
        for m, s in zip("abc", ["x7k2q", "93fj1", "q8z3m"], strict=True)
    }
    low, high = _point(ordinary), _point(bulk)
    assert low.parts.accounts < 0.1 and high.parts.accounts > 0.9 and high.score > low.score


# ---- store, findings and report -------------------------------------------------------


def test_coordination_signals_old_stored_score_parts_still_load(tmp_path):
    unit = _unit(0, "m-1", "We are free.", 0)
    media = Media("m-1", "/x/a.mp4", "f" * 64, 9000)
    with Store(tmp_path / "c.db") as store:
        store.save_result(MediaResult(media, "a.mp4", "wb", (), (), (), (unit,)))
        tp = TalkingPoint(
            "tp-0001",
            "We are free.",
            (Member(unit, 1.0, "verbatim"),),
            0.8,
            ScoreParts(1, 1, 1, 1, 1, 0.5),
            2,
            2,
            ("en",),
        )
        store.save_talking_points([tp])
        assert store.talking_points()[0].parts.subtitles == 0.5
    db = sqlite3.connect(tmp_path / "c.db")  # a row written before `subtitles` existed
    db.execute("UPDATE talking_points SET parts=?", (json.dumps([0.5, 0.9, 1.0, 0.5, 1.0]),))
    db.commit()
    db.close()
    with Store(tmp_path / "c.db") as store:
        assert store.talking_points()[0].parts == ScoreParts(0.5, 0.9, 1.0, 0.5, 1.0, 0.0)


def test_coordination_signals_fingerprints_and_reuploads_round_trip_and_follow_their_media(tmp_path):
    unit = _unit(0, "m-1", "We are free.", 0)
    media = Media("m-1", "/x/a.mp4", "f" * 64, 9000)
    data = np.arange(50, dtype="<u4").tobytes()
    with Store(tmp_path / "c.db") as store:
        store.save_result(MediaResult(media, "a.mp4", "wb", (), (), (), (unit,), audio_fingerprint=data))
        assert store.fingerprints() == {"m-1": data}
        found = Reupload("m-1", "m-0", ("audio fingerprint",), 0.03, 0, 9000)
        store.save_reuploads([found])
        assert store.reuploads() == {"m-1": found}
        store.forget_missing(set())
        assert store.fingerprints() == {}


def test_coordination_signals_scan_without_fpcalc_warns_and_goes_on(tmp_path, monkeypatch):
    from pipelines import fingerprint_stage

    monkeypatch.setattr(fingerprint_stage, "fpcalc_path", lambda: None)
    media = Media("m-1", "/x/a.mp4", "f" * 64, 9000)
    with Store(tmp_path / "c.db") as store:
        store.save_result(MediaResult(media, "a.mp4", "wb", (), (), (), (_unit(0, "m-1", "x", 0),)))
        matches, warnings = fingerprint_stage.fingerprint_matches(store, store.media_rows())
    assert matches == [] and warnings == [fingerprint_stage.NO_FPCALC]
    assert "transcript only" in warnings[0] and "libchromaprint-tools" in warnings[0]


def test_coordination_signals_findings_and_report_say_which_evidence_decided():
    rows = [
        MediaRow(
            Media("m-1", "/x/a.mp4", "a" * 64, 20_000, Source(published="2024-03-11")),
            "a.mp4",
            "ok",
            None,
            None,
            ("en",),
            "wb",
        ),
        MediaRow(Media("m-2", "/x/b.mkv", "b" * 64, 19_000), "b.mkv", "ok", None, "m-1", ("en",), "wb"),
    ]
    evidence = {"m-2": Reupload("m-2", "m-1", ("audio fingerprint", "transcript"), 0.0286, 990, 19_686, 1.0)}
    findings = build_findings(rows, [], {}, reuploads=evidence)
    by_id = {m["id"]: m for m in findings["media"]}
    assert by_id["m-1"]["duplicate_evidence"] is None
    assert by_id["m-2"]["duplicate_evidence"] == {
        "by": ["audio fingerprint", "transcript"],
        "bit_error_rate": 0.0286,
        "offset_s": 0.99,
        "overlap_s": 19.69,
        "transcript_share": 1.0,
    }
    html = render(findings)
    assert "audio fingerprint (2.9 % bits differ over 20 s, starting at +1.0 s of the original)" in html
    assert "transcript (100 % of sentences at the same times)" in html


def test_coordination_signals_demo_reupload_is_found_by_its_audio(demo_scan, truth):
    if fpcalc_path() is None:
        pytest.skip("fpcalc (libchromaprint-tools) not installed")
    findings = demo_scan["findings"]
    reuploads = [m for m in findings["media"] if m.get("duplicate_of")]
    expected = [m for m in truth["media"] if m["duplicate_of"]]
    assert len(reuploads) == len(expected) == 1
    evidence = reuploads[0]["duplicate_evidence"]
    assert "audio fingerprint" in evidence["by"] and evidence["bit_error_rate"] < 0.1
    assert all("subtitles" in tp["score_parts"] for tp in findings["talking_points"])
    assert "audio fingerprint (" in (demo_scan["out"] / "report.html").read_text(encoding="utf-8")
    with Store(demo_scan["out"] / "chorus.db") as store:  # every recording fingerprinted by its worker
        ok = {r.media.id for r in store.media_rows() if r.status == "ok" and r.media.has_audio}
        assert ok and ok <= {m for m, data in store.fingerprints().items() if data}


def test_coordination_signals_older_stores_get_their_fingerprints_filled_in(tmp_path):
    if fpcalc_path() is None:
        pytest.skip("fpcalc (libchromaprint-tools) not installed")
    from pipelines.fingerprint_stage import stored_fingerprints

    path = ROOT / "samples" / "videos" / "freevalley_voice_x7k2q_we_are_free.mp4"
    media = Media("m-1", str(path), "f" * 64, 22_000)
    with Store(tmp_path / "c.db") as store:  # as a scan before fingerprints left it
        store.save_result(MediaResult(media, path.name, "wb", (), (), (), (_unit(0, "m-1", "x", 0),)))
        prints, warnings = stored_fingerprints(store, store.media_rows())
        assert warnings == [] and len(prints["m-1"]) > 100
        assert len(store.fingerprints()["m-1"]) == 4 * len(prints["m-1"])  # kept for the next scan
