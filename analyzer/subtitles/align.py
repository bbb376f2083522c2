"""Align a subtitle track to the speech: a global offset, a linear drift, and a confidence.

Subtitles found beside a re-posted video were often timed for another cut or another
frame rate, so their clock is ``speech = drift * cue + offset`` away from the audio.
Two independent lines of evidence estimate that line:

* speech activity (the ffsubsync approach): where the audio has speech (Silero VAD,
  shipped in faster-whisper's wheel) and where a cue is shown become binary signals at
  10 ms; FFT cross-correlation gives the best offset for each candidate drift (the usual
  frame-rate ratios), and the drift whose best offset makes speech and cues agree most
  wins. It needs no language at all, so it works when Whisper cannot transcribe.
* text: where a cue's words are heard in the ASR words (same language), the cue's start
  and end pair with the words' times; a robust line through those pairs refines offset
  and drift to the precision of word timestamps.

The confidence in [0, 1] is the stronger of the two: the share of cues whose words are
heard on the fitted line, or how distinctly one offset makes the cues fall on speech
compared with every offset a second or more away. Cues are re-timed only above
``AlignOptions.min_confidence``: a wrong shift is worse than none.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np

from analyzer.records import Alignment, Cue, Segment, Word
from analyzer.similarity import normalise_text

SAMPLE_RATE = 16_000
# Frame-rate ratios that subtitles timed for one release meet on another (ffsubsync's
# set): 23.976 <-> 24 <-> 25 fps and the reverse, plus no drift at all.
FRAME_RATE_RATIOS: tuple[float, ...] = (
    1.0,
    25 / 23.976,
    23.976 / 25,
    25 / 24,
    24 / 25,
    24 / 23.976,
    23.976 / 24,
)


@dataclass(frozen=True)
class AlignOptions:
    """How to align; every default says why in a comment."""

    resolution_ms: int = 10  # activity frames; ffsubsync's default, finer than cue timing
    max_offset_ms: int = 60_000  # ffsubsync's default search range; beyond it is another cut
    ratios: tuple[float, ...] = FRAME_RATE_RATIOS
    # A drifted ratio must beat no drift by this much of the activity agreement (IoU),
    # since no drift is the common case; and a ratio is tried only when it moves the
    # track's last cue against its first by this much: hand-timed cues are often half a
    # second off, so a smaller drift cannot be told from timing noise.
    min_ratio_gain: float = 0.01
    min_drift_effect_ms: int = 1_000
    # Speech activity: Silero VAD with short pauses kept, so that gaps between sentences
    # (the structure the correlation locks onto) survive.
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 150
    vad_pad_ms: int = 30
    # Text: a cue's words are searched this far around where the coarse line puts it.
    text_radius_ms: int = 3_000
    min_word_match: float = 0.6  # share of a cue's words heard, in order, to pair it
    # A pair this far off the line is a wrong match, not timing noise: hand-timed cues are
    # often most of a second off their words (mp4parser's countdown SRT is).
    inlier_ms: int = 800
    # A free drift needs pairs spread over enough time; otherwise the slope is noise.
    min_pairs_for_drift: int = 6
    min_span_for_drift_ms: int = 20_000
    max_drift: float = 0.1  # |drift - 1| beyond this is not a frame-rate or speed change
    snap_ratio: float = 0.003  # a fitted drift this close to a frame-rate ratio becomes it
    # The activity peak counts as distinct when, at the best offset, this much more of
    # the cues' time has speech than at any offset a second or more away.
    distinct_margin: float = 0.25
    min_confidence: float = 0.5  # below this the cues keep their own times


@dataclass(frozen=True)
class _Line:
    drift: float
    offset_ms: float

    def at(self, ms: float) -> float:
        return self.drift * ms + self.offset_ms


@dataclass(frozen=True)
class _TimedToken:
    token: str
    start_ms: int
    end_ms: int


# ------------------------------------------------------------------ speech activity


def speech_activity(audio: np.ndarray, options: AlignOptions | None = None) -> list[tuple[int, int]]:
    """Spans (ms) where the audio has speech, from Silero VAD (16 kHz mono float32)."""
    options = options or AlignOptions()
    if audio.size == 0:
        return []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(
        threshold=options.vad_threshold,
        min_silence_duration_ms=options.vad_min_silence_ms,
        speech_pad_ms=options.vad_pad_ms,
    )
    spans = get_speech_timestamps(audio, vad, sampling_rate=SAMPLE_RATE)
    return [(s["start"] * 1000 // SAMPLE_RATE, s["end"] * 1000 // SAMPLE_RATE) for s in spans]


def _signal(spans: Sequence[tuple[float, float]], length: int, resolution_ms: int) -> np.ndarray:
    """A 0/1 float array over ``length`` frames, 1 where any span covers the frame."""
    marks = np.zeros(length + 1, dtype=np.int32)
    for start, end in spans:
        a = min(length, max(0, round(start / resolution_ms)))
        b = min(length, max(0, round(end / resolution_ms)))
        if b > a:
            marks[a] += 1
            marks[b] -= 1
    return (np.cumsum(marks[:-1]) > 0).astype(np.float64)


def _correlate(speech: np.ndarray, cues: np.ndarray) -> np.ndarray:
    """corr[lag] = sum_t speech[t + lag] * cues[t] for lag in [-(len(cues)-1), len(speech)-1].

    Returned in lag order, so index i is lag ``i - (len(cues) - 1)``.
    """
    n = len(speech) + len(cues) - 1
    size = 1 << max(1, (n - 1).bit_length())
    spectrum = np.fft.rfft(speech, size) * np.conj(np.fft.rfft(cues, size))
    full = np.fft.irfft(spectrum, size)
    return np.concatenate([full[size - (len(cues) - 1) :], full[: len(speech)]])


@dataclass(frozen=True)
class _ActivityFit:
    line: _Line
    iou: float  # speech and cue time agreeing, over their union, at the best offset


def _cue_spans(cues: Sequence[Cue], line: _Line) -> list[tuple[float, float]]:
    return [(line.at(c.start_ms), line.at(c.end_ms)) for c in cues]


def _iou(speech: np.ndarray, covered: np.ndarray) -> float:
    both = float(np.sum(speech * covered))
    union = float(np.sum(np.maximum(speech, covered)))
    return both / union if union else 0.0


def _activity_fit(
    cues: Sequence[Cue], speech: np.ndarray, options: AlignOptions
) -> tuple[_ActivityFit | None, list[_ActivityFit]]:
    """The best line per drift ratio from FFT cross-correlation, and the winner."""
    res = options.resolution_ms
    fits = []
    for ratio in _ratios(cues, options):
        cue_signal, origin = _cue_signal(cues, ratio, res)
        if not cue_signal.any():
            continue
        # ffsubsync's +-1 mapping: agreeing silence counts as much as agreeing speech.
        corr = _correlate(2 * speech - 1, 2 * cue_signal - 1)
        offsets = (np.arange(len(corr)) - (len(cue_signal) - 1)) * res - origin
        corr[np.abs(offsets) > options.max_offset_ms] = -np.inf
        line = _Line(ratio, float(offsets[int(np.argmax(corr))]))
        covered = _signal(_cue_spans(cues, line), len(speech), res)
        fits.append(_ActivityFit(line, _iou(speech, covered)))
    if not fits:
        return None, []
    plain = next((f for f in fits if f.line.drift == 1.0), fits[0])
    best = max(fits, key=lambda f: f.iou)
    if best.iou < plain.iou + options.min_ratio_gain:
        best = plain
    return best, fits


def _ratios(cues: Sequence[Cue], options: AlignOptions) -> list[float]:
    """The drift ratios worth trying: 1.0, and those that move the track enough to tell."""
    span = max(c.end_ms for c in cues) - min(c.start_ms for c in cues)
    return [r for r in options.ratios if r == 1.0 or abs(r - 1.0) * span >= options.min_drift_effect_ms]


def _cue_signal(cues: Sequence[Cue], drift: float, res: int) -> tuple[np.ndarray, float]:
    """Cue coverage scaled by ``drift``, from the first cue to the last, and its origin (ms).

    Cropping to the cues' own span keeps the correlation of a shifted track a shifted
    copy of the original's: the time before the first cue says nothing about speech.
    """
    scaled = [(drift * c.start_ms, drift * c.end_ms) for c in cues]
    origin = min(start for start, _ in scaled)
    length = math.ceil((max(end for _, end in scaled) - origin) / res) + 1
    return _signal([(a - origin, b - origin) for a, b in scaled], length, res), origin


def _activity_confidence(
    cues: Sequence[Cue], speech: np.ndarray, line: _Line, options: AlignOptions
) -> float:
    """How distinctly this line puts the cues on speech, against offsets >= 1 s away.

    The share of cue time on speech at the line's offset, times how far that share
    stands above the best share anywhere else (in units of ``distinct_margin``).
    """
    res = options.resolution_ms
    cue_signal, origin = _cue_signal(cues, line.drift, res)
    total = float(cue_signal.sum())
    if not total:
        return 0.0
    curve = _correlate(speech, cue_signal) / total
    index = round((line.offset_ms + origin) / res) + len(cue_signal) - 1
    if not 0 <= index < len(curve):
        return 0.0
    here = float(curve[max(0, index - 2) : index + 3].max())  # +-20 ms of rounding
    away = 1000 // res
    lags = np.arange(len(curve)) - index
    elsewhere = curve[(np.abs(lags) >= away) & (np.abs(lags) <= options.max_offset_ms // res)]
    second = float(elsewhere.max()) if elsewhere.size else 0.0
    distinct = min(1.0, max(0.0, (here - second) / options.distinct_margin))
    return max(0.0, min(1.0, here)) * distinct


# ------------------------------------------------------------------------------ text

_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


def _is_unspaced(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_UNSPACED_SCRIPTS)


@lru_cache(maxsize=4096)
def _number_words(number: str, language: str) -> tuple[str, ...]:
    """ "4" as words in ``language`` ("vier"), or the digits when num2words cannot say it."""
    from num2words import num2words

    try:
        spoken = num2words(int(number), lang=language)
    except (NotImplementedError, OverflowError, ValueError):
        return (number,)
    return tuple(normalise_text(spoken).split())


def tokens(text: str, language: str | None = None) -> list[str]:
    """Comparable words: case-folded, no punctuation; unspaced scripts split per character.

    Numbers written in digits become words in ``language`` when it is known: Whisper
    writes "4" where the subtitle says "vier", and the reverse happens too.
    """
    out: list[str] = []
    for word in normalise_text(text).split():
        if language and word.isascii() and word.isdigit() and len(word) <= 6:
            out.extend(_number_words(word, language))
        elif any(_is_unspaced(ch) for ch in word):
            out.extend(ch for ch in word if not ch.isspace())
        else:
            out.append(word)
    return out


def timed_tokens(segments: Sequence[Segment]) -> list[_TimedToken]:
    """ASR words as comparable tokens with times (a segment without words is spread evenly)."""
    out: list[_TimedToken] = []
    for segment in segments:
        words: Sequence[Word] = segment.words or (
            Word(segment.start_ms, segment.end_ms, segment.text, segment.confidence),
        )
        for word in words:
            pieces = tokens(word.text, segment.language)
            step = (word.end_ms - word.start_ms) / max(1, len(pieces))
            for k, piece in enumerate(pieces):
                start = word.start_ms + k * step
                out.append(_TimedToken(piece, int(start), int(start + step)))
    return out


def _cue_pairs(
    cue: Cue,
    cue_tokens: list[str],
    heard: Sequence[_TimedToken],
    starts: np.ndarray,
    line: _Line,
    options: AlignOptions,
) -> list[tuple[int, int]]:
    """(cue ms, speech ms) pairs for one cue whose words are heard near where the line puts it.

    A one-word cue pairs only when its word (of three letters or more) is heard exactly
    once in the window; a longer cue when most of its words are heard in order.
    """
    if not cue_tokens:
        return []
    lo = np.searchsorted(starts, line.at(cue.start_ms) - options.text_radius_ms)
    hi = np.searchsorted(starts, line.at(cue.end_ms) + options.text_radius_ms)
    window = heard[int(lo) : int(hi)]
    if len(cue_tokens) == 1:
        found = [t for t in window if t.token == cue_tokens[0]]
        if len(found) != 1 or len(cue_tokens[0]) < 3:
            return []
        return [(cue.start_ms, found[0].start_ms), (cue.end_ms, found[0].end_ms)]
    if not window:
        return []
    matcher = difflib.SequenceMatcher(None, cue_tokens, [t.token for t in window], autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    matched = sum(b.size for b in blocks)
    if matched < options.min_word_match * len(cue_tokens):
        return []
    pairs = []
    first, last = blocks[0], blocks[-1]
    # A cue's edges pair with speech only when its first/last words themselves were heard
    # inside a run of at least two words (a lone "the" is found anywhere).
    if first.a == 0 and (first.size >= 2 or len(blocks) == 1):
        pairs.append((cue.start_ms, window[first.b].start_ms))
    if last.a + last.size == len(cue_tokens) and (last.size >= 2 or len(blocks) == 1):
        pairs.append((cue.end_ms, window[last.b + last.size - 1].end_ms))
    return pairs


def _text_votes(
    cues: Sequence[Cue], cue_tokens: Sequence[list[str]], heard: Sequence[_TimedToken], options: AlignOptions
) -> list[_Line]:
    """Lines suggested by text alone: cues' first words found anywhere in the speech.

    Each occurrence of a cue's first two words (or its one uncommon word) votes for an
    offset per drift ratio; the offset that most cues vote for within ``inlier_ms``
    (at least three) is a candidate even when speech activity misleads (music under the
    voice, continuous talk, short words inside long cues).
    """
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, (a, b) in enumerate(pairwise(heard)):
        index[(a.token, b.token)].append(i)
    for i, single in enumerate(heard):
        index[(single.token,)].append(i)
    lines = []
    for ratio in _ratios(cues, options):
        votes: list[tuple[float, int]] = []
        for c, (cue, words) in enumerate(zip(cues, cue_tokens, strict=True)):
            key = tuple(words[:2])
            if not key or (len(key) == 1 and (len(key[0]) < 3 or len(index.get(key, ())) > 3)):
                continue  # a short or common lone word votes for every offset
            for i in index.get(key, ()):
                offset = heard[i].start_ms - ratio * cue.start_ms
                if abs(offset) <= options.max_offset_ms:
                    votes.append((offset, c))
        votes.sort()
        offsets = np.array([v[0] for v in votes])
        best: tuple[int, float] = (0, 0.0)
        for offset, _ in votes:
            lo = np.searchsorted(offsets, offset - options.inlier_ms)
            hi = np.searchsorted(offsets, offset + options.inlier_ms, side="right")
            near = votes[lo:hi]
            agreeing = len({c for _, c in near})
            if agreeing > best[0]:
                best = (agreeing, float(np.median([o for o, _ in near])))
        if best[0] >= 3:
            lines.append(_Line(ratio, best[1]))
    return lines


@dataclass(frozen=True)
class _TextFit:
    line: _Line
    inlier_cues: int
    pairs: int


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error."""
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    spread = float(np.sum((x - x.mean()) ** 2))
    if len(x) < 3 or spread == 0:
        return float(slope), math.inf
    return float(slope), math.sqrt(float(np.sum(residuals**2)) / (len(x) - 2) / spread)


