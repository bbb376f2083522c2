"""OCR engines behind one small interface: an image in, its text and a confidence out.

RapidOCR (PP-OCRv4 detection + recognition, ONNX models inside its wheel, so it runs
offline) reads Chinese and Latin script well and fast; Tesseract (Debian's tesseract-ocr
with its language packs) reads the other scripts, Uyghur's Arabic script among them.
Engines are chosen by language through ENGINES and ``engine_for``; heavy imports happen
when an engine is first built, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from analyzer.errors import ChorusError
from analyzer.language import normalise


class OcrError(ChorusError):
    """An OCR engine is missing or failed; the message says how to install it."""


@dataclass(frozen=True)
class OcrText:
    """What an engine read in one image: lines joined top to bottom, mean confidence in [0, 1]."""

    text: str
    confidence: float
    language: str | None = None  # set when the engine read with one known language


EMPTY = OcrText("", 0.0)


class OcrEngine(Protocol):
    """Reads the text in an RGB image (H x W x 3, uint8)."""

    name: str

    def read(self, image: np.ndarray) -> OcrText: ...


# Scripts RapidOCR's default PP-OCRv4 models read: Chinese and Latin-alphabet languages.
RAPIDOCR_LANGUAGES = frozenset(
    {"zh", "en", "fr", "de", "es", "it", "pt", "nl", "id", "ms", "tr", "pl", "sv", "da", "no", "fi"}
)
# ISO 639-1 (or -3 for those without one) -> Tesseract traineddata names.
TESSERACT_CODES = {
    "ug": "uig",
    "zh": "chi_sim",
    "en": "eng",
    "ru": "rus",
    "ar": "ara",
    "fa": "fas",
    "ur": "urd",
    "kk": "kaz",
    "ky": "kir",
    "uz": "uzb",
    "tr": "tur",
    "bo": "bod",
    "mn": "mon",
    "uk": "ukr",
    "fr": "fra",
    "de": "deu",
    "es": "spa",
}
TESSERACT_PSM = "11"  # sparse text: finds every word of a line over a busy background
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")


def _joined(lines: list[tuple[float, float, str, float]]) -> OcrText:
    """Lines (top, left, text, confidence) as one text: top to bottom, left to right."""
    if not lines:
        return EMPTY
    lines.sort(key=lambda line: (round(line[0] / 20), line[1]))
    text = " ".join(line[2].strip() for line in lines if line[2].strip())
    confidence = float(np.mean([line[3] for line in lines]))
    return OcrText(text, confidence)


class RapidOcrEngine:
    """PP-OCRv4 through RapidOCR: detection on the image's longest side scaled to 960 px.

    RapidOCR's default scales the *shortest* side up to 736 px, which turns a 720x200
    subtitle band into a 2650x736 image and costs seconds per call; subtitles are large
    text, so the longest side capped at 960 px reads them as well in a tenth of the time.
    The angle classifier is off: subtitles are upright.
    """

    name = "rapidocr"

    def __init__(self, threads: int = 0) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise OcrError("RapidOCR is not installed: pip install rapidocr-onnxruntime==1.4.4") from exc
        kwargs: dict[str, Any] = {
            "det_limit_type": "max",
            "det_limit_side_len": 960,
            "use_cls": False,
            "print_verbose": False,
        }
        if threads:
            kwargs["intra_op_num_threads"] = threads
        self._ocr = RapidOCR(**kwargs)

    def read(self, image: np.ndarray) -> OcrText:
        found, _ = self._ocr(np.ascontiguousarray(image[:, :, ::-1]), use_cls=False)  # it wants BGR
        lines = []
        for box, text, score in found or []:
            points = np.asarray(box, dtype=float)
            lines.append((float(points[:, 1].min()), float(points[:, 0].min()), str(text), float(score)))
        return _joined(lines)


def tesseract_binary() -> str:
    found = shutil.which("tesseract")
    if not found:
        raise OcrError("tesseract is not installed: apt-get install tesseract-ocr (make system-deps does it)")
    return found


def installed_tesseract_languages() -> frozenset[str]:
    """Traineddata names present on this machine (eng, uig, chi_sim, ...)."""
    names: set[str] = set()
    for folder in TESSDATA_DIRS:
        if os.path.isdir(folder):
            names.update(
                f.removesuffix(".traineddata") for f in os.listdir(folder) if f.endswith(".traineddata")
            )
    return frozenset(names)


class TesseractEngine:
    """Tesseract 5 through its command line, one call per image (it is only run on changed frames)."""

    name = "tesseract"

    def __init__(self, languages: tuple[str, ...]) -> None:
        self._binary = tesseract_binary()
        codes = [TESSERACT_CODES.get(normalise(lang) or "", lang) for lang in languages]
        installed = installed_tesseract_languages()
        missing = [code for code in codes if installed and code not in installed]
        if missing:
            packages = " ".join(f"tesseract-ocr-{code.replace('_', '-')}" for code in missing)
            raise OcrError(
                f"Tesseract has no language data for {', '.join(missing)}: apt-get install {packages}"
            )
        self._codes = "+".join(codes) or "eng"
        self._language = normalise(languages[0]) if len(languages) == 1 else None

    def read(self, image: np.ndarray) -> OcrText:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="chorus-ocr-") as folder:
            path = os.path.join(folder, "frame.png")
            Image.fromarray(_dark_on_light(image)).save(path)
            done = subprocess.run(
                [self._binary, path, "-", "-l", self._codes, "--psm", TESSERACT_PSM, "tsv"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        if done.returncode != 0:
            raise OcrError(f"tesseract failed: {done.stderr.strip()[-300:]}")
        return _tsv_text(done.stdout, self._language)


WORD_CONFIDENCE = 50  # Tesseract's per-word confidence (0-100) below which a word is noise


def _directional_min(gray: np.ndarray, radius: int, axis: int, forward: bool) -> np.ndarray:
    """The darkest pixel among the next ``radius`` pixels in one direction (255 past the edge)."""
    out = np.full_like(gray, 255)
    for shift in range(1, radius + 1):
        if axis == 1 and forward:
            out[:, :-shift] = np.minimum(out[:, :-shift], gray[:, shift:])
        elif axis == 1:
            out[:, shift:] = np.minimum(out[:, shift:], gray[:, :-shift])
        elif forward:
            out[:-shift] = np.minimum(out[:-shift], gray[shift:])
        else:
            out[shift:] = np.minimum(out[shift:], gray[:-shift])
    return out


def luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(np.int16)


def stroke_mask(gray: np.ndarray, bright: int = 180, contrast: int = 120, radius: int = 6) -> np.ndarray:
    """Glyph-stroke pixels: light, with much darker pixels on both sides within ``radius``.

    A stroke is a thin light run between dark edges (outline, shadow or background) left
    and right, or above and below; the edge of a light object behind the text has dark
    on one side only, and compression noise moves edges, not strokes.
    """
    limit = gray - contrast

    def dark(axis: int, forward: bool) -> np.ndarray:
        return _directional_min(gray, radius, axis, forward) <= limit

    strokes = (dark(1, True) & dark(1, False)) | (dark(0, True) & dark(0, False))
    return (gray >= bright) & strokes


def _dark_on_light(image: np.ndarray, light: int = 180) -> np.ndarray:
    """Light subtitle text as black on white, cropped to its rows: Tesseract's best input.

    Tesseract binarizes globally and gives up on colourful moving backgrounds; burned-in
    subtitles are light text, so the light pixels are the text. The glyph strokes
    (stroke_mask) say which rows hold it. Tesseract reads best with lines some 90 px
    high, so small text (a phone-sized frame) is scaled up.
    """
    from PIL import Image

    gray = luminance(image)
    rows = np.nonzero(stroke_mask(gray).sum(axis=1) >= 2)[0]
    if rows.size:
        pad = max(6, (rows[-1] - rows[0]) // 3)
        gray = gray[max(0, rows[0] - pad) : rows[-1] + pad + 1]
    picture = np.where(gray >= light, 0, 255).astype(np.uint8)
    scale = min(3.0, max(1.0, TEXT_ROWS_PX / max(1, picture.shape[0])))
    if scale > 1.0:
        size = (round(picture.shape[1] * scale), round(picture.shape[0] * scale))
        picture = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BICUBIC))
    return picture


# Height in px a cropped line of text is scaled up to for Tesseract.
TEXT_ROWS_PX = 90


def _tsv_text(tsv: str, language: str | None) -> OcrText:
    """Words of Tesseract's TSV output grouped into lines, confidences scaled to [0, 1]."""
    lines: dict[tuple[int, int, int], list[tuple[int, int, str, float]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip():
            continue
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if conf < WORD_CONFIDENCE:  # -1: not a word; low: specks and edges read as "0", "."
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))  # block, paragraph, line
        lines.setdefault(key, []).append((int(cols[7]), int(cols[6]), cols[11], conf / 100))
    joined = []
    for words in lines.values():
        text = " ".join(word[2] for word in words)
        joined.append(
            (
                float(min(w[0] for w in words)),
                float(min(w[1] for w in words)),
                text,
                float(np.mean([w[3] for w in words])),
            )
        )
    found = _joined(joined)
    return OcrText(found.text, found.confidence, language) if found.text else EMPTY


ENGINES: dict[str, Callable[[tuple[str, ...]], OcrEngine]] = {
    "rapidocr": lambda languages: RapidOcrEngine(),
    "tesseract": lambda languages: TesseractEngine(languages or ("en",)),
}


def engine_for(engine: str, languages: tuple[str, ...]) -> str:
    """The engine name for the configured languages: RapidOCR when it reads them all, else Tesseract."""
    if engine != "auto":
        if engine not in ENGINES:
            raise OcrError(f"unknown OCR engine {engine!r}; choose one of auto, {', '.join(ENGINES)}")
        return engine
    if all((normalise(lang) or "") in RAPIDOCR_LANGUAGES for lang in languages):
        return "rapidocr"
    return "tesseract"
