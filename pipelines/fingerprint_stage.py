"""Corpus-stage audio fingerprints: fill in what older scans lack, then match them all.

Workers fingerprint each new media item while its decoded audio is at hand
(pipelines/media_stages.py). Media reused from a store written before fingerprints
existed have none: they are fingerprinted here once (decoded again, about as fast as
fpcalc itself) and stored, so the next scan reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analyzer.errors import MediaError
from analyzer.fingerprint import (
    INSTALL_HINT,
    AudioMatch,
    FingerprintError,
    FingerprintOptions,
    audio_matches,
    fingerprint_audio,
    fpcalc_path,
    from_bytes,
    to_bytes,
)
from analyzer.media import SAMPLE_RATE, decode_audio
from analyzer.store import MediaRow, Store

NO_FPCALC = (
    "fpcalc not found: re-uploads are found by transcript only, not by audio fingerprint; " + INSTALL_HINT
)


def stored_fingerprints(
    store: Store, rows: Sequence[MediaRow], max_duration_s: float = 0
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fingerprints of the ``ok`` media with audio (filled in where missing) and warnings.

    Without fpcalc, the fingerprints already stored are still used and the warning says
    what is lost; a media item that cannot be fingerprinted is skipped (its transcript
    can still show a re-upload).
    """
    stored = store.fingerprints()
    warnings: list[str] = []
    missing = [
        r
        for r in rows
        if r.status == "ok"
        and r.media.has_audio
        and r.media.id not in stored
        and not (r.notes and r.notes[0].startswith("byte-identical copy"))  # marked without audio
    ]
    if missing and fpcalc_path() is None:
        warnings.append(NO_FPCALC)
    elif missing:
        for row in missing:
            try:
                audio = decode_audio(row.media.path, int(max_duration_s * 1000))
                values = fingerprint_audio(audio, SAMPLE_RATE)
            except (MediaError, FingerprintError, OSError):
                continue
            data = to_bytes(values)
            store.save_fingerprint(row.media.id, data)
            stored[row.media.id] = data
    ok = {r.media.id for r in rows if r.status == "ok"}
    return {m: from_bytes(d) for m, d in stored.items() if m in ok and d}, warnings


def fingerprint_matches(
    store: Store,
    rows: Sequence[MediaRow],
    max_duration_s: float = 0,
    options: FingerprintOptions | None = None,
) -> tuple[list[AudioMatch], list[str]]:
    """Pairs of media that are one recording by their audio, and warnings for the scan."""
    prints, warnings = stored_fingerprints(store, rows, max_duration_s)
    return audio_matches(prints, options), warnings
