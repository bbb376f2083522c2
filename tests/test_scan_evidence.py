"""Garbled ASR (Whisper guessing) must not link by meaning; its exact wording still may."""

from __future__ import annotations

import numpy as np

from analyzer.records import Media, Segment, Source, Unit
from analyzer.similarity import PairTable
from analyzer.store import MediaResult, Store
from pipelines.scan import drop_guessed_meaning, guessed_asr_units


def _save(store, media_id, confidence):
    unit = Unit(f"u-{media_id}", media_id, 0, 2000, "some sentence here", "fr", "asr", "asr")
    segment = Segment(media_id, 0, 2000, "some sentence here", "fr", confidence)
    media = Media(media_id, f"/x/{media_id}.mp4", media_id * 8, 2000, Source())
    store.save_result(MediaResult(media, f"{media_id}.mp4", "w", (segment,), (), (), (unit,)))
    return unit


def test_scan_evidence_guessed_asr_units_are_marked(tmp_path):
    with Store(tmp_path / "c.db") as store:
        units = [_save(store, "m-a", 0.9), _save(store, "m-b", 0.3)]
        subtitle = Unit("u-s", "m-b", 0, 2000, "a cue", "en", "subtitle", "sidecar:x.srt")
        assert guessed_asr_units(store, [*units, subtitle]).tolist() == [False, True, False]


def test_scan_evidence_drop_guessed_meaning_keeps_lexical_links():
    pairs = PairTable(
        np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([0.95, 0.9, 0.9]), np.array([0.0, 0.0, 0.8])
    )
    weak = np.array([False, True, False])
    kept = drop_guessed_meaning(pairs, weak)
    assert [(p.a, p.b) for p in kept] == [(0, 2), (1, 2)]
