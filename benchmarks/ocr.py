"""OCR of burned-in subtitles: seconds of processing per second of video, and character error rate.

Baseline, in the same run: the brute-force reading of every sampled frame (same sampling,
same band, same engine, change detection off). The reference point outside this run is
videocr's reported ~3 minutes for a 20 s video (9 s of processing per second of video);
the goal is at least 10x faster than that (<= 0.9 s/s) at a CER under 5 % on clean
burned-in English and Chinese.

Videos are generated (benchmarks/ocr_media.py): 720x1280 vertical clips at 25 fps, white
outlined subtitles over a drifting gradient with a light square sweeping behind the text.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ocr.py [--seconds 20] [--fps 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ocr_media

from analyzer.subtitles.ocr import OcrOptions, get_engine, ocr_video

VIDEOCR_S_PER_S = 180 / 20  # videocr's README: about 3 minutes for a 20 s video


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of each generated video")
    parser.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    parser.add_argument("--size", default="720x1280", help="video size WxH")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    duration_ms = args.seconds * 1000
    # (language, engine, configured languages): auto-detection for en/zh, Uyghur configured.
    cases = [("en", "rapidocr", ()), ("zh", "rapidocr", ()), ("ug", "tesseract", ("ug",))]
    rows = []
    with tempfile.TemporaryDirectory(prefix="chorus-ocr-bench-") as folder:
        for language, engine, languages in cases:
            truth = ocr_media.script(language, duration_ms, seed=7)
            path = ocr_media.render_video(
                os.path.join(folder, f"{language}.mp4"), language, truth, duration_ms, size=(width, height)
            )
            get_engine(engine, languages)  # model loading is not per-video work
            for mode, detect in (("changed frames", True), ("every sampled frame", False)):
                options = OcrOptions(
                    fps=args.fps, change_detection=detect, engine=engine, languages=languages
                )
                started = time.perf_counter()
                _, cues, stats = ocr_video(path, "bench", options)
                seconds = time.perf_counter() - started
                cer, timing_ms, missed = ocr_media.score(
                    truth, [(c.start_ms, c.end_ms, c.text) for c in cues]
                )
                rows.append((language, engine, mode, seconds, stats, cer, timing_ms, missed, len(truth)))
    per_s = args.seconds
    print(f"{args.seconds} s videos, {width}x{height}, sampled at {args.fps:g} fps; CPUs: {os.cpu_count()}")
    header = (
        f"{'lang':4} {'engine':9} {'mode':20} {'s/s video':>9} {'vs brute':>8} {'vs videocr':>10} "
        f"{'read/sampled':>12} {'CER':>6} {'timing ms':>9} {'missed':>6}"
    )
    print(header)
    print("-" * len(header))
    brute = {(r[0], r[1]): r[3] for r in rows if r[2] == "every sampled frame"}
    for language, engine, mode, seconds, stats, cer, timing_ms, missed, n in rows:
        rate = seconds / per_s
        print(
            f"{language:4} {engine:9} {mode:20} {rate:9.3f} {brute[(language, engine)] / seconds:7.1f}x "
            f"{VIDEOCR_S_PER_S / rate:9.0f}x {stats.read:>5}/{stats.sampled:<6} {cer:6.1%} {timing_ms:9.0f} "
            f"{missed:>3}/{n}"
        )


if __name__ == "__main__":
    main()