def _robust_line(
    pairs: Sequence[tuple[int, int]], start: _Line, cues: Sequence[Cue], options: AlignOptions
) -> tuple[_Line, int]:
    """A line through the pairs, dropping pairs off it by more than ``inlier_ms``.

    The drift is fitted only when pairs span enough time; a fitted drift close to a
    frame-rate ratio snaps to it, and the offset is then the median residual.
    """
    ratios = _ratios(cues, options)
    x = np.array([p[0] for p in pairs], dtype=np.float64)
    y = np.array([p[1] for p in pairs], dtype=np.float64)
    line = start
    keep = np.abs(y - (line.drift * x + line.offset_ms)) <= options.inlier_ms * 2
    for _ in range(4):
        if keep.sum() == 0:
            return line, 0
        drift = line.drift
        span = float(x[keep].max() - x[keep].min())
        if keep.sum() >= options.min_pairs_for_drift and span >= options.min_span_for_drift_ms:
            slope, error = _slope(x[keep], y[keep])
            if abs(slope - 1.0) <= options.max_drift:
                # A slope that noise could explain (three standard errors) is the nearest
                # usual ratio, 1.0 included: eight pairs over 20 s do not prove a 0.5 % drift.
                tolerance = max(options.snap_ratio, 3 * error)
                near = [r for r in ratios if abs(r - slope) <= tolerance]
                drift = (1.0 if 1.0 in near else min(near, key=lambda r: abs(r - slope))) if near else slope
        offset = float(np.median(y[keep] - drift * x[keep]))
        line = _Line(drift, offset)
        new_keep = np.abs(y - (line.drift * x + line.offset_ms)) <= options.inlier_ms
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return line, int(keep.sum())


