from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from analyzer.errors import StoreError
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
    Word,
)
from analyzer.store import MediaResult, Store


def _result(media_id="m-abc"):
    media = Media(media_id, "/x/a.mp4", "f" * 64, 12_000, Source(channel="C", published="2024-03-11"))
    segment = Segment(media_id, 0, 900, "We are free.", "en", 0.9, 0.01, words=(Word(0, 200, "We", 0.9),))
    track = SubtitleTrack(media_id, "sidecar:a.en.srt", "en", "sidecar", "srt")
    cue = Cue(media_id, "sidecar:a.en.srt", 0, 900, "We are free.", "en")
    unit = Unit("u-1", media_id, 0, 900, "We are free.", "en", "asr", "asr")
    return MediaResult(media, "a.mp4", "whisper-base", (segment,), (track,), (cue,), (unit,), ("a note",))


def test_store_round_trips_a_media_result(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.save_result(_result())
        assert store.done("m-abc", "whisper-base") and not store.done("m-abc", "other-model")
        row = store.media_row("m-abc")
        assert (
            row is not None and row.status == "ok" and row.languages == ("en",) and row.notes == ("a note",)
        )
        assert store.segments("m-abc")[0].words == (Word(0, 200, "We", 0.9),)
        assert store.cues("m-abc")[0].text == "We are free."
        assert store.tracks("m-abc")[0][1] == 1
        assert store.units()[0].text == "We are free."


def test_store_failure_replaces_rows_and_keeps_reason(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.save_result(_result())
        store.save_failure("m-abc", "/x/a.mp4", "a.mp4", Source(), "a.mp4: truncated")
        row = store.media_row("m-abc")
        assert row is not None and row.status == "failed" and row.error == "a.mp4: truncated"
        assert store.units() == []


def test_store_caches_vectors_by_model(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.put_vectors("e5", {"h1": np.array([0.5, 0.5], dtype=np.float32)})
        assert np.allclose(store.cached_vectors("e5", ["h1", "h2"])["h1"], [0.5, 0.5])
        assert store.cached_vectors("other", ["h1"]) == {}


def test_store_talking_points_round_trip(tmp_path):
    result = _result()
    with Store(tmp_path / "c.db") as store:
        store.save_result(result)
        tp = TalkingPoint(
            "tp-0001",
            "We are free.",
            (Member(result.units[0], 0.97, "verbatim"),),
            0.8,
            ScoreParts(0.5, 0.9, 1.0, 0.5, 1.0),
            3,
            2,
            ("en",),
            "2024-03-11",
        )
        store.save_talking_points([tp])
        assert store.talking_points() == [tp]


def test_store_refuses_other_schema_and_non_sqlite(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema 99"):
        Store(path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store(junk)
    with pytest.raises(StoreError, match="chorus scan"):
        Store(tmp_path / "missing.db", create=False)
