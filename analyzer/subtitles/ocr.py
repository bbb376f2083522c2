"""Read subtitles burned into the picture (and bitmap subtitle streams) with OCR, as cues.

Burned-in lines are sometimes the only record of what was said (speech in a language
Whisper does not know), and identical burned-in lines over different speakers are the
script itself. Reading every frame is what makes OCR tools slow (about 3 minutes for a
20 s clip); here frames are sampled at a few per second, only the bottom band is read
first (the whole frame only when the band never holds text), and a frame is read only
when a cheap signature of its light-on-dark text pixels has changed since the last frame
that was read. Readings that repeat are merged into one cue with a start and an end.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from analyzer.errors import MediaError
from analyzer.language import detect_text_language, normalise
from analyzer.records import Cue, SubtitleTrack
from analyzer.subtitles.ocr_engines import (
    EMPTY,
    ENGINES,
    TESSERACT_CODES,
    OcrEngine,
    OcrError,
    OcrText,
    engine_for,
    installed_tesseract_languages,
    luminance,
    stroke_mask,
)

OCR_TRACK = "ocr:video"  # the track id of text read from the picture
NO_VIDEO = "no video stream to read burned-in subtitles from"
# RapidOCR reads Latin and Chinese text it knows with confidence above this; below it, on
# the first text of a video, the other scripts' Tesseract languages get a try.
SURE = 0.85
LANGUAGE_MARGIN = 0.1
OTHER_SCRIPT_LANGUAGES = ("ug", "ar", "fa", "ur", "ru", "uk", "kk", "ky", "bo")


@dataclass(frozen=True)
class OcrOptions:
    """How frames are sampled, where text is looked for and when a frame is read again.

    Attributes:
        fps: frames sampled per second; cue start/end error is about half a sample period.
        band: the bottom fraction of the frame searched first (where subtitles sit).
        max_side: frames are scaled so their longest side is at most this (OCR cost).
        bright: luminance (0-255) from which a pixel may be text: subtitles are light
            text, usually outlined or shadowed in dark.
        contrast: how much darker the pixels on both sides of a light pixel must be for
            it to count as part of a glyph stroke.
        stroke: the widest half-stroke in px (at max_side) searched for those dark sides.
        change: relative change of the text-pixel signature that makes a frame "new".
        change_detection: False reads every sampled frame (the brute-force baseline).
        confirm: frames read again after a change while text is shown (the fullest
            reading of a line wins; one reading can lose a word to the background).
        min_confidence: readings below this engine confidence are treated as no text.
        same_text: similarity (0-1) above which two readings are the same line.
        engine: "auto" (by language), "rapidocr" or "tesseract".
        languages: ISO 639-1 codes of the text, when known; empty: detected.
    """

    fps: float = 2.0
    band: float = 0.34
    max_side: int = 1280
    bright: int = 180
    contrast: int = 120
    stroke: int = 6
    change: float = 0.4
    change_detection: bool = True
    confirm: int = 1
    min_confidence: float = 0.6
    same_text: float = 0.7
    engine: str = "auto"
    languages: tuple[str, ...] = ()


@dataclass
class OcrStats:
    """What one run cost: frames sampled and frames actually read."""

    sampled: int = 0
    read: int = 0
    region: str = "band"
    engine: str = ""
    notes: list[str] = field(default_factory=list)


_ENGINES: dict[tuple[str, tuple[str, ...]], OcrEngine] = {}


def get_engine(name: str, languages: tuple[str, ...]) -> OcrEngine:
    """An engine, built once per process (models load once per worker)."""
    key = (name, languages)
    if key not in _ENGINES:
        _ENGINES[key] = ENGINES[name](languages)
    return _ENGINES[key]


# ---------------------------------------------------------------- change detection


def text_signature(rgb: np.ndarray, options: OcrOptions, cell: int = 8) -> np.ndarray:
    """Share of glyph-stroke pixels per cell (stroke_mask): stays put while a line is shown,
    jumps when it changes, and ignores light objects moving behind it."""
    mask = stroke_mask(luminance(rgb), options.bright, options.contrast, options.stroke)
    h, w = (mask.shape[0] // cell) * cell, (mask.shape[1] // cell) * cell
    if h == 0 or w == 0:
        return mask.astype(np.float32)
    return mask[:h, :w].reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3)).astype(np.float32)


def has_text(signature: np.ndarray) -> bool:
    """Whether a signature holds more than a few stray stroke pixels."""
    return float(signature.sum()) >= 0.002 * signature.size


def changed(before: np.ndarray | None, after: np.ndarray, threshold: float) -> bool:
    """Whether the text pixels moved enough to need a new reading (no text both times: no)."""
    if before is None or before.shape != after.shape:
        return True
    if not has_text(before) and not has_text(after):  # a few stray light pixels: still no text
        return False
    mass = max(float(before.sum()), float(after.sum()))
    return float(np.abs(before - after).sum()) / mass > threshold


# ---------------------------------------------------------------- frames


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def sample_frames(path: str, fps: float, max_side: int) -> Iterator[tuple[int, np.ndarray]]:
    """(time in ms, RGB frame) at about ``fps`` frames a second, scaled down; decoded once.

    Raises:
        MediaError: the file cannot be opened or has no video stream.
    """
    import av

    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot open the container for OCR: {exc}") from exc
    with container:
        if not container.streams.video:
            raise MediaError(path, NO_VIDEO)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or 0)
        if rate >= 4 * fps:  # B-frames are never needed at a few samples a second: half the decoding
            stream.codec_context.skip_frame = "NONREF"
        period = 1000.0 / fps
        next_ms = 0.0
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t_ms = frame.time * 1000
                if t_ms + 1 < next_ms:
                    continue
                width, height = _scaled_size(frame.width, frame.height, max_side)
                yield round(t_ms), frame.to_ndarray(format="rgb24", width=width, height=height)
                next_ms = max(next_ms + period, t_ms + period / 2)
        except av.FFmpegError:
            return  # a truncated tail: what was decoded is still read


def _text_rows(image: np.ndarray, options: OcrOptions) -> np.ndarray:
    """The rows holding glyph strokes, generously padded: OCR cost grows with the area read.

    Without strokes (dark text, or none) the whole region is read.
    """
    mask = stroke_mask(luminance(image), options.bright, options.contrast, options.stroke)
    rows = np.nonzero(mask.sum(axis=1) >= 2)[0]
    if not rows.size:
        return image
    pad = max(16, int(rows[-1] - rows[0]) // 2)
    return image[max(0, rows[0] - pad) : rows[-1] + pad + 1]


def _region(frame: np.ndarray, region: str, band: float) -> np.ndarray:
    if region == "full":
        return frame
    return frame[int(frame.shape[0] * (1 - band)) :]


# ---------------------------------------------------------------- reading


@dataclass
class _Reader:
    """Reads images with the configured engine, switching script when RapidOCR cannot read it."""

    options: OcrOptions
    stats: OcrStats
    engine: OcrEngine | None = None
    languages: tuple[str, ...] = ()
    script_checked: bool = False

    def __post_init__(self) -> None:
        self.languages = tuple(normalise(lang) or lang for lang in self.options.languages)
        name = engine_for(self.options.engine, self.languages)
        self.engine = get_engine(name, self.languages if name == "tesseract" else ())
        self.stats.engine = name

    def read(self, image: np.ndarray) -> OcrText:
        assert self.engine is not None
        self.stats.read += 1
        found = self.engine.read(image)
        if not found.text or self.script_checked:
            return found if found.confidence >= self.options.min_confidence else EMPTY
        self.script_checked = True
        if self.options.languages or self.options.engine != "auto" or found.confidence >= SURE:
            return found if found.confidence >= self.options.min_confidence else EMPTY
        # RapidOCR is unsure of the first text it sees: perhaps a script it does not read.
        # Try Tesseract in the other installed scripts' languages once and keep the best.
        best, best_engine = found, self.engine
        installed = installed_tesseract_languages()
        for lang in OTHER_SCRIPT_LANGUAGES:
            if TESSERACT_CODES[lang] not in installed:
                continue
            try:
                engine = get_engine("tesseract", (lang,))
                tried = engine.read(image)
            except OcrError as exc:
                self.stats.notes.append(str(exc))
                break
            # Languages of one script read each other's text with similar confidence;
            # the earlier one (the order of OTHER_SCRIPT_LANGUAGES) keeps it unless beaten clearly.
            margin = LANGUAGE_MARGIN if best_engine is not self.engine else 0.0
            if tried.confidence > best.confidence + margin:
                best, best_engine = tried, engine
        if best_engine is not self.engine:
            self.engine = best_engine
            self.stats.engine = f"tesseract:{best.language}"
            self.stats.notes.append(
                f"RapidOCR could not read the text; read with Tesseract ({best.language})"
            )
        return best if best.confidence >= self.options.min_confidence else EMPTY


def _key(text: str) -> str:
    """Text compared without case, spaces or punctuation (OCR varies most in those)."""
    return "".join(ch for ch in text.casefold() if unicodedata.category(ch)[0] in "LN")


def similar(a: str, b: str) -> float:
    """Edit similarity of two readings; a partial reading of the same line counts as the same."""
    ka, kb = _key(a), _key(b)
    if not ka or not kb:
        return 0.0
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    shorter = min(len(ka), len(kb))
    contained = sum(block.size for block in matcher.get_matching_blocks()) / shorter if shorter >= 4 else 0.0
    return max(matcher.ratio(), contained)


def _usable(found: OcrText) -> bool:
    return len(_key(found.text)) >= 2


def readings_to_cues(
    readings: list[tuple[int, OcrText]], media_id: str, track: str, period_ms: float, options: OcrOptions
) -> list[Cue]:
    """Consecutive readings of the same line as one cue, timed half a sample period early.

    A line that appears between two samples is first seen at the later one, so the
    first sighting minus half a period is the unbiased start (error within +-period/2);
    likewise the end is the first sample without it, minus half a period. The cue's
    text is the fullest confident reading.
    """
    cues: list[Cue] = []
    group: list[tuple[int, OcrText]] = []

    def close(end_ms: float) -> None:
        if not group:
            return
        # Partial readings (a word lost to the background) are the common error: the
        # fullest confident reading wins, not the most frequent one.
        best = max(group, key=lambda r: len(_key(r[1].text)) * r[1].confidence)[1]
        start = max(0, round(group[0][0] - period_ms / 2))
        language = best.language or (options.languages[0] if len(options.languages) == 1 else None)
        cues.append(Cue(media_id, track, start, max(start + 1, round(end_ms)), best.text, language))
        group.clear()

    for t_ms, found in readings:
        if group and _usable(found) and similar(found.text, group[-1][1].text) >= options.same_text:
            group.append((t_ms, found))
            continue
        close(t_ms - period_ms / 2)
        if _usable(found):
            group.append((t_ms, found))
    if readings:
        close(readings[-1][0] + period_ms / 2)
    return cues


def _read_region(path: str, region: str, reader: _Reader, options: OcrOptions) -> list[tuple[int, OcrText]]:
    """One reading per sampled frame: read when the text changed (and ``confirm`` frames
    after), otherwise the last reading again."""
    readings: list[tuple[int, OcrText]] = []
    last_signature: np.ndarray | None = None
    last = EMPTY
    wanted = tries = 0  # readings still wanted of the current text, and reads left for them
    for t_ms, frame in sample_frames(path, options.fps, options.max_side):
        reader.stats.sampled += 1
        image = _region(frame, region, options.band)
        signature = text_signature(image, options)
        first = not options.change_detection or changed(last_signature, signature, options.change)
        if first:
            last_signature = signature
            wanted, tries = (1 + options.confirm, 2 + options.confirm) if has_text(signature) else (1, 1)
        if wanted > 0 and tries > 0:
            # A line is read until it has been read 1 + confirm times (one reading can
            # lose a word to the background) or its tries are spent; a failed second
            # look keeps the first reading.
            found = reader.read(_text_rows(image, options))
            tries -= 1
            if _usable(found) or not has_text(signature):
                wanted -= 1
            if first or _usable(found):
                last = found
        readings.append((t_ms, last))
    return readings


def ocr_video(
    path: str, media_id: str, options: OcrOptions | None = None
) -> tuple[SubtitleTrack, list[Cue], OcrStats]:
    """The burned-in text of a video as one OCR track and its cues.

    The bottom band is read first; when no line is found there, the whole frame is read.

    Raises:
        MediaError: the file cannot be opened or has no video stream.
        OcrError: the OCR engine is missing (the message says what to install).
    """
    options = options or OcrOptions()
    stats = OcrStats()
    reader = _Reader(options, stats)
    period = 1000.0 / options.fps
    cues = readings_to_cues(_read_region(path, "band", reader, options), media_id, OCR_TRACK, period, options)
    if not cues:
        stats.region = "full"
        cues = readings_to_cues(
            _read_region(path, "full", reader, options), media_id, OCR_TRACK, period, options
        )
    language = _track_language(cues, options)
    note = f"burned-in text read by OCR ({stats.engine}, {stats.read} of {stats.sampled} sampled frames read)"
    track = SubtitleTrack(media_id, OCR_TRACK, language, "ocr", stats.engine, True, note)
    return track, cues, stats


def text_language(text: str) -> str | None:
    """The language of OCR text: Han characters say Chinese; otherwise the text detector."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum("\u4e00" <= ch <= "\u9fff" for ch in letters) / len(letters) > 0.5:
        return "zh"
    guess = detect_text_language(text, fallback=None)
    return None if guess == "und" else guess


