"""SQLite store: the single source of truth for a scan, resumable and queryable.

Each media item's results are written in one transaction, so a crash loses nothing that
was already done; WAL mode lets readers (``chorus check``, exports) run during a scan.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from analyzer.errors import StoreError
from analyzer.records import (
    Alignment,
    Cue,
    Media,
    Member,
    Reupload,
    ScoreParts,
    Segment,
    Source,
    SubtitleMismatch,
    SubtitleTrack,
    TalkingPoint,
    Unit,
    Word,
)
from analyzer.safe_text import clean_record, clean_text
from analyzer.transcribe.base import AsrSegment

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media (
  id TEXT PRIMARY KEY, path TEXT NOT NULL, rel_path TEXT NOT NULL, sha256 TEXT,
  duration_ms INTEGER, has_audio INTEGER, channel TEXT, uploader TEXT, handle TEXT, url TEXT,
  published TEXT, title TEXT, status TEXT NOT NULL, error TEXT, duplicate_of TEXT,
  languages TEXT NOT NULL DEFAULT '[]', asr_model TEXT, notes TEXT NOT NULL DEFAULT '[]',
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS media_path ON media(path);
CREATE TABLE IF NOT EXISTS segments (
  media_id TEXT NOT NULL, idx INTEGER NOT NULL, start_ms INTEGER, end_ms INTEGER, text TEXT,
  language TEXT, confidence REAL, no_speech_prob REAL, words TEXT, PRIMARY KEY (media_id, idx)
);
CREATE TABLE IF NOT EXISTS tracks (
  media_id TEXT NOT NULL, track TEXT NOT NULL, language TEXT, kind TEXT, codec TEXT,
  readable INTEGER, note TEXT, n_cues INTEGER, PRIMARY KEY (media_id, track)
);
CREATE TABLE IF NOT EXISTS cues (
  media_id TEXT NOT NULL, track TEXT NOT NULL, idx INTEGER NOT NULL, start_ms INTEGER,
  end_ms INTEGER, text TEXT, language TEXT, PRIMARY KEY (media_id, track, idx)
);
CREATE TABLE IF NOT EXISTS units (
  id TEXT PRIMARY KEY, media_id TEXT NOT NULL, start_ms INTEGER, end_ms INTEGER, text TEXT,
  language TEXT, source TEXT, track TEXT
);
CREATE INDEX IF NOT EXISTS units_media ON units(media_id);
CREATE TABLE IF NOT EXISTS window_units (
  id TEXT PRIMARY KEY, media_id TEXT NOT NULL, start_ms INTEGER, end_ms INTEGER, text TEXT,
  language TEXT, source TEXT, track TEXT
);
CREATE TABLE IF NOT EXISTS embeddings (
  model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (model, text_hash)
);
CREATE TABLE IF NOT EXISTS talking_points (
  id TEXT PRIMARY KEY, rank INTEGER, score REAL, label TEXT, parts TEXT, n_media INTEGER,
  n_channels INTEGER, languages TEXT, first_published TEXT
);
CREATE TABLE IF NOT EXISTS members (
  tp_id TEXT NOT NULL, unit_id TEXT NOT NULL, similarity REAL, relation TEXT,
  PRIMARY KEY (tp_id, unit_id)
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT, finished_at TEXT, settings TEXT
);
CREATE TABLE IF NOT EXISTS alignments (
  media_id TEXT NOT NULL, track TEXT NOT NULL, offset_ms INTEGER, drift REAL, confidence REAL,
  pairs INTEGER, agreement REAL, method TEXT, applied INTEGER, PRIMARY KEY (media_id, track)
);
CREATE TABLE IF NOT EXISTS subtitle_mismatches (
  media_id TEXT NOT NULL, track TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER,
  subtitle_text TEXT, speech_text TEXT, similarity REAL, PRIMARY KEY (media_id, track, start_ms)
);
CREATE TABLE IF NOT EXISTS asr_segments (
  media_id TEXT NOT NULL, track TEXT NOT NULL, idx INTEGER NOT NULL, start_ms INTEGER, end_ms INTEGER,
  text TEXT, language TEXT, language_probability REAL, audio_language TEXT, audio_probability REAL,
  text_language TEXT, text_probability REAL, avg_logprob REAL, compression_ratio REAL,
  no_speech_prob REAL, flags TEXT NOT NULL DEFAULT '[]', used INTEGER, words TEXT,
  PRIMARY KEY (media_id, track, idx)
);
CREATE TABLE IF NOT EXISTS fingerprints (
  media_id TEXT PRIMARY KEY, algorithm INTEGER, frame_ms REAL, n_values INTEGER, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS reuploads (
  media_id TEXT PRIMARY KEY, duplicate_of TEXT NOT NULL, evidence TEXT NOT NULL DEFAULT '[]',
  bit_error_rate REAL, offset_ms INTEGER, overlap_ms INTEGER, similarity REAL
);
-- The sidecar files (subtitles) a media item was processed with: name suffix and content
-- hash, so an edited or added subtitle next to an unchanged video is read again.
CREATE TABLE IF NOT EXISTS sidecars (
  media_id TEXT PRIMARY KEY, signature TEXT NOT NULL
);
"""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class MediaRow:
    """A media item as stored, with its outcome."""

    media: Media
    rel_path: str
    status: str
    error: str | None
    duplicate_of: str | None
    languages: tuple[str, ...]
    asr_model: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MediaResult:
    """Everything the per-media stages produced for one item, written in one transaction."""

    media: Media
    rel_path: str
    asr_model: str
    segments: tuple[Segment, ...]
    tracks: tuple[SubtitleTrack, ...]
    cues: tuple[Cue, ...]
    units: tuple[Unit, ...]
    notes: tuple[str, ...] = ()
    alignments: tuple[Alignment, ...] = ()  # one per aligned subtitle track
    asr_segments: tuple[AsrSegment, ...] = ()  # every decoded ASR segment, flagged ones too
    # raw Chromaprint values (little-endian uint32; b"": too short), None when not computed
    audio_fingerprint: bytes | None = None


TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))


def schema_problem(db: sqlite3.Connection) -> str | None:
    """Why this database cannot be used as this Chorus's store, or None when it can.

    A new or half-created store (only Chorus's own tables, no version yet: a scan killed
    while creating it) is fine. Other versions are refused rather than misread: this
    Chorus does not migrate stores, and a newer one may mean things this one cannot know.
    """
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    row = None
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        foreign = sorted(tables - TABLES - {"sqlite_sequence"})
        if foreign:
            return (
                f"an SQLite database that is not a Chorus store (tables {', '.join(foreign[:5])}); "
                "choose another --out folder"
            )
        return None
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        return f"store schema version {row[0]!r} is not a number; scan into a new --out folder"
    if version > SCHEMA_VERSION:
        return (
            f"store schema {version} was written by a newer Chorus (this one reads schema "
            f"{SCHEMA_VERSION}); upgrade Chorus, or scan into a new --out folder"
        )
    if version < SCHEMA_VERSION:
        return (
            f"store schema {version} was written by an older Chorus (this one reads schema "
            f"{SCHEMA_VERSION} and does not convert old stores); scan again into a new --out folder"
        )
    return None


class Store:
    """A Chorus SQLite file. Use as a context manager or call close()."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"{path}: no Chorus store here; run `chorus scan` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=30)
        try:
            self._check_schema()  # before anything writes, so a foreign file stays untouched
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{path}: not a readable Chorus store ({exc})") from exc

    def _check_schema(self) -> None:
        """Refuse, unchanged, a store of another schema version or a database not Chorus's."""
        problem = schema_problem(self.db)
        if problem:
            raise StoreError(f"{self.path}: {problem}")

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    # ---- media -------------------------------------------------------------------------

    def save_result(self, result: MediaResult) -> None:
        """Replace everything known about one media item, atomically."""
        result = clean_record(result)  # a name or title SQLite cannot encode must not stop the batch
        m = result.media
        languages = sorted({u.language for u in result.units} | {s.language for s in result.segments})
        with self.transaction() as db:
            self._delete_media_rows(db, m.id)
            db.execute(
                "INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    m.id,
                    m.path,
                    result.rel_path,
                    m.sha256,
                    m.duration_ms,
                    int(m.has_audio),
                    m.source.channel,
                    m.source.uploader,
                    m.source.handle,
                    m.source.url,
                    m.source.published,
                    m.source.title,
                    "ok",
                    None,
                    None,
                    json.dumps([lang for lang in languages if lang != "und"]),
                    result.asr_model,
                    json.dumps(list(result.notes)),
                    now(),
                ),
            )
            db.executemany(
                "INSERT INTO segments VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        s.media_id,
                        i,
                        s.start_ms,
                        s.end_ms,
                        s.text,
                        s.language,
                        s.confidence,
                        s.no_speech_prob,
                        json.dumps([[w.start_ms, w.end_ms, w.text, w.probability] for w in s.words]),
                    )
                    for i, s in enumerate(result.segments)
                ],
            )
            counts: dict[str, int] = {}
            for cue in result.cues:
                counts[cue.track] = counts.get(cue.track, 0) + 1
            db.executemany(
                "INSERT INTO tracks VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        t.media_id,
                        t.track,
                        t.language,
                        t.kind,
                        t.codec,
                        int(t.readable),
                        t.note,
                        counts.get(t.track, 0),
                    )
                    for t in result.tracks
                ],
            )
            db.executemany(
                "INSERT INTO cues VALUES (?,?,?,?,?,?,?)",
                [
                    (c.media_id, c.track, i, c.start_ms, c.end_ms, c.text, c.language)
                    for i, c in enumerate(result.cues)
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO units VALUES (?,?,?,?,?,?,?,?)",
                [
                    (u.id, u.media_id, u.start_ms, u.end_ms, u.text, u.language, u.source, u.track)
                    for u in result.units
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO alignments VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        a.media_id,
                        a.track,
                        a.offset_ms,
                        a.drift,
                        a.confidence,
                        a.pairs,
                        a.agreement,
                        a.method,
                        int(a.applied),
                    )
                    for a in result.alignments
                ],
            )
            self._save_asr_segments(db, result.asr_segments)
            if result.audio_fingerprint is not None:
                self._save_fingerprint(db, m.id, result.audio_fingerprint)

    def save_failure(self, media_id: str, path: str, rel_path: str, source: Source, error: str) -> None:
        """Record a media item that could not be processed, with the reason."""
        path, rel_path, error = clean_text(path), clean_text(rel_path), clean_text(error)
        source = clean_record(source)
        with self.transaction() as db:
            self._delete_media_rows(db, media_id)
            db.execute(
                "INSERT OR REPLACE INTO media (id, path, rel_path, channel, uploader, handle, url,"
                " published, title, status, error, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    media_id,
                    path,
                    rel_path,
                    source.channel,
                    source.uploader,
                    source.handle,
                    source.url,
                    source.published,
                    source.title,
                    "failed",
                    error,
                    now(),
                ),
            )

    @staticmethod
    def _delete_media_rows(db: sqlite3.Connection, media_id: str) -> None:
        tables = (
            "segments",
            "tracks",
            "cues",
            "units",
            "window_units",
            "alignments",
            "subtitle_mismatches",
            "asr_segments",
        )
        for table in (*tables, "fingerprints"):
            db.execute(f"DELETE FROM {table} WHERE media_id = ?", (media_id,))

    def set_duplicate(self, media_id: str, duplicate_of: str | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE media SET duplicate_of = ? WHERE id = ?", (duplicate_of, media_id))

    def update_source(self, media_id: str, rel_path: str, source: Source) -> None:
        """Refresh publisher metadata (sidecars may change without the media changing)."""
        rel_path, source = clean_text(rel_path), clean_record(source)
        with self.transaction() as db:
            db.execute(
                "UPDATE media SET rel_path=?, channel=?, uploader=?, handle=?, url=?, published=?,"
                " title=? WHERE id=?",
                (
                    rel_path,
                    source.channel,
                    source.uploader,
                    source.handle,
                    source.url,
                    source.published,
                    source.title,
                    media_id,
                ),
            )

    def media_rows(self, ids: Iterable[str] | None = None) -> list[MediaRow]:
        query = (
            "SELECT id, path, sha256, duration_ms, has_audio, channel, uploader, handle, url,"
            " published, title, rel_path, status, error, duplicate_of, languages, asr_model, notes"
            " FROM media"
        )
        rows = self.db.execute(query + " ORDER BY rel_path, id").fetchall()
        wanted = set(ids) if ids is not None else None
        out = []
        for r in rows:
            if wanted is not None and r[0] not in wanted:
                continue
            source = Source(r[5], r[6], r[7], r[8], r[9], r[10])
            media = Media(
                r[0], r[1], r[2] or "", r[3] or 0, source, bool(r[4]) if r[4] is not None else False
            )
            out.append(
                MediaRow(
                    media,
                    r[11],
                    r[12],
                    r[13],
                    r[14],
                    tuple(json.loads(r[15] or "[]")),
                    r[16],
                    tuple(json.loads(r[17] or "[]")),
                )
            )
        return out

    def media_row(self, media_id: str) -> MediaRow | None:
        rows = self.media_rows([media_id])
        return rows[0] if rows else None

    def done(self, media_id: str, asr_model: str) -> bool:
        """True when this content was already processed with this ASR model."""
        row = self.db.execute(
            "SELECT 1 FROM media WHERE id=? AND status='ok' AND asr_model=?", (media_id, asr_model)
        ).fetchone()
        return row is not None

    def forget_missing(self, keep_ids: set[str]) -> None:
        """Drop media (and their rows) that are no longer in the scanned set."""
        stale = [r[0] for r in self.db.execute("SELECT id FROM media") if r[0] not in keep_ids]
        with self.transaction() as db:
            for media_id in stale:
                self._delete_media_rows(db, media_id)
                db.execute("DELETE FROM media WHERE id=?", (media_id,))
                db.execute("DELETE FROM sidecars WHERE media_id=?", (media_id,))

    def sidecars(self, media_id: str) -> str | None:
        """The sidecar signature a media item was processed with (None: not recorded)."""
        row = self.db.execute("SELECT signature FROM sidecars WHERE media_id=?", (media_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_sidecars(self, media_id: str, signature: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO sidecars VALUES (?, ?)", (media_id, signature))

    # ---- segments, cues, units --------------------------------------------------------

    def segments(self, media_id: str) -> list[Segment]:
        rows = self.db.execute(
            "SELECT start_ms, end_ms, text, language, confidence, no_speech_prob, words"
            " FROM segments WHERE media_id=? ORDER BY idx",
            (media_id,),
        )
        return [
            Segment(
                media_id,
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                "asr",
                tuple(Word(*w) for w in json.loads(r[6] or "[]")),
            )
            for r in rows
        ]

    def tracks(self, media_id: str) -> list[tuple[SubtitleTrack, int]]:
        rows = self.db.execute(
            "SELECT track, language, kind, codec, readable, note, n_cues FROM tracks"
            " WHERE media_id=? ORDER BY track",
            (media_id,),
        )
        return [(SubtitleTrack(media_id, r[0], r[1], r[2], r[3], bool(r[4]), r[5]), r[6]) for r in rows]

    def cues(self, media_id: str) -> list[Cue]:
        rows = self.db.execute(
            "SELECT track, start_ms, end_ms, text, language FROM cues WHERE media_id=? ORDER BY track, idx",
            (media_id,),
        )
        return [Cue(media_id, *r) for r in rows]

    def _member_units(self) -> list[Unit]:
        """The units of talking points only (a check of one video need not read 100,000 units)."""
        rows = []
        for table in ("units", "window_units"):
            rows += self.db.execute(
                "SELECT u.id, u.media_id, u.start_ms, u.end_ms, u.text, u.language, u.source, u.track"
                f" FROM {table} u JOIN media m ON m.id = u.media_id"
                " WHERE m.status='ok' AND u.id IN (SELECT unit_id FROM members)"
            ).fetchall()
        return [Unit(*r) for r in rows]

    def save_window_units(self, units: Sequence[Unit]) -> None:
        """The other cuts of the speech (windows of two adjacent sentences, parts of a unit,
        aligned stretches across units) that talking points hold.

        They are derived from units at every scan, so only those that became members
        are kept, replacing the last scan's; ``units()`` never returns them.
        """
        with self.transaction() as db:
            db.execute("DELETE FROM window_units")
            db.executemany(
                "INSERT OR REPLACE INTO window_units VALUES (?,?,?,?,?,?,?,?)",
                [
                    (u.id, u.media_id, u.start_ms, u.end_ms, u.text, u.language, u.source, u.track)
                    for u in units
                ],
            )

    def units(self, media_ids: Sequence[str] | None = None) -> list[Unit]:
        rows = self.db.execute(
            "SELECT u.id, u.media_id, u.start_ms, u.end_ms, u.text, u.language, u.source, u.track"
            " FROM units u JOIN media m ON m.id = u.media_id WHERE m.status='ok'"
            " ORDER BY u.media_id, u.source, u.track, u.start_ms, u.id"
        ).fetchall()
        wanted = set(media_ids) if media_ids is not None else None
        return [Unit(*r) for r in rows if wanted is None or r[1] in wanted]

    # ---- ASR evidence: every decoded segment, its language and its guards ------------------

    def _save_asr_segments(self, db: sqlite3.Connection, details: Sequence[AsrSegment]) -> None:
        counters: dict[tuple[str, str], int] = {}
        rows = []
        for d in details:
            s = d.segment
            idx = counters.get((s.media_id, d.track), 0)
            counters[(s.media_id, d.track)] = idx + 1
            words = json.dumps([[w.start_ms, w.end_ms, w.text, w.probability] for w in s.words])
            flags = json.dumps(list(d.flags))
            where = (s.media_id, d.track, idx, s.start_ms, s.end_ms, s.text)
            language = (s.language, d.language_probability, d.audio_language, d.audio_probability)
            scores = (d.text_language, d.text_probability, d.avg_logprob, d.compression_ratio)
            rows.append((*where, *language, *scores, s.no_speech_prob, flags, int(d.used), words))
        marks = ",".join("?" * 18)
        db.executemany(f"INSERT OR REPLACE INTO asr_segments VALUES ({marks})", rows)

    def asr_segments(self, media_id: str | None = None, flagged_only: bool = False) -> list[AsrSegment]:
        """Decoded ASR segments (both tracks) with their evidence, in time order per media item."""
        query = (
            "SELECT media_id, track, start_ms, end_ms, text, language, language_probability,"
            " audio_language, audio_probability, text_language, text_probability, avg_logprob,"
            " compression_ratio, no_speech_prob, flags, words FROM asr_segments WHERE 1=1"
        )
        args: list[str] = []
        if media_id is not None:
            query += " AND media_id=?"
            args.append(media_id)
        if flagged_only:
            query += " AND used=0"
        out = []
        for r in self.db.execute(query + " ORDER BY media_id, track, idx", args):
            words = tuple(Word(*w) for w in json.loads(r[15] or "[]"))
            confidence = round(math.exp(min(0.0, r[11])), 4)
            segment = Segment(r[0], r[2], r[3], r[4], r[5], confidence, r[13], "asr", words)
            flags = tuple(json.loads(r[14]))
            out.append(AsrSegment(segment, r[1], r[6], r[7], r[8], r[9], r[10], r[11], r[12], flags))
        return out

    # ---- subtitle alignment and agreement --------------------------------------------------

    def alignments(self, media_id: str | None = None) -> list[Alignment]:
        """Stored alignments of subtitle tracks, of one media item or of all."""
        query = (
            "SELECT media_id, track, offset_ms, drift, confidence, pairs, agreement, method, applied"
            " FROM alignments"
        )
        rows = (
            self.db.execute(query + " WHERE media_id=? ORDER BY track", (media_id,))
            if media_id is not None
            else self.db.execute(query + " ORDER BY media_id, track")
        )
        return [Alignment(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows]

    def set_agreement(self, media_id: str, track: str, agreement: float | None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE alignments SET agreement=? WHERE media_id=? AND track=?", (agreement, media_id, track)
            )

    def save_mismatches(self, media_id: str, mismatches: Sequence[SubtitleMismatch]) -> None:
        """Replace one media item's subtitle mismatches (recomputed by every scan's corpus stage)."""
        with self.transaction() as db:
            db.execute("DELETE FROM subtitle_mismatches WHERE media_id=?", (media_id,))
            db.executemany(
                "INSERT OR REPLACE INTO subtitle_mismatches VALUES (?,?,?,?,?,?,?)",
                [
                    (m.media_id, m.track, m.start_ms, m.end_ms, m.subtitle_text, m.speech_text, m.similarity)
                    for m in mismatches
                ],
            )

    def mismatches(self, media_id: str | None = None) -> list[SubtitleMismatch]:
        query = (
            "SELECT media_id, track, start_ms, end_ms, subtitle_text, speech_text, similarity"
            " FROM subtitle_mismatches"
        )
        rows = (
            self.db.execute(query + " WHERE media_id=? ORDER BY track, start_ms", (media_id,))
            if media_id is not None
            else self.db.execute(query + " ORDER BY media_id, track, start_ms")
        )
        return [SubtitleMismatch(*r) for r in rows]

    # ---- audio fingerprints and re-uploads ----------------------------------------------

    @staticmethod
    def _save_fingerprint(db: sqlite3.Connection, media_id: str, data: bytes) -> None:
        from analyzer.fingerprint import ALGORITHM, FRAME_MS

        db.execute(
            "INSERT OR REPLACE INTO fingerprints VALUES (?,?,?,?,?)",
            (media_id, ALGORITHM, FRAME_MS, len(data) // 4, data),
        )

    def save_fingerprint(self, media_id: str, data: bytes) -> None:
        """Store one media item's raw Chromaprint values (b"": tried, too short to fingerprint)."""
        with self.transaction() as db:
            self._save_fingerprint(db, media_id, data)

    def fingerprints(self) -> dict[str, bytes]:
        """Raw fingerprints of media that are ``ok``, by media id (empty bytes included)."""
        rows = self.db.execute(
            "SELECT f.media_id, f.data FROM fingerprints f JOIN media m ON m.id = f.media_id"
            " WHERE m.status='ok'"
        )
        return {r[0]: bytes(r[1]) for r in rows}

    def save_reuploads(self, reuploads: Sequence[Reupload]) -> None:
        """Replace the evidence behind every ``duplicate_of`` (recomputed by each scan)."""
        with self.transaction() as db:
            db.execute("DELETE FROM reuploads")
            db.executemany(
                "INSERT OR REPLACE INTO reuploads VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        r.media_id,
                        r.duplicate_of,
                        json.dumps(list(r.evidence)),
                        r.bit_error_rate,
                        r.offset_ms,
                        r.overlap_ms,
                        r.similarity,
                    )
                    for r in reuploads
                ],
            )

    def reuploads(self) -> dict[str, Reupload]:
        rows = self.db.execute(
            "SELECT media_id, duplicate_of, evidence, bit_error_rate, offset_ms, overlap_ms, similarity"
            " FROM reuploads"
        )
        return {r[0]: Reupload(r[0], r[1], tuple(json.loads(r[2] or "[]")), *r[3:]) for r in rows}

    # ---- embeddings cache ---------------------------------------------------------------

    def cached_vectors(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for text_hash, blob in self.db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN ({marks})",
                [model, *chunk],
            ):
                found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                [(model, h, v.astype(np.float32).tobytes()) for h, v in vectors.items()],
            )

    # ---- talking points -----------------------------------------------------------------

    def save_talking_points(self, points: Sequence[TalkingPoint]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM talking_points")
            db.execute("DELETE FROM members")
            for rank, tp in enumerate(points, 1):
                parts = tp.parts
                db.execute(
                    "INSERT INTO talking_points VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        tp.id,
                        rank,
                        tp.score,
                        tp.label,
                        json.dumps(list(astuple(parts))),  # ScoreParts' field order; appended only
                        tp.n_media,
                        tp.n_channels,
                        json.dumps(list(tp.languages)),
                        tp.first_published,
                    ),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO members VALUES (?,?,?,?)",
                    [(tp.id, m.unit.id, m.similarity, m.relation) for m in tp.members],
                )

    def talking_points(self) -> list[TalkingPoint]:
        units = {u.id: u for u in self._member_units()}
        members: dict[str, list[Member]] = {}
        for tp_id, unit_id, similarity, relation in self.db.execute(
            "SELECT tp_id, unit_id, similarity, relation FROM members"
        ):
            if unit_id in units:
                members.setdefault(tp_id, []).append(Member(units[unit_id], similarity, relation))
        points = []
        for r in self.db.execute(
            "SELECT id, label, score, parts, n_media, n_channels, languages, first_published"
            " FROM talking_points ORDER BY rank"
        ):
            ordered = sorted(members.get(r[0], []), key=lambda m: (m.unit.media_id, m.unit.start_ms))
            points.append(
                TalkingPoint(
                    r[0],
                    r[1],
                    tuple(ordered),
                    r[2],
                    ScoreParts(*json.loads(r[3])),
                    r[4],
                    r[5],
                    tuple(json.loads(r[6])),
                    r[7],
                )
            )
        return points

    # ---- runs ----------------------------------------------------------------------------

    def start_run(self, settings: dict[str, object]) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, settings) VALUES (?, ?)", (now(), json.dumps(settings))
            )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished_at=? WHERE id=?", (now(), run_id))

    def last_settings(self) -> dict[str, object]:
        row = self.db.execute("SELECT settings FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return dict(json.loads(row[0])) if row else {}
