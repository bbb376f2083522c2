"""Audio fingerprints (Chromaprint) and re-uploads of one recording found by them.

Why audio and not only text: a re-upload is the same recording, re-encoded, trimmed, with
another container or loudness. Its transcript may differ where Whisper hesitates (and a
recording with music or no clear speech has little transcript at all), while its
Chromaprint fingerprint stays within a few percent of bit errors. Different speakers
reading one script never do: their fingerprints disagree in about half their bits.

Fingerprints come from ``fpcalc`` (Debian's libchromaprint-tools), fed the 16 kHz mono
audio the per-media stage has already decoded, so every container PyAV reads works and
nothing is decoded twice. Without ``fpcalc`` Chorus still runs: re-uploads are then found
by transcript only, and the scan says so.

Matching follows AcoustID: align two raw fingerprints (one 32-bit value per 0.124 s) at
their best offset and count differing bits. Candidates are found without comparing every
pair: each value is indexed under four 24-bit keys (the value with one of its bytes
dropped, so a re-encode that flips bits within one byte still shares a key), pairs of
media vote for the offset at which their keys agree, and only pairs with a consistent
offset are verified bit by bit. (Measured: a key per dropped byte finds slightly more of
a degraded copy's values than a key per dropped nibble, at half the sorting.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analyzer.errors import ChorusError

# Chromaprint resamples to 11025 Hz and emits one value per 1365 samples (a third of its
# 4096-sample frame): 123.8 ms per value.
FRAME_MS = 1365 * 1000 / 11025
ALGORITHM = 2  # fpcalc's default (Chromaprint's TEST2), the one AcoustID uses
_KEY_MASKS = tuple(0xFFFFFFFF ^ (0xFF << (8 * k)) for k in range(4))  # one byte dropped each
INSTALL_HINT = "install Debian's libchromaprint-tools (`make system-deps`)"


class FingerprintError(ChorusError):
    """fpcalc is missing or could not fingerprint an audio signal."""


@dataclass(frozen=True)
class FingerprintOptions:
    """When two fingerprints are one recording.

    ``max_bit_error_rate``: unrelated audio aligned at any offset disagrees in about half
    its bits (independent bits; the best of many offsets over a short overlap still sits
    near 0.35), while a lossy re-encode at a low bitrate, a trim or a volume change stays
    near or below 0.1 (measured: benchmarks/fingerprint.py). 0.2 leaves a margin on both
    sides; over 40 values (1,280 bits) chance agreement that high is out of reach.
    """

    max_bit_error_rate: float = 0.2
    min_frames: int = 40  # about 5 s of overlap: shorter clips are not evidence either way
    min_cover: float = 0.8  # the overlap covers most of the shorter recording
    min_distinct: float = 0.5  # share of distinct values in the overlap: silence and tones are one value
    min_votes: int = 3  # keys agreeing at one offset before a pair is verified
    max_postings: int = 64  # a key in more media than this is too common to tell anything
    timeout_s: float = 120.0  # for one fpcalc run


@dataclass(frozen=True)
class AudioMatch:
    """Two media whose audio is one recording: ``b`` at ``offset_ms`` lines up with ``a``."""

    a: str
    b: str
    bit_error_rate: float
    offset_ms: int  # b's audio starts this much later in a (negative: earlier)
    overlap_ms: int


def fpcalc_path() -> str | None:
    """Where fpcalc is, or None when it is not installed."""
    return shutil.which("fpcalc")


def fingerprint_audio(
    audio: np.ndarray, sample_rate: int = 16000, options: FingerprintOptions | None = None
) -> np.ndarray:
    """The raw Chromaprint fingerprint (uint32 values) of mono float audio in [-1, 1].

    Empty for audio too short to fingerprint (under about 3 s).

    Raises:
        FingerprintError: fpcalc is not installed, fails, or runs past its time-out.
    """
    options = options or FingerprintOptions()
    binary = fpcalc_path()
    if binary is None:
        raise FingerprintError(f"fpcalc not found; {INSTALL_HINT}")
    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    command = [binary, "-raw", "-json", "-length", "0", "-algorithm", str(ALGORITHM)]
    command += ["-format", "s16le", "-rate", str(sample_rate), "-channels", "1", "-"]
    try:
        done = subprocess.run(command, input=pcm, capture_output=True, timeout=options.timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FingerprintError(f"fpcalc ran past {options.timeout_s:.0f} s") from exc
    except OSError as exc:
        raise FingerprintError(f"cannot run fpcalc ({exc.strerror or exc})") from exc
    try:
        values = json.loads(done.stdout.decode("utf-8"))["fingerprint"]
    except (ValueError, KeyError, TypeError):
        if len(audio) < 3 * sample_rate:
            return np.zeros(0, dtype=np.uint32)
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        problem = lines[-1] if lines else f"exit status {done.returncode}"
        raise FingerprintError(f"fpcalc failed: {problem}") from None
    return np.asarray(values, dtype=np.int64).astype(np.uint32)


def to_bytes(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<u4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def bit_error_rate(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int]:
    """(share of differing bits, overlap in values) with b[i] aligned to a[i + offset]."""
    lo, hi = max(0, offset), min(len(a), offset + len(b))
    if hi <= lo:
        return 1.0, 0
    diff = np.bitwise_xor(a[lo:hi], b[lo - offset : hi - offset])
    return float(np.bitwise_count(diff).mean()) / 32.0, hi - lo


def match_pair(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int, int]:
    """Best (bit error rate, offset, overlap) within a value of ``offset``.

    A trim rarely falls on a value boundary, so the voted offset is refined by one step.
    """
    best = (1.0, offset, 0)
    for o in (offset - 1, offset, offset + 1):
        ber, overlap = bit_error_rate(a, b, o)
        if overlap and ber < best[0]:
            best = (ber, o, overlap)
    return best


def _verified(
    a: np.ndarray, b: np.ndarray, offset: int, options: FingerprintOptions
) -> tuple[float, int, int] | None:
    ber, o, overlap = match_pair(a, b, offset)
    if overlap < options.min_frames or overlap < options.min_cover * min(len(a), len(b)):
        return None
    lo = max(0, o)
    if len(np.unique(a[lo : lo + overlap])) < options.min_distinct * overlap:
        return None  # silence or a steady tone: every such recording looks alike
    if ber > options.max_bit_error_rate:
        return None
    return ber, o, overlap


def audio_matches(
    fingerprints: Mapping[str, np.ndarray], options: FingerprintOptions | None = None
) -> list[AudioMatch]:
    """Pairs of media whose fingerprints are one recording (a < b by id).

    Cost: one sort per key kind (4) over all values, pairs only among media sharing a key that fewer
    than ``max_postings`` media have, and a bit comparison per voted pair, so thousands of
    media cost seconds, not the square of their number.
    """
    options = options or FingerprintOptions()
    ids = sorted(m for m, f in fingerprints.items() if len(f) >= options.min_frames)
    if len(ids) < 2:
        return []
    prints = [np.asarray(fingerprints[m], dtype=np.uint32) for m in ids]
    lengths = np.array([len(f) for f in prints], dtype=np.int64)
    owner = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
    position = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
    values = np.concatenate(prints).astype(np.int64)
    max_len = int(lengths.max())
    n_media = len(ids)

    votes: list[np.ndarray] = []
    for mask in _KEY_MASKS:
        keys = values & mask
        # Only keys that occur twice or more can pair media: find them with one plain sort,
        # then order that (usually small) remainder by key, media and position.
        ranked = np.argsort(keys)
        ties = keys[ranked[1:]] == keys[ranked[:-1]]
        shared = ranked[np.r_[ties, False] | np.r_[False, ties]]
        order = shared[np.lexsort((position[shared], owner[shared], keys[shared]))]
        k, m, p = keys[order], owner[order], position[order]
        # one posting per (key, media): its first position
        first = np.ones(len(k), dtype=bool)
        first[1:] = (k[1:] != k[:-1]) | (m[1:] != m[:-1])
        k, m, p = k[first], m[first], p[first]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sizes = np.diff(np.r_[starts, len(k)])
        useful = (sizes >= 2) & (sizes <= options.max_postings)
        for size in np.unique(sizes[useful]):
            group = starts[useful & (sizes == size)]
            idx = group[:, None] + np.arange(size)[None, :]
            left, right = np.triu_indices(int(size), 1)
            ma, mb = m[idx[:, left]].ravel(), m[idx[:, right]].ravel()
            pa, pb = p[idx[:, left]].ravel(), p[idx[:, right]].ravel()
            offset = pa - pb + max_len  # b aligned at a[offset]
            votes.append((ma * n_media + mb) * (2 * max_len + 1) + offset)
    if not votes:
        return []
    cell, count = np.unique(np.concatenate(votes), return_counts=True)
    pair, offset = cell // (2 * max_len + 1), cell % (2 * max_len + 1) - max_len
    # a trim between value boundaries splits the votes over two neighbouring offsets
    same_pair_next = np.r_[pair[1:] == pair[:-1], False] & np.r_[offset[1:] - offset[:-1] == 1, False]
    smoothed = count + np.where(same_pair_next, np.r_[count[1:], 0], 0)
    keep = smoothed >= options.min_votes
    pair, offset, smoothed = pair[keep], offset[keep], smoothed[keep]
    best: dict[int, int] = {}
    ranked = np.lexsort((offset, pair, -smoothed))  # most votes first
    for p_, o_ in zip(pair[ranked].tolist(), offset[ranked].tolist(), strict=True):
        best.setdefault(p_, o_)
    out: list[AudioMatch] = []
    for p_, o_ in sorted(best.items()):
        i, j = divmod(p_, n_media)
        found = _verified(prints[i], prints[j], o_, options)
        if found is None:
            continue
        ber, o, overlap = found
        out.append(AudioMatch(ids[i], ids[j], round(ber, 4), round(o * FRAME_MS), round(overlap * FRAME_MS)))
    return out
