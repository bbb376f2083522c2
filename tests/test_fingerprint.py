"""Audio fingerprints: one recording survives re-encodes and trims; other voices never match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyzer.fingerprint import (
    FingerprintError,
    audio_matches,
    bit_error_rate,
    fingerprint_audio,
    fpcalc_path,
    from_bytes,
    to_bytes,
)
from analyzer.media import SAMPLE_RATE, decode_audio

# Paths as tests/conftest.py has them (imported from it, `tests` can resolve to another
# package's tests folder installed in the venv).
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def shared(relative: str) -> Path:
    path = ROOT.parent / "shared" / "data" / relative
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


needs_fpcalc = pytest.mark.skipif(fpcalc_path() is None, reason="fpcalc (libchromaprint-tools) not installed")

ORIGINAL = SAMPLES / "videos/freevalley_voice_x7k2q_we_are_free.mp4"  # en-us, campaign A
REUPLOAD = SAMPLES / "videos/truthvalley_news_m4r7t_reupload.mkv"  # same recording, Opus in mkv
OTHER_VOICES = [  # the same script lines, other espeak voices
    SAMPLES / "videos/valleylife_93fj1_my_home.mkv",
    SAMPLES / "videos/realvalley_stories_q8z3m_truth.mp4",
    SAMPLES / "videos/mountain_truth_k2v9x_voices.webm",
]


def encode(audio: np.ndarray, path: Path, codec: str, rate: int, bit_rate: int) -> Path:
    """Write mono float audio at 16 kHz with PyAV in another codec, rate and container."""
    import av
    from av.audio.resampler import AudioResampler

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        resampler = AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def fingerprint_file(path: Path) -> np.ndarray:
    return fingerprint_audio(decode_audio(str(path), 0), SAMPLE_RATE)


@pytest.fixture(scope="module")
def constructed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The original, its real re-upload, three constructed copies and three other voices."""
    if fpcalc_path() is None:
        pytest.skip("fpcalc (libchromaprint-tools) not installed")
    work = tmp_path_factory.mktemp("fingerprints")
    audio = decode_audio(str(ORIGINAL), 0)
    prints = {"original": fingerprint_file(ORIGINAL), "reupload": fingerprint_file(REUPLOAD)}
    prints["mp3_64k_44khz"] = fingerprint_file(encode(audio, work / "a.mp3", "libmp3lame", 44100, 64000))
    trimmed = audio[SAMPLE_RATE:]  # the first second cut off, then Opus at 16 kbit/s in Ogg
    prints["trim_1s_opus_16k"] = fingerprint_file(encode(trimmed, work / "b.ogg", "libopus", 48000, 16000))
    quiet = audio[: -int(1.5 * SAMPLE_RATE)] * 0.5  # the end cut, half as loud, AAC 24k in mp4
    prints["cut_end_quiet_aac_24k"] = fingerprint_file(encode(quiet, work / "c.m4a", "aac", 22050, 24000))
    for path in OTHER_VOICES:
        prints[f"voice:{path.stem}"] = fingerprint_file(path)
    return prints


@needs_fpcalc
def test_fingerprint_copies_match_and_other_voices_do_not(constructed):
    found = {(m.a, m.b): m for m in audio_matches(constructed)}
    copies = ["original", "reupload", "mp3_64k_44khz", "trim_1s_opus_16k", "cut_end_quiet_aac_24k"]
    for i, a in enumerate(copies):
        for b in copies[i + 1 :]:
            assert tuple(sorted((a, b))) in found, (a, b)
    assert not any(a.startswith("voice:") or b.startswith("voice:") for a, b in found)
    assert len(found) == 10  # exactly the copies, pairwise


@needs_fpcalc
def test_fingerprint_trim_is_found_at_its_offset(constructed):
    match = next(m for m in audio_matches(constructed) if {m.a, m.b} == {"original", "trim_1s_opus_16k"})
    # trim_1s starts 1 s into the original: within one Chromaprint value (124 ms)
    offset = match.offset_ms if match.a == "original" else -match.offset_ms
    assert abs(offset - 1000) <= 130
    assert match.bit_error_rate < 0.1


@needs_fpcalc
def test_fingerprint_other_voices_disagree_in_a_third_of_their_bits_or_more(constructed):
    original = constructed["original"]
    for name, values in constructed.items():
        if name.startswith("voice:"):
            best = min(bit_error_rate(original, values, o)[0] for o in range(-20, 21))
            assert best > 0.3, name


@needs_fpcalc
def test_fingerprint_real_speech_survives_a_low_bitrate_mp3(tmp_path):
    audio = decode_audio(str(shared("audio/openai-whisper/jfk.flac")), 0)
    copy = encode(audio[int(0.5 * SAMPLE_RATE) :], tmp_path / "jfk.mp3", "libmp3lame", 22050, 32000)
    prints = {
        "jfk": fingerprint_file(shared("audio/openai-whisper/jfk.flac")),
        "copy": fingerprint_file(copy),
    }
    silence = {"a": np.zeros(10 * SAMPLE_RATE, np.float32), "b": np.zeros(12 * SAMPLE_RATE, np.float32)}
    prints.update({k: fingerprint_audio(v) for k, v in silence.items()})
    assert [(m.a, m.b) for m in audio_matches(prints)] == [("copy", "jfk")]  # silence never matches


@needs_fpcalc
def test_fingerprint_bytes_round_trip_and_short_audio_is_empty():
    values = fingerprint_file(ORIGINAL)
    assert values.dtype == np.uint32 and len(values) > 100
    assert np.array_equal(from_bytes(to_bytes(values)), values)
    assert len(fingerprint_audio(np.zeros(SAMPLE_RATE, np.float32))) == 0


def test_fingerprint_without_fpcalc_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("analyzer.fingerprint.shutil.which", lambda name: None)
    with pytest.raises(FingerprintError, match="libchromaprint-tools"):
        fingerprint_audio(np.zeros(SAMPLE_RATE * 5, np.float32))


def test_fingerprint_matching_scales_without_comparing_every_pair():
    """2,000 unrelated fingerprints plus one planted copy: only the copy is found."""
    rng = np.random.default_rng(5)
    prints = {
        f"m{i:04d}": rng.integers(0, 2**32, size=400, dtype=np.uint64).astype(np.uint32) for i in range(2000)
    }
    copy = prints["m0007"][30:].copy()
    flips = rng.random((len(copy), 32)) < 0.05  # 5 % of bits flipped, as a lossy re-encode does
    copy ^= (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    prints["copy"] = copy
    found = audio_matches(prints)
    assert [(m.a, m.b) for m in found] == [("copy", "m0007")]
    assert found[0].offset_ms == -round(30 * 1365 * 1000 / 11025)  # copy starts 30 values into m0007