def _text_fit(
    cues: Sequence[Cue],
    cue_tokens: Sequence[list[str]],
    heard: Sequence[_TimedToken],
    start: _Line,
    options: AlignOptions,
) -> _TextFit:
    starts = np.array([t.start_ms for t in heard], dtype=np.float64)
    by_cue = [_cue_pairs(c, w, heard, starts, start, options) for c, w in zip(cues, cue_tokens, strict=True)]
    pairs = [p for found in by_cue for p in found]
    if not pairs:
        return _TextFit(start, 0, 0)
    line, kept = _robust_line(pairs, start, cues, options)
    inlier_cues = sum(
        1
        for found in by_cue
        if any(abs(speech - line.at(cue_ms)) <= options.inlier_ms for cue_ms, speech in found)
    )
    return _TextFit(line, inlier_cues, kept)


# ------------------------------------------------------------------------- alignment


def align_track(
    cues: Sequence[Cue],
    speech: Sequence[tuple[int, int]],
    segments: Sequence[Segment] = (),
    duration_ms: int | None = None,
    options: AlignOptions | None = None,
) -> Alignment:
    """The line mapping one track's cue times onto the speech, with its confidence.

    Args:
        cues: one track's cues (any order).
        speech: spans (ms) with speech, e.g. from :func:`speech_activity`.
        segments: ASR segments with word timestamps, for the text refinement.
        duration_ms: the media's length; defaults to the end of speech or cues.
        options: search ranges and thresholds.
    """
    options = options or AlignOptions()
    if not cues:
        raise ValueError("align_track needs at least one cue")
    media_id, track = cues[0].media_id, cues[0].track
    none = Alignment(media_id, track, 0, 1.0, 0.0, 0)
    ends = [e for _, e in speech] + [c.end_ms for c in cues]
    length_ms = max(duration_ms or 0, max(ends, default=0)) + options.max_offset_ms // 10
    res = options.resolution_ms
    speech_signal = _signal(speech, math.ceil(length_ms / res) + 1, res)
    activity = None
    if speech_signal.any():
        activity, _ = _activity_fit(cues, speech_signal, options)

    heard = timed_tokens(segments)
    asr_language = Counter(s.language for s in segments).most_common(1)
    fallback = asr_language[0][0] if asr_language else None
    cue_tokens = [tokens(c.text, c.language or fallback) for c in cues]
    candidates = [activity.line] if activity else []
    if heard:
        candidates += _text_votes(cues, cue_tokens, heard, options)
    if not candidates:
        return none
    best_text = max(
        (_text_fit(cues, cue_tokens, heard, line, options) for line in candidates),
        key=lambda fit: (fit.inlier_cues, fit.pairs),
    )
    checkable = sum(1 for words in cue_tokens if words)
    text_confidence = 0.0
    if best_text.inlier_cues >= 3 and checkable:
        text_confidence = min(1.0, best_text.inlier_cues / checkable)

    if text_confidence > 0:
        line, method, pairs = best_text.line, "text", best_text.pairs
    elif activity is not None:
        line, method, pairs = activity.line, "activity", 0
    else:
        return none
    activity_confidence = (
        _activity_confidence(cues, speech_signal, line, options) if speech_signal.any() else 0.0
    )
    confidence = round(max(text_confidence, activity_confidence), 3)
    return Alignment(
        media_id,
        track,
        round(line.offset_ms),
        round(line.drift, 6),
        confidence,
        pairs,
        None,
        "text" if method == "text" else "activity",
        confidence >= options.min_confidence,
    )


