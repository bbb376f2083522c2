from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from analyzer.errors import MediaError
from analyzer.media import decode_audio, discover, read_info_json, read_manifest
from tests.conftest import SAMPLES, shared


def test_media_discover_finds_media_with_sidecars_and_metadata(truth):
    found = {m.rel_path: m for m in discover(str(SAMPLES / "videos"))}
    assert set(found) == {m["file"].removeprefix("videos/") for m in truth["media"]}
    home = found["valleylife_93fj1_my_home.mkv"]
    assert home.source.channel == "Valley Life" and home.source.handle == "@valleylife_93fj1"
    assert home.source.published == "2024-03-12"
    assert home.source.url == "https://video.example/watch?v=q9akOGWj8Wb"
    subs = found["freevalley_voice_x7k2q_we_are_free.mp4"].subtitle_paths
    assert [p.rsplit("/", 1)[-1] for p in subs] == ["freevalley_voice_x7k2q_we_are_free.en.srt"]


def test_media_manifest_csv_and_jsonl_override_metadata(tmp_path):
    clip = SAMPLES / "videos" / "valleylife_93fj1_my_home.mkv"
    (tmp_path / "m.csv").write_text(f"path,channel,published\n{clip},Override,20240101\n", encoding="utf-8")
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": str(clip), "url": "https://x.example/v"}) + "\n")
    csv_item = read_manifest(str(tmp_path / "m.csv"))[0]
    assert csv_item.source.channel == "Override" and csv_item.source.published == "2024-01-01"
    jsonl_item = read_manifest(str(tmp_path / "m.jsonl"))[0]
    assert jsonl_item.source.url == "https://x.example/v" and jsonl_item.source.channel == "Valley Life"


def test_media_info_json_wrong_types_are_ignored_and_bad_json_named(tmp_path):
    good = tmp_path / "a.info.json"
    good.write_text(json.dumps({"channel": 42, "uploader": "U", "upload_date": "yesterday"}))
    source = read_info_json(str(good))
    assert source.channel == "U" and source.published is None
    bad = tmp_path / "b.info.json"
    bad.write_text("{not json")
    with pytest.raises(MediaError, match=r"b\.info\.json"):
        read_info_json(str(bad))


def test_media_decode_audio_to_16k_mono():
    audio = decode_audio(str(shared("audio/openai-whisper/jfk.flac")))
    assert audio.dtype == np.float32 and 10.5 < len(audio) / 16_000 < 11.5
    assert 0.01 < float(np.abs(audio).max()) <= 1.0


def test_media_decode_rejects_broken_and_silent_video(tmp_path):
    with pytest.raises(MediaError, match=r"broken_clip\.mp4"):
        decode_audio(str(SAMPLES / "videos" / "broken_clip.mp4"))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4"):
        decode_audio(str(empty))
    video_only = tmp_path / "video_only.mp4"
    _write_video_only(video_only)
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(str(video_only))


def _write_video_only(path):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(5, 1))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
