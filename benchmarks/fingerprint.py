"""Audio fingerprints: what they cost per media item and what they match.

Three tables, all in one process:

1. Cost per media item over samples/videos: decoding to 16 kHz (the per-media stage does
   it anyway: the baseline) vs fpcalc on that audio (the added cost), as a ratio.
2. Constructed copies of a sample recording (another codec and bitrate, a 1 s trim, the
   end cut at half volume, the real re-upload) and the same script read by other espeak
   voices: bit error rate at the best alignment and whether Chorus calls it one recording.
3. Matching cost for N synthetic fingerprints (2-minute media) with planted copies:
   seconds and what was found.

    .venv/bin/python benchmarks/fingerprint.py [--n 1000 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT / "samples" / "videos"
sys.path.insert(0, str(ROOT))


def cost_table() -> None:
    from analyzer.fingerprint import fingerprint_audio
    from analyzer.media import SAMPLE_RATE, decode_audio

    decode_s = fp_s = audio_s = 0.0
    n = 0
    for path in sorted(VIDEOS.iterdir()):
        if path.suffix not in (".mp4", ".mkv", ".webm", ".m4a"):
            continue
        started = time.perf_counter()
        try:
            audio = decode_audio(str(path), 0)
        except Exception:  # the broken sample
            continue
        decode_s += time.perf_counter() - started
        started = time.perf_counter()
        fingerprint_audio(audio, SAMPLE_RATE)
        fp_s += time.perf_counter() - started
        audio_s += len(audio) / SAMPLE_RATE
        n += 1
    print(f"1. cost per media item ({n} samples, {audio_s / n:.1f} s of audio each)")
    print(f"   {'step':34s} {'ms/item':>8s} {'ms per audio min':>17s} {'ratio':>6s}")
    for label, total in (("decode to 16 kHz (baseline)", decode_s), ("fpcalc on the decoded audio", fp_s)):
        print(
            f"   {label:34s} {total / n * 1000:8.0f} {total / audio_s * 60_000:17.0f} {total / decode_s:6.2f}"
        )


def constructed_table() -> None:
    from analyzer.fingerprint import FingerprintOptions, audio_matches, fingerprint_audio, match_pair
    from analyzer.media import SAMPLE_RATE, decode_audio
    from tests.test_fingerprint import encode

    original_path = VIDEOS / "freevalley_voice_x7k2q_we_are_free.mp4"
    audio = decode_audio(str(original_path), 0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = {
            "real re-upload (Opus 24k in mkv)": VIDEOS / "truthvalley_news_m4r7t_reupload.mkv",
            "MP3 64k at 44.1 kHz": encode(audio, work / "a.mp3", "libmp3lame", 44100, 64000),
            "MP3 16k at 22.05 kHz": encode(audio, work / "b.mp3", "libmp3lame", 22050, 16000),
            "first 1 s cut, Opus 16k in Ogg": encode(
                audio[SAMPLE_RATE:], work / "c.ogg", "libopus", 48000, 16000
            ),
            "last 1.5 s cut, half volume, AAC 24k": encode(
                audio[: -int(1.5 * SAMPLE_RATE)] * 0.5, work / "d.m4a", "aac", 22050, 24000
            ),
            "other voice: en-gb-x-rp": VIDEOS / "valleylife_93fj1_my_home.mkv",
            "other voice: en-gb-scotland+m3": VIDEOS / "realvalley_stories_q8z3m_truth.mp4",
            "other voice: en-029": VIDEOS / "mountain_truth_k2v9x_voices.webm",
            "other voice: fr-fr+f2 (translation)": VIDEOS / "vallee_libre_7hq4w_libres.mp4",
        }
        original = fingerprint_audio(audio, SAMPLE_RATE)
        prints = {name: fingerprint_audio(decode_audio(str(p), 0), SAMPLE_RATE) for name, p in cases.items()}
    options = FingerprintOptions()
    limit = options.max_bit_error_rate
    print(f"\n2. constructed cases against {original_path.name} (match: bit error rate <= {limit})")
    print(f"   {'case':40s} {'bit error rate':>15s} {'offset s':>9s} {'matched':>8s}")
    for name, values in prints.items():
        found = audio_matches({"original": original, "copy": values}, options)
        if found:
            ber, offset = found[0].bit_error_rate, found[0].offset_ms / 1000
        else:  # the best alignment anywhere, to show how far from a match
            ber, o, _ = min((match_pair(original, values, o) for o in range(-40, 41)), key=lambda t: t[0])
            offset = o * 1365 / 11025
        print(f"   {name:40s} {ber:15.3f} {offset:+9.2f} {'yes' if found else 'no':>8s}")


def scale_table(sizes: Sequence[int]) -> None:
    from analyzer.fingerprint import audio_matches

    print("\n3. matching cost (2-minute media: 970 values each; 1 in 50 is a copy with 5 % of bits flipped)")
    print(f"   {'media':>7s} {'seconds':>8s} {'copies planted':>15s} {'found':>6s} {'false':>6s}")
    for n in sizes:
        rng = np.random.default_rng(n)
        prints = {
            f"m{i:05d}": rng.integers(0, 2**32, size=970, dtype=np.uint64).astype(np.uint32) for i in range(n)
        }
        planted = set()
        for i in range(0, n, 50):
            source = prints[f"m{i:05d}"][rng.integers(0, 20) :].copy()
            flips = rng.random((len(source), 32)) < 0.05
            source ^= (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
            prints[f"c{i:05d}"] = source
            planted.add((f"c{i:05d}", f"m{i:05d}"))
        started = time.perf_counter()
        found = {(m.a, m.b) for m in audio_matches(prints)}
        took = time.perf_counter() - started
        hits, false = len(found & planted), len(found - planted)
        print(f"   {len(prints):7d} {took:8.1f} {len(planted):15d} {hits:6d} {false:6d}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[1000, 5000])
    args = parser.parse_args(argv)
    from analyzer.fingerprint import fpcalc_path

    if fpcalc_path() is None:
        print("fpcalc not installed (make system-deps)", file=sys.stderr)
        return 1
    cost_table()
    constructed_table()
    scale_table(args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
