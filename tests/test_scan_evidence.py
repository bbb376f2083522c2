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


def _said(store, media_id, channel, pieces, published="2024-03-01"):
    """A medium whose ASR segments are ``pieces`` ((text, start_ms, end_ms), confident)."""
    from analyzer.units import units_from_segments

    segments = tuple(Segment(media_id, a, b, text, "en", 0.9) for text, a, b in pieces)
    source = Source(channel=channel, handle=f"@{channel}", published=published)
    media = Media(media_id, f"/x/{media_id}.mp4", media_id * 8, pieces[-1][2] + 500, source)
    units = tuple(units_from_segments(segments))
    store.save_result(MediaResult(media, f"{media_id}.mp4", "w", segments, (), (), units))


def test_scan_evidence_a_line_inside_unpunctuated_speech_joins_as_its_stretch(tmp_path):
    """Four channels say the line as a punctuated sentence; two more say it unpunctuated,
    its words run across two segments with a greeting before it and another sentence after
    (no pause inside a segment tells where it ends). The scan quotes the stretch that says
    the line, with its times, and keeps it in the store."""
    from pipelines.scan import ScanOptions, ScanSummary, corpus_stages

    line = "The new water plant brought clean water and jobs to every village in the district."
    others = [
        "My grandmother grows tomatoes on the balcony every summer.",
        "The football match was cancelled because of the heavy rain.",
        "I am learning to play the violin with an online teacher.",
        "Our neighbour repaired his old bicycle over the weekend.",
    ]
    with Store(tmp_path / "c.db") as store:
        for k, other in enumerate(others):
            _said(store, f"m-p{k}", f"voice{k}", [(line, 0, 5000), (other, 6000, 9000)])
        for k, tail in enumerate(["i think it will rain tomorrow", "my cat sleeps all day long"]):
            _said(
                store,
                f"m-u{k}",
                f"plain{k}",
                [
                    ("hello friends the new water plant brought clean water", 0, 4000),
                    (f"and jobs to every village in the district {tail}", 4000, 8000),
                ],
            )
        points = corpus_stages(store, ScanOptions(), None, ScanSummary())
        top = next(tp for tp in points if tp.label == line)
        quotes = {m.unit.media_id: m.unit for m in top.members}
        assert set(quotes) == {"m-p0", "m-p1", "m-p2", "m-p3", "m-u0", "m-u1"}
        for k in range(2):
            stretch = quotes[f"m-u{k}"]
            assert (
                stretch.text
                == "the new water plant brought clean water and jobs to every village in the district"
            )
            assert 1000 < stretch.start_ms < 2000 and 6000 < stretch.end_ms < 7000
        saved = next(tp for tp in store.talking_points() if tp.label == line)  # read back
        assert {m.unit for m in saved.members if m.unit.media_id.startswith("m-u")} == {
            quotes["m-u0"],
            quotes["m-u1"],
        }