def _track_language(cues: list[Cue], options: OcrOptions) -> str | None:
    """Configured, else read by a one-language engine, else detected on the whole track's text.

    Single lines are too short for the text detector; the track's text is not.
    """
    if len(options.languages) == 1:
        return normalise(options.languages[0])
    counts = Counter(cue.language for cue in cues if cue.language)
    if counts:
        return counts.most_common(1)[0][0]
    return text_language(" ".join(cue.text for cue in cues))


# ---------------------------------------------------------------- bitmap subtitle streams


def _pgs_palette(data: bytes) -> dict[int, tuple[int, int]] | None:
    """Palette (index -> luminance, alpha) from a PGS packet's palette definition segment.

    FFmpeg's decoder keeps the palette to itself (PyAV exposes only the index plane), but
    the segments are simple: type (1 byte), size (2), payload; 0x14 is a palette of
    5-byte entries (index, Y, Cr, Cb, alpha) after a 2-byte header.
    """
    palette: dict[int, tuple[int, int]] = {}
    i = 0
    while i + 3 <= len(data):
        kind, size = data[i], int.from_bytes(data[i + 1 : i + 3], "big")
        payload = data[i + 3 : i + 3 + size]
        if kind == 0x14:
            for j in range(2, len(payload) - 4, 5):
                palette[payload[j]] = (payload[j + 1], payload[j + 4])
        i += 3 + size
    return palette or None


