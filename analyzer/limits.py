"""Limits on what one media item may cost, and the error that names the limit it broke.

Chorus reads files that strangers made. A 40-hour livestream dump, a 30 GB file, a
subtitle with millions of cues or a file that makes a decoder spin forever must cost
their own item, never the batch: each limit below turns into a per-item error that says
which limit, by how much, and which `chorus scan` flag raises it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.errors import ChorusError, MediaError

KB, MB, GB = 1024, 1024**2, 1024**3


@dataclass(frozen=True)
class LimitOptions:
    """Per-item limits; 0 switches one off. Defaults fit real corpora with room to spare."""

    # Talks, interviews and streams are rarely longer; a longer file is usually a
    # recording left running, and would hold one worker for an hour or more.
    max_duration_s: float = 4 * 3600
    # A 4 h 1080p video is 4-8 GB; beyond this the hash alone reads for minutes.
    max_file_bytes: int = 20 * GB
    # A 4 h film has about 6,000 cues and rolling auto-captions about 20,000.
    max_cues_per_track: int = 50_000
    # Wall-clock time one item may take (decode, ASR, subtitles, units). Whisper base
    # runs at about 0.3x real time on 2 cores, so the longest allowed media (4 h) needs
    # about 75 min; more than twice that leaves room for a slower machine. Items run in
    # watched worker processes; None runs them in this process with no time limit (for
    # a debugger), 0 keeps the watched processes without a time limit.
    item_timeout_s: float | None = 3 * 3600


# The `chorus scan` flag for each limit, so an error can say how to raise it.
FLAGS = {
    "max_duration_s": "--max-duration",
    "max_file_bytes": "--max-file-size",
    "max_cues_per_track": "--max-cues",
    "item_timeout_s": "--timeout",
}


class LimitExceeded(MediaError):
    """One item went past one limit; the message names the limit and the flag to raise it."""

    def __init__(self, path: str, what: str, limit: str, flag: str) -> None:
        self.what = what
        self.limit = limit
        self.flag = flag
        super().__init__(path, f"{what}; the limit is {limit} (raise it with {flag})")

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        return (type(self), (self.path, self.what, self.limit, self.flag))


def format_bytes(size: float) -> str:
    """1536 -> "1.5 KB"; binary units, as `ls -lh` and file managers show them."""
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} bytes"


def format_duration(seconds: float) -> str:
    """5400 -> "1:30:00", 75 -> "1:15", 11 -> "11.0 s", 0.2 -> "0.2 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """ "20G", "500M", "64k", "1000" (bytes) -> bytes; units are binary (1K = 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise ChorusError(f"{text!r} is not a size; write it like 500M, 20G or 1000000 (bytes)")
    scale = {"": 1, "k": KB, "m": MB, "g": GB, "t": 1024 * GB}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def parse_duration(text: str) -> float:
    """ "90m", "4h", "30s", "3600" (seconds) -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ChorusError(f"{text!r} is not a duration; write it like 3600, 90m or 4h")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2).lower()]
    return float(match.group(1)) * scale
