"""Videos with burned-in subtitles over moving backgrounds, for the OCR tests and benchmark.

Text is drawn with Pillow (HarfBuzz shaping through libraqm, so Uyghur's Arabic script
joins correctly) in Debian's Noto fonts, white with a black outline like most burned-in
subtitles, and the frames are encoded with PyAV. The cue list is the ground truth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

FONTS = {
    "en": "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "zh": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "ug": "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
}

LINES = {
    "en": [
        "We must stand together for a better future",
        "Our country has achieved great progress",
        "Everyone here lives a happy life",
        "The people welcome these changes",
        "Nobody forced me to say this",
        "Thank you for watching our story",
    ],
    "zh": [
        "我们要团结一致共同建设美好家园",
        "我们的国家取得了伟大的进步",
        "这里的每个人都过着幸福的生活",
        "人民欢迎这些变化",
        "没有人强迫我说这些话",
        "感谢大家观看我们的故事",
    ],
    "ug": [
        "بىز بىرلىكتە گۈزەل ماكان قۇرىمىز",
        "دۆلىتىمىز زور تەرەققىيات قولغا كەلتۈردى",
        "بۇ يەردىكى ھەممە ئادەم بەختلىك ياشايدۇ",
        "خەلق بۇ ئۆزگىرىشلەرنى قارشى ئالىدۇ",
        "ھېچكىم مېنى بۇ گەپنى قىلىشقا مەجبۇرلىمىدى",
        "كۆرگىنىڭىزگە رەھمەت",
    ],
}


@dataclass(frozen=True)
class TrueCue:
    start_ms: int
    end_ms: int
    text: str


def script(language: str, duration_ms: int, seed: int = 0) -> list[TrueCue]:
    """Lines shown one after another with short gaps, at uneven (seeded) times."""
    rng = np.random.default_rng(seed)
    cues, t, i = [], 300 + int(rng.integers(0, 400)), 0
    lines = LINES[language]
    while t + 1500 < duration_ms:
        length = int(rng.integers(1800, 3200))
        end = min(t + length, duration_ms - 200)
        cues.append(TrueCue(t, end, lines[i % len(lines)]))
        t = end + int(rng.integers(300, 900))
        i += 1
    return cues


def _background(t_s: float, width: int, height: int, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A drifting colour gradient with a light square sweeping across the subtitle band."""
    yy, xx = grid
    phase = t_s * 2.0
    r = 110 + 70 * np.sin(xx / 90 + phase)
    g = 100 + 60 * np.sin(yy / 120 - phase * 0.7)
    b = 120 + 60 * np.sin((xx + yy) / 150 + phase * 1.3)
    frame = np.stack([r, g, b], axis=2).astype(np.uint8)
    size = width // 5
    x = int((t_s * width / 3) % (width + size)) - size
    y = int(height * 0.8)
    frame[max(0, y) : y + size, max(0, x) : max(0, x + size)] = (225, 215, 190)
    return frame


def render_video(
    path: str,
    language: str,
    cues: list[TrueCue],
    duration_ms: int,
    size: tuple[int, int] = (540, 960),
    fps: int = 25,
) -> str:
    """Encode an H.264 video of ``duration_ms`` with ``cues`` burned into the bottom band."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    overlays = []
    for cue in cues:
        font = ImageFont.truetype(FONTS[language], max(18, width // 20))
        while font.getlength(cue.text) > width * 0.92 and font.size > 12:
            font = ImageFont.truetype(FONTS[language], font.size - 2)
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        draw.text(
            (width // 2, int(height * 0.86)),
            cue.text,
            font=font,
            fill=(255, 255, 255, 255),
            anchor="mm",
            stroke_width=max(2, width // 240),
            stroke_fill=(0, 0, 0, 255),
        )
        overlays.append(layer)
    grid = np.mgrid[0:height, 0:width].astype(np.float32)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for n in range(duration_ms * fps // 1000):
            t_ms = n * 1000 / fps
            frame = Image.fromarray(_background(t_ms / 1000, width, height, (grid[0], grid[1])))
            for cue, layer in zip(cues, overlays, strict=True):
                if cue.start_ms <= t_ms < cue.end_ms:
                    frame.paste(layer, (0, 0), layer)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance over the reference length, spaces ignored."""
    ref = [ch for ch in reference if not ch.isspace()]
    hyp = [ch for ch in hypothesis if not ch.isspace()]
    previous = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        current = [i]
        for j, hc in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (rc != hc)))
        previous = current
    return previous[-1] / max(1, len(ref))


def score(truth: list[TrueCue], found: list[tuple[int, int, str]]) -> tuple[float, float, int]:
    """(CER over all true lines, mean |start|+|end| error in ms per matched line / 2, lines missed).

    Each true line is matched with the found cue that overlaps it most; a line with no
    overlapping cue counts as fully wrong (CER 1).
    """
    errors, timing, missed, chars = 0.0, [], 0, 0
    for cue in truth:
        overlaps = [(min(cue.end_ms, e) - max(cue.start_ms, s), s, e, text) for s, e, text in found]
        overlaps = [o for o in overlaps if o[0] > 0]
        n = len([ch for ch in cue.text if not ch.isspace()])
        chars += n
        if not overlaps:
            missed += 1
            errors += n
            continue
        _, s, e, text = max(overlaps)
        errors += cer(cue.text, text) * n
        timing.append((abs(s - cue.start_ms) + abs(e - cue.end_ms)) / 2)
    return errors / max(1, chars), float(np.mean(timing)) if timing else float("inf"), missed