def _bitmap_image(
    rects: list[tuple[int, int, int, int, np.ndarray]], palette: dict[int, tuple[int, int]] | None
) -> np.ndarray:
    """The subtitle's rectangles composited over black as an RGB image, padded.

    With a palette each index shows its luminance times its opacity; without one (codecs
    whose palette is not in the packets) the most common index is taken as the
    background and every other index is drawn light.
    """
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    x1, y1 = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    pad = 16
    canvas = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), dtype=np.uint8)
    for x, y, w, h, indexes in rects:
        if palette:
            lut = np.zeros(256, dtype=np.uint8)
            for index, (luma, alpha) in palette.items():
                lut[index] = luma * alpha // 255
        else:
            background = int(np.bincount(indexes.ravel()).argmax())
            lut = np.full(256, 235, dtype=np.uint8)
            lut[background] = 0
        canvas[y - y0 + pad : y - y0 + pad + h, x - x0 + pad : x - x0 + pad + w] = lut[indexes]
    return np.repeat(canvas[:, :, None], 3, axis=2)


def _rects(subtitles: object) -> list[tuple[int, int, int, int, np.ndarray]]:
    from av.subtitles.subtitle import BitmapSubtitle

    found = []
    for rect in subtitles:  # type: ignore[attr-defined]
        if isinstance(rect, BitmapSubtitle) and rect.planes and rect.width and rect.height:
            plane = np.frombuffer(rect.planes[0], dtype=np.uint8)  # type: ignore[call-overload]
            if plane.size >= rect.width * rect.height:
                stride = plane.size // rect.height
                indexes = plane[: stride * rect.height].reshape(rect.height, stride)[:, : rect.width]
                found.append((rect.x, rect.y, rect.width, rect.height, indexes))
    return found