def apply_alignment(cues: Sequence[Cue], alignment: Alignment) -> list[Cue]:
    """Cues re-timed by the alignment when it was applied; otherwise unchanged.

    Times never go below zero; the order of cues is kept.
    """
    if not alignment.applied:
        return list(cues)
    line = _Line(alignment.drift, alignment.offset_ms)
    out = []
    for cue in cues:
        if cue.track != alignment.track:
            out.append(cue)
            continue
        start = max(0, round(line.at(cue.start_ms)))
        end = max(start, round(line.at(cue.end_ms)))
        out.append(replace(cue, start_ms=start, end_ms=end))
    return out


def align_tracks(
    cues: Sequence[Cue],
    audio: np.ndarray | None,
    segments: Sequence[Segment],
    options: AlignOptions | None = None,
) -> tuple[list[Cue], list[Alignment]]:
    """Align every track among ``cues`` to the audio; cues come back re-timed where applied.

    The per-media stage calls this between ASR and units, so that subtitle units carry
    the speech's times. Speech activity is computed once for all tracks.
    """
    options = options or AlignOptions()
    if not cues or audio is None or audio.size == 0:
        return list(cues), []
    speech = speech_activity(audio, options)
    duration_ms = int(len(audio) * 1000 / SAMPLE_RATE)
    by_track: dict[str, list[Cue]] = defaultdict(list)
    for cue in cues:
        by_track[cue.track].append(cue)
    alignments = {
        track: align_track(track_cues, speech, segments, duration_ms, options)
        for track, track_cues in by_track.items()
    }
    aligned = []
    for track, track_cues in by_track.items():
        aligned.extend(apply_alignment(track_cues, alignments[track]))
    return aligned, list(alignments.values())
