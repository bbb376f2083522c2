"""OCR of burned-in subtitles (generated videos) and of real bitmap subtitle streams."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer.errors import MediaError
from analyzer.records import SubtitleTrack
from analyzer.subtitles.embedded import embedded_tracks
from analyzer.subtitles.ocr import (
    OCR_TRACK,
    OcrOptions,
    changed,
    needs_ocr,
    ocr_bitmap_streams,
    ocr_video,
    readings_to_cues,
    text_signature,
)
from analyzer.subtitles.ocr_engines import OcrText

ROOT = Path(__file__).resolve().parents[1]
PGS = ROOT.parent / "shared" / "data" / "video" / "mkv" / "sample_with_pgs_subtitles.mkv"
SRT_MKV = ROOT.parent / "shared" / "data" / "video" / "mkv" / "sample_with_srt.mkv"


def _media():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ocr_media", ROOT / "benchmarks" / "ocr_media.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ocr_media"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "size", "max_cer"),
    [
        ("en", (360, 640), 0.05),
        ("zh", (360, 640), 0.05),
        # Tesseract's Uyghur needs larger text, and loses words where a light object
        # passes behind them (the generated background does that on purpose).
        ("ug", (540, 960), 0.3),
    ],
)
def test_ocr_burned_in_lines_are_read_and_timed(
    tmp_path: Path, language: str, size: tuple[int, int], max_cer: float
) -> None:
    media = _media()
    truth = media.script(language, 8000, seed=3)
    path = media.render_video(str(tmp_path / f"{language}.mp4"), language, truth, 8000, size=size)
    options = OcrOptions(fps=4.0, languages=(language,) if language == "ug" else ())
    track, cues, stats = ocr_video(path, "m", options)
    cer, timing_ms, missed = media.score(truth, [(c.start_ms, c.end_ms, c.text) for c in cues])
    assert missed == 0
    assert cer <= max_cer, (cer, [c.text for c in cues])
    assert timing_ms <= 1000 / options.fps  # half a period either side, on average
    assert len(cues) == len(truth)
    assert stats.read < stats.sampled  # change detection skipped unchanged frames
    assert track.track == OCR_TRACK and track.kind == "ocr" and track.language == language
    if language == "ug":  # not told the language: RapidOCR cannot read it, Tesseract can
        _, _, detected = ocr_video(path, "m", OcrOptions(fps=4.0))
        assert detected.engine.startswith("tesseract:")


def test_ocr_pgs_stream_is_read_with_its_timing() -> None:
    tracks, _ = embedded_tracks(str(PGS), "m")
    assert [t.readable for t in tracks] == [False]
    read, cues = ocr_bitmap_streams(str(PGS), tracks)
    assert read[0].readable and "OCR" in (read[0].note or "")
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [(0, 1240, "This is the first subtitle.")]


def test_ocr_text_streams_are_left_alone() -> None:
    tracks, _ = embedded_tracks(str(SRT_MKV), "m")
    read, cues = ocr_bitmap_streams(str(SRT_MKV), tracks)
    assert read == tracks and cues == []


def _band(text_x: int | None, background_shift: int) -> np.ndarray:
    """A moving gradient with a white, black-outlined bar "glyph row" at text_x."""
    yy, xx = np.mgrid[0:120, 0:400]
    image = np.stack([(xx + background_shift) % 200, yy + 60, np.full_like(xx, 120)], axis=2).astype(np.uint8)
    if text_x is not None:
        for x in range(text_x, text_x + 200, 12):  # strokes 4 px wide, outlined
            image[40:80, x - 2 : x + 6] = 0
            image[42:78, x : x + 4] = 255
    return image


def test_ocr_change_detection_ignores_background_but_sees_new_text() -> None:
    options = OcrOptions()
    shown = text_signature(_band(50, 0), options)
    assert not changed(shown, text_signature(_band(50, 37), options), options.change)
    assert changed(shown, text_signature(_band(None, 37), options), options.change)
    assert changed(shown, text_signature(_band(150, 0), options), options.change)
    assert not changed(text_signature(_band(None, 0), options), text_signature(_band(None, 90), options), 0.4)


def test_ocr_readings_merge_partial_repeats_into_one_cue() -> None:
    full, part = OcrText("We must stand together", 0.95), OcrText("We must stand", 0.9)
    other = OcrText("Thank you for watching", 0.97)
    readings = [(0, OcrText("", 0.0)), (500, full), (1000, part), (1500, full), (2000, other), (2500, other)]
    cues = readings_to_cues(readings, "m", OCR_TRACK, 500.0, OcrOptions())
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (250, 1750, "We must stand together"),
        (1750, 2750, "Thank you for watching"),
    ]


@pytest.mark.parametrize(
    ("mode", "readable", "speech", "probability", "expected"),
    [
        ("off", False, False, 0.0, False),
        ("on", True, True, 1.0, True),
        ("auto", True, False, 0.0, False),  # a text subtitle track already says it
        ("auto", False, True, 0.95, False),  # Whisper knows the language
        ("auto", False, True, 0.3, True),  # Whisper is guessing: a language it does not know
        ("auto", False, False, 0.0, True),  # no speech at all
    ],
)
def test_ocr_needs_ocr_by_mode(
    mode: str, readable: bool, speech: bool, probability: float, expected: bool
) -> None:
    tracks = [SubtitleTrack("m", "stream:2", "en", "embedded", "subrip", readable)]
    assert needs_ocr(mode, tracks, speech, probability) is expected


@pytest.mark.slow
def test_ocr_scan_burned_in_lines_become_talking_points(tmp_path: Path) -> None:
    """Silent clips with the same burned-in lines: the script is found from the picture alone."""
    import json

    from analyzer.media import discover
    from pipelines.scan import ScanOptions, scan

    media = _media()
    folder = tmp_path / "videos"
    for seed in (1, 2, 3):
        truth = media.script("en", 7000, seed=seed)
        media.render_video(str(folder / f"clip{seed}.mp4"), "en", truth, 7000, size=(360, 640))
    out = tmp_path / "out"
    summary = scan(discover(str(folder)), out, ScanOptions(ocr="auto"), scan_root=str(folder))
    assert summary.n_failed == 0
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    members = [m for tp in findings["talking_points"] for m in tp["members"]]
    assert members and {m["source"] for m in members} == {"ocr"}
    assert any(len({m["media_id"] for m in tp["members"]}) == 3 for tp in findings["talking_points"])


def test_ocr_scan_off_by_default_for_speech_with_known_language(demo_scan: dict) -> None:  # type: ignore[type-arg]
    """auto reads no picture where the speech is in a language Whisper knows (the samples)."""
    members = [m for tp in demo_scan["findings"]["talking_points"] for m in tp["members"]]
    assert members and all(m["source"] != "ocr" for m in members)


@pytest.mark.slow
def test_ocr_media_stage_gives_ocr_units_and_drops_the_stale_note() -> None:
    from analyzer.records import MediaInput
    from analyzer.transcribe import TranscribeOptions
    from pipelines.media_stages import MediaJob, process_media

    job = MediaJob(MediaInput(str(PGS), "pgs.mkv"), "m1", "x", TranscribeOptions(), 3600, ocr="auto")
    result = process_media(job)
    assert [(u.source, u.track, u.text) for u in result.units] == [
        ("ocr", "stream:2", "This is the first subtitle.")
    ]
    assert not any("not read" in note for note in result.notes)
    off = MediaJob(MediaInput(str(PGS), "pgs.mkv"), "m1", "x", TranscribeOptions(), 3600, ocr="off")
    with pytest.raises(MediaError, match="image subtitles, not read"):  # nothing else to compare
        process_media(off)
