"""Subtitle agreement: cues that say something not spoken are flagged with both texts."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analyzer.records import Cue, Segment, Word
from analyzer.subtitles.agreement import AgreementOptions, plan_checks, subtitle_agreement
from tests.conftest import SAMPLES

OPTIONS = AgreementOptions(mismatch_threshold=0.83)


def _segment(start: int, end: int, text: str, confidence: float = 0.8) -> Segment:
    """A segment whose words share its span evenly."""
    words = text.split()
    step = (end - start) // len(words)
    timed = tuple(Word(start + i * step, start + (i + 1) * step, w, 0.9) for i, w in enumerate(words))
    return Segment("m", start, end, text, "en", confidence, 0.0, "asr", timed)


def _cue(start: int, end: int, text: str) -> Cue:
    return Cue("m", "sidecar:a.en.srt", start, end, text, "en")


class FakeEncoder:
    """Texts that share a first word get the same vector; others are orthogonal."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        keys = sorted({t.split()[0].lower().strip(",.") for t in texts})
        out = np.zeros((len(texts), len(keys)), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, keys.index(t.split()[0].lower().strip(",."))] = 1.0
        return out


SEGMENTS = [
    _segment(1000, 4000, "we are free to live our lives here"),
    _segment(5000, 8000, "nous sommes libres de vivre ici"),
    _segment(9000, 9500, "mumbled words", confidence=0.4),
]


def test_agreement_flags_only_what_is_not_said() -> None:
    cues = [
        _cue(1000, 4000, "We are free to live our lives here."),  # verbatim: lexical agreement
        _cue(5000, 8000, "Nous, we are free to live here."),  # a translation: same vector
        _cue(5000, 8000, "Bridges open next spring, they say."),  # not what is said
        _cue(12000, 14000, "Something said over silence."),  # nothing heard: not evidence
        _cue(9000, 9500, "Words we cannot check."),  # the ASR is not sure
        _cue(1000, 2000, "[MUSIC PLAYING]"),  # a sound caption
        _cue(2000, 3000, "Yes."),  # too short to judge
    ]
    encoder = FakeEncoder()
    mismatches, agreement = subtitle_agreement(cues, SEGMENTS, encoder, OPTIONS)
    assert [(m.subtitle_text, m.speech_text, m.similarity) for m in mismatches] == [
        ("Bridges open next spring, they say.", "nous sommes libres de vivre ici", 0.0),
    ]
    assert agreement == {"sidecar:a.en.srt": 0.6667}  # 2 of the 3 judged cues agree
    assert "We are free to live our lives here." not in encoder.seen  # agreed without a model


def test_agreement_no_transcript_checks_nothing() -> None:
    assert plan_checks([_cue(0, 1000, "Something said here.")], [], OPTIONS) == []
    assert subtitle_agreement([_cue(0, 1000, "Something said here.")], [], FakeEncoder(), OPTIONS) == ([], {})


@pytest.mark.slow
def test_agreement_across_languages_with_real_embeddings(embedder: Any) -> None:
    segments = [
        Segment("m", 0, 4000, "Nous sommes libres de vivre notre vie comme nous le voulons.", "fr", 0.8),
        Segment("m", 5000, 9000, "Ich bin hier geboren und aufgewachsen.", "de", 0.8),
    ]
    cues = [
        _cue(0, 4000, "We are free to live our lives the way we want."),
        _cue(5000, 9000, "The bridge will open to traffic next spring."),
    ]
    from pipelines.subtitle_stage import mismatch_threshold

    measured = AgreementOptions(mismatch_threshold=mismatch_threshold(embedder.name))  # the model's own
    mismatches, agreement = subtitle_agreement(cues, segments, embedder.encode, measured)
    assert [m.subtitle_text for m in mismatches] == ["The bridge will open to traffic next spring."]
    assert mismatches[0].speech_text == "Ich bin hier geboren und aufgewachsen."
    assert mismatches[0].similarity < measured.mismatch_threshold
    assert agreement == {"sidecar:a.en.srt": 0.5}