def ocr_bitmap_streams(
    path: str, tracks: list[SubtitleTrack], options: OcrOptions | None = None
) -> tuple[list[SubtitleTrack], list[Cue]]:
    """Read the image subtitle streams (PGS, VobSub, DVB) among ``tracks`` with OCR.

    Each event's bitmap is read once; an event with no rectangles (PGS "clear") ends the
    one before. Tracks that were read come back readable, with a note naming the engine;
    a stream that fails keeps its note and costs only itself.
    """
    import av

    from analyzer.subtitles.embedded import BITMAP_CODECS

    options = options or OcrOptions()
    wanted = {t.track: t for t in tracks if t.kind == "embedded" and t.codec in BITMAP_CODECS}
    if not wanted:
        return tracks, []
    out_tracks = {t.track: t for t in tracks}
    cues: list[Cue] = []
    with av.open(path) as container:
        streams = [s for s in container.streams.subtitles if f"stream:{s.index}" in wanted]
        indexes = [s.index for s in streams]  # streams are unusable once the container closes
        events: dict[int, list[tuple[int, int | None, OcrText | None]]] = {i: [] for i in indexes}
        errors: dict[int, str] = {}
        reader = _Reader(options, OcrStats())
        palettes: dict[int, dict[int, tuple[int, int]]] = {}
        for packet in container.demux(streams):
            index = packet.stream.index
            if packet.pts is None or packet.size == 0 or index in errors:
                continue
            try:
                palette = _pgs_palette(bytes(packet))
                if palette:
                    palettes[index] = palette
                subtitles = packet.stream.codec_context.decode2(packet)  # type: ignore[attr-defined]
                if subtitles is None:
                    continue
                time_base = packet.stream.time_base or Fraction(1, 1000)
                start = round(packet.pts * time_base * 1000) + subtitles.start_display_time
                end = round((packet.pts + packet.duration) * time_base * 1000) if packet.duration else None
                rects = _rects(subtitles)
                found = reader.read(_bitmap_image(rects, palettes.get(index))) if rects else None
                events[index].append((start, end, found))
            except Exception as exc:  # decoders and bindings raise many kinds of error
                errors[index] = f"could not read by OCR: {exc}"
    for index in indexes:
        key = f"stream:{index}"
        track = wanted[key]
        if index in errors:
            out_tracks[key] = replace(track, note=errors[index])
            continue
        found_cues = _bitmap_cues(events[index], track)
        cues.extend(found_cues)
        note = f"image subtitles read by OCR ({reader.stats.engine})"
        out_tracks[key] = replace(track, readable=True, note=note)
    return list(out_tracks.values()), cues