# The constructed example: real sample videos with subtitles that were tampered with.
FALSE_EN = "The new bridge will open to traffic next spring, said the minister."
FALSE_DE_TRACK = "Our football team won the regional cup after twenty years."


def _srt(cues: list[tuple[int, int, str]]) -> str:
    def stamp(ms: int) -> str:
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1))


def _utterances(truth: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return next(m for m in truth["media"] if m["file"].endswith(name))["utterances"]


@pytest.fixture(scope="module")
def tampered_scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two sample videos whose subtitles were edited: shifted by 2.5 s, one cue replaced each."""
    from analyzer.media import discover
    from pipelines.scan import scan

    truth = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("tampered")
    english = "freevalley_voice_x7k2q_we_are_free"
    german = "freies_tal_p3x8n_frei"
    shutil.copy(SAMPLES / "videos" / f"{english}.mp4", folder)
    shutil.copy(SAMPLES / "videos" / f"{german}.mkv", folder)
    late = 2500
    en_cues = [
        (round(u["start_s"] * 1000) + late, round(u["end_s"] * 1000) + late, u["text"])
        for u in _utterances(truth, f"{english}.mp4")
    ]
    en_cues[3] = (en_cues[3][0], en_cues[3][1], FALSE_EN)
    (folder / f"{english}.en.srt").write_text(_srt(en_cues), encoding="utf-8")
    de_cues = [
        (round(u["start_s"] * 1000), round(u["end_s"] * 1000), u["text_en"])
        for u in _utterances(truth, f"{german}.mkv")
    ]
    de_cues[2] = (de_cues[2][0], de_cues[2][1], FALSE_DE_TRACK)
    (folder / f"{german}.en.srt").write_text(_srt(de_cues), encoding="utf-8")
    out = folder / "out"
    scan(discover(str(folder)), out, scan_root=str(folder))
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return {"findings": findings, "db": out / "chorus.db", "english": english, "german": german}


def _media(findings: dict[str, Any], stem: str) -> dict[str, Any]:
    return next(m for m in findings["media"] if Path(m["path"]).stem == stem)


@pytest.mark.slow
def test_agreement_flags_tampered_cues_in_findings_and_store(tampered_scan: dict[str, Any]) -> None:
    findings = tampered_scan["findings"]
    english = _media(findings, tampered_scan["english"])
    german = _media(findings, tampered_scan["german"])
    assert [m["subtitle_text"] for m in english["subtitle_mismatches"]] == [FALSE_EN]
    assert [m["subtitle_text"] for m in german["subtitle_mismatches"]] == [FALSE_DE_TRACK]
    flagged = english["subtitle_mismatches"][0]
    assert "foreign media" in flagged["speech_text"].lower()  # what was said instead
    from pipelines.subtitle_stage import mismatch_threshold

    assert flagged["similarity"] < mismatch_threshold("multilingual-e5-small")
    assert flagged["track"] == f"sidecar:{tampered_scan['english']}.en.srt"
    with sqlite3.connect(tampered_scan["db"]) as db:
        rows = db.execute(
            "SELECT subtitle_text, speech_text FROM subtitle_mismatches ORDER BY subtitle_text"
        ).fetchall()
    assert [r[0] for r in rows] == [FALSE_DE_TRACK, FALSE_EN]
    assert all(r[1] for r in rows)


@pytest.mark.slow
def test_agreement_scan_aligns_late_subtitles(tampered_scan: dict[str, Any]) -> None:
    english = _media(tampered_scan["findings"], tampered_scan["english"])
    (alignment,) = english["subtitle_alignments"]
    assert alignment["applied"]
    # truth.json times each utterance's slot, lead-in silence included; Whisper times the
    # words, and the cues land on the words.
    assert alignment["offset_s"] == pytest.approx(-2.5, abs=0.5)
    assert alignment["drift"] == 1.0
    assert alignment["agreement"] == pytest.approx(0.8)  # 4 of 5 cues say what is said
    german = _media(tampered_scan["findings"], tampered_scan["german"])
    assert german["subtitle_alignments"][0]["agreement"] == pytest.approx(0.75)
    assert tampered_scan["findings"]["subtitle_copies"] == []