def _bitmap_cues(events: list[tuple[int, int | None, OcrText | None]], track: SubtitleTrack) -> list[Cue]:
    """Events as cues: an open event ends at the next event (a clear, or the next line)."""
    cues = []
    events = sorted(events, key=lambda e: e[0])
    for i, (start, end, found) in enumerate(events):
        if found is None or not _usable(found):
            continue
        if end is None:
            end = events[i + 1][0] if i + 1 < len(events) else start
        cues.append(Cue(track.media_id, track.track, start, max(end, start), found.text, found.language))
    return cues


# ---------------------------------------------------------------- when to read the picture

OCR_MODES = ("auto", "on", "off")
# Whisper's language detection below this probability: it does not know the language
# (Uyghur comes out as a guess among Arabic, Uzbek, Turkish...), so speech is no record.
UNSURE_LANGUAGE = 0.5


def needs_ocr(mode: str, tracks: list[SubtitleTrack], has_speech: bool, language_probability: float) -> bool:
    """Whether to read burned-in text: always ("on"), never ("off"), or for "auto" only
    when no readable text subtitle track exists and the speech cannot be trusted (none,
    or in a language Whisper is unsure of)."""
    if mode not in OCR_MODES:
        raise OcrError(f"unknown OCR mode {mode!r}; choose one of {', '.join(OCR_MODES)}")
    if mode != "auto":
        return mode == "on"
    if any(t.readable for t in tracks):
        return False
    return not has_speech or language_probability < UNSURE_LANGUAGE


def read_pictures(
    path: str, media_id: str, tracks: list[SubtitleTrack], burned_in: bool, options: OcrOptions | None = None
) -> tuple[list[SubtitleTrack], list[Cue], list[str]]:
    """Bitmap subtitle streams and (when ``burned_in``) the picture itself, read by OCR.

    Returns the tracks (bitmap streams now readable, plus the OCR track), the new cues
    and notes; a failure is a note, never a failed item: speech and other tracks remain.
    """
    notes: list[str] = []
    cues: list[Cue] = []
    try:
        tracks, cues = ocr_bitmap_streams(path, tracks, options)
    except (OcrError, MediaError) as exc:
        notes.append(f"image subtitles not read: {exc}")
    except Exception as exc:  # decoders and bindings raise many kinds of error
        notes.append(f"image subtitles not read: {type(exc).__name__}: {exc}")
    if burned_in:
        try:
            track, found, stats = ocr_video(path, media_id, options)
        except MediaError as exc:
            if exc.problem != NO_VIDEO:  # audio alone has no picture to read: nothing to say
                notes.append(f"burned-in text not read: {exc.problem}")
        except OcrError as exc:
            notes.append(f"burned-in text not read: {exc}")
        else:
            if found:
                tracks = [*tracks, track]
                cues.extend(found)
            notes.extend(stats.notes)
    return tracks, cues, notes


def is_ocr_track(track: SubtitleTrack) -> bool:
    """Whether the track's text came from OCR (the picture, or a readable image stream)."""
    from analyzer.subtitles.embedded import BITMAP_CODECS

    return track.kind == "ocr" or (track.readable and track.codec in BITMAP_CODECS)
