"""Who repeats what: re-uploads, boilerplate, breadth, timing, accounts, and the score.

A script is told from a coincidence by several independent signals (DESIGN.md): many
distinct media and channels (re-uploads of one recording count once, whether their audio
fingerprints or their transcripts show it), tight wording, specific content (greetings
and sign-offs are everywhere and prove nothing), uploads bunched in time, accounts whose
handles end in random characters, and one subtitle file laid over different voices.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from statistics import median

import numpy as np

from analyzer.fingerprint import AudioMatch
from analyzer.handles import handle_randomness, looks_random_handle  # noqa: F401  (callers import it here)
from analyzer.records import (
    Member,
    Relation,
    Reupload,
    ReuploadEvidence,
    ScoreParts,
    Script,
    Source,
    SubtitleCopy,
    TalkingPoint,
    Unit,
)
from analyzer.similarity import jaccard, max_jaccard_other_media, said_again, shingles
from analyzer.units import UNSPACED, framing, letters, stream_edges

# Boilerplate any channel says, in several languages. The multilingual embedding carries
# the idea to languages not listed; these are prototypes, not an exhaustive list.
GENERIC_PHRASES = (
    "Hello everyone, welcome back to my channel.",
    "Hi everyone.",
    "Hi guys, how are you today?",
    "Thank you for watching, please like and subscribe.",
    "Thanks for watching, see you next time.",
    "Don't forget to subscribe and hit the bell.",
    "Bonjour à tous, bienvenue sur ma chaîne.",
    "Merci d'avoir regardé, abonnez-vous.",
    "Hallo zusammen, willkommen zurück auf meinem Kanal.",
    "Danke fürs Zuschauen, bis zum nächsten Mal.",
    "Hola a todos, bienvenidos a mi canal.",
    "Gracias por ver el video, suscríbete.",
    "Всем привет, добро пожаловать на мой канал.",
    "Спасибо за просмотр, подписывайтесь.",
    "大家好，欢迎来到我的频道。",
    "谢谢观看，请订阅。",
    "مرحبا بالجميع، أهلا بكم في قناتي.",
    "شكرا على المشاهدة، اشترك في القناة.",
)

MIN_SCRIPT_SPECIFICITY = 0.5  # below this a line is boilerplate (see _talking_point)

# The score: specificity x a weighted sum of the other parts (see score_of). Breadth leads:
# many distinct recordings and channels are the core of a chorus; the wording's tightness
# next; timing, accounts and copied subtitles are corroboration, absent in many real
# campaigns and so never able to lift a line on their own.
WEIGHTS = {"breadth": 0.405, "tightness": 0.27, "timing": 0.135, "accounts": 0.09, "subtitles": 0.1}


@dataclass(frozen=True)
class ScoreOptions:
    """Thresholds that come from the embedding model's measured behaviour (models.toml)."""

    semantic_threshold: float  # cosine at which two units say the same thing
    min_media: int = 2  # distinct media (after collapsing re-uploads) for a talking point
    verbatim_jaccard: float = 0.8
    # A line with this many content words is fully specific. One: the seed case's line,
    # "we are free", has one, and stop-word counts do not tell boilerplate from a script
    # ("Okay." and "So, um, yeah." count as many as it does); boilerplate is told by the
    # prototypes (greetings, thanks, subscribe) and by repetition inside a medium.
    content_words_full: int = 1


@dataclass(frozen=True)
class MediaInfo:
    """What scoring needs to know about one media item."""

    id: str
    source: Source
    duration_ms: int
    duplicate_of: str | None = None
    # Its subtitle track is one of a group of (nearly) identical tracks over different
    # speech (analyzer/subtitles/copies.py): the group's key, else None.
    subtitle_copy: str | None = None


def with_subtitle_copies(
    media: Mapping[str, MediaInfo], copies: Sequence[SubtitleCopy]
) -> dict[str, MediaInfo]:
    """The media with ``subtitle_copy`` set: which group of copied subtitle tracks each is in."""
    group: dict[str, str] = {}
    for k, copy in enumerate(copies):
        for media_id, _track in copy.tracks:
            group.setdefault(media_id, f"copy-{k + 1}")
    return {m: replace(info, subtitle_copy=group.get(m)) for m, info in media.items()}


def score_of(parts: ScoreParts) -> float:
    """specificity x (0.405 breadth + 0.27 tightness + 0.135 timing + 0.09 accounts + 0.1 subtitles).

    Specificity multiplies: a greeting said by a thousand random-handle accounts is still
    a greeting. The other weights sum to 1, so the score stays in [0, 1]; they are the
    earlier 0.45/0.3/0.15/0.1 scaled by 0.9 to make room for copied subtitles, which
    keeps the order of lines without copied subtitles exactly as it was.
    """
    weighted = sum(weight * getattr(parts, name) for name, weight in WEIGHTS.items())
    return parts.specificity * weighted


@lru_cache(maxsize=32)
def _stop_words(language: str) -> frozenset[str]:
    import spacy

    try:
        return frozenset(spacy.blank(language).Defaults.stop_words)
    except (ImportError, KeyError, ValueError):
        return frozenset()


def content_words(text: str, language: str) -> float:
    """How many content words a line has (CJK: about two characters a word)."""
    if language in UNSPACED:
        return letters(text) / 2.0
    stop = _stop_words(language)
    words = re.findall(r"\w+", text.casefold())
    return float(sum(1 for w in words if w not in stop and any(c.isalpha() for c in w)))


def find_reuploads(
    units: Sequence[Unit],
    media: Mapping[str, MediaInfo],
    verbatim_jaccard: float,
    audio: Sequence[AudioMatch] = (),
) -> dict[str, str]:
    """Media that are re-uploads of an earlier one: duplicate id -> original id.

    See ``reupload_evidence``, which also says what showed it.
    """
    found = reupload_evidence(units, media, verbatim_jaccard, audio)
    return {dup: r.duplicate_of for dup, r in found.items()}


def reupload_evidence(
    units: Sequence[Unit],
    media: Mapping[str, MediaInfo],
    verbatim_jaccard: float,
    audio: Sequence[AudioMatch] = (),
) -> dict[str, Reupload]:
    """Re-uploads (duplicate id -> evidence), their originals the earliest published.

    Two lines of evidence, either enough. Audio: the fingerprints of both recordings agree
    at one alignment (``audio``, from analyzer.fingerprint.audio_matches), which survives
    re-encoding, trims and another container. Transcript: nearly all their spoken
    sentences match verbatim at the same offsets and their durations agree; different
    speakers reading one script never keep the same timing sentence after sentence. Only
    pairs that can pass are compared (``_reupload_candidates``), so the cost follows the
    corpus, not its square. Chains collapse to one original: every copy points at the
    earliest of its recording.
    """
    links: dict[tuple[str, str], dict[str, object]] = {}

    def order(a: str, b: str) -> tuple[str, str]:
        first, later = sorted((a, b), key=lambda m: (media[m].source.published or "9999", m))
        return first, later

    for match in audio:
        if match.a not in media or match.b not in media:
            continue
        first, later = order(match.a, match.b)
        offset = match.offset_ms if later == match.b else -match.offset_ms
        links[(later, first)] = {
            "audio": True,
            "bit_error_rate": match.bit_error_rate,
            "offset_ms": offset,
            "overlap_ms": match.overlap_ms,
        }
    by_media: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        if u.source == "asr":
            by_media[u.media_id].append(u)
    ids = sorted(by_media)
    sets: dict[str, frozenset[str]] = {}
    for a, b in _reupload_candidates(by_media, ids, media):
        for u in (*by_media[a], *by_media[b]):
            if u.id not in sets:
                sets[u.id] = shingles(u.text)
        share = _recording_match(by_media[a], by_media[b], sets, verbatim_jaccard)
        if share is not None:
            links.setdefault(order(a, b)[::-1], {})["transcript"] = share

    duplicates: dict[str, str] = {}
    evidence: dict[str, dict[str, object]] = {}
    # audio-backed links first: when a copy matches two earlier media, the recording wins
    for (later, first), found in sorted(links.items(), key=lambda kv: ("audio" not in kv[1], kv[0])):
        if later not in duplicates:
            duplicates[later] = first
            evidence[later] = found
    out: dict[str, Reupload] = {}
    for dup, found in evidence.items():
        kinds: list[ReuploadEvidence] = []
        if found.get("audio"):
            kinds.append("audio fingerprint")
        if "transcript" in found:
            kinds.append("transcript")
        out[dup] = Reupload(
            dup,
            _root(duplicates[dup], duplicates),
            tuple(kinds),
            _float(found.get("bit_error_rate")),
            _int(found.get("offset_ms")),
            _int(found.get("overlap_ms")),
            _float(found.get("transcript")),
        )
    return out


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _reupload_candidates(
    by_media: Mapping[str, Sequence[Unit]], ids: Sequence[str], media: Mapping[str, MediaInfo]
) -> list[tuple[str, str]]:
    """Media pairs (a < b) that may be one recording, in the order a full comparison meets them.

    A pair can only pass ``_same_recording`` when its durations agree, its unit counts are
    within 1.25x, and at least 80 % of a's units have a near-verbatim twin in b. Twins are
    found with MinHash LSH over the units' shingles (bands of 4 of 40 hashes: a pair at
    Jaccard 0.8 shares a band with p = 0.995, identical text always), compared only
    between media whose durations agree, so a line recited by thousands costs a window
    of neighbours per unit, not every pair.
    """
    from analyzer.similarity import ShingleSets, band_keys, unique

    counts = np.array([len(by_media[m]) for m in ids], dtype=np.int64)
    eligible = counts >= 2
    owner = np.concatenate([np.full(counts[i], i) for i in range(len(ids)) if eligible[i]] or [np.zeros(0)])
    owner = owner.astype(np.int64)
    texts = [u.text for i, m in enumerate(ids) if eligible[i] for u in by_media[m]]
    if len(texts) < 2:
        return []
    duration = np.array([media[m].duration_ms for m in ids], dtype=np.int64)
    keys = band_keys(ShingleSets(texts).minhash(40, seed=1), bands=10, rows=4)
    found: list[np.ndarray] = []
    for band in range(keys.shape[1]):
        bucket = unique(keys[:, band], return_inverse=True)[1]
        span = duration[owner]
        order = np.lexsort((span, bucket))
        combined = (bucket[order] << np.int64(40)) + span[order]
        limit = np.maximum(span[order] + 1000, np.ceil(span[order] / 0.97).astype(np.int64))
        hi = np.searchsorted(combined, (bucket[order] << np.int64(40)) + limit, side="right")
        width = hi - np.arange(len(order)) - 1
        if width.sum() == 0:
            continue
        left = np.repeat(np.arange(len(order)), width)
        right = left + 1 + (np.arange(len(left)) - np.repeat(np.cumsum(width) - width, width))
        ua, ub = order[left], order[right]
        ma, mb = owner[ua], owner[ub]
        swap = ma > mb
        ua, ub = np.where(swap, ub, ua), np.where(swap, ua, ub)
        ma, mb = np.minimum(ma, mb), np.maximum(ma, mb)
        fits = (ma != mb) & (np.maximum(counts[ma], counts[mb]) <= 1.25 * np.minimum(counts[ma], counts[mb]))
        # a's unit ua has a twin in b: one record per (pair, unit of a)
        found.append(unique((ma[fits] * len(ids) + mb[fits]) * len(owner) + ua[fits]))
    if not found:
        return []
    twins = unique(np.concatenate(found)) // len(owner)
    pair, support = unique(twins, return_counts=True)
    a, b = pair // len(ids), pair % len(ids)
    keep = support >= 0.8 * counts[a]
    return [(ids[i], ids[j]) for i, j in zip(a[keep].tolist(), b[keep].tolist(), strict=True)]


def _root(media_id: str, duplicates: Mapping[str, str]) -> str:
    seen = set()
    while media_id in duplicates and media_id not in seen:
        seen.add(media_id)
        media_id = duplicates[media_id]
    return media_id


def _same_recording(
    a: Sequence[Unit], b: Sequence[Unit], sets: Mapping[str, frozenset[str]], threshold: float
) -> bool:
    return _recording_match(a, b, sets, threshold) is not None


def _recording_match(
    a: Sequence[Unit], b: Sequence[Unit], sets: Mapping[str, frozenset[str]], threshold: float
) -> float | None:
    """The share of a's sentences said verbatim in b at one offset, when that makes them one recording."""
    if min(len(a), len(b)) < 2 or max(len(a), len(b)) > 1.25 * min(len(a), len(b)):
        return None
    offsets = []
    for ua in a:
        best = max(b, key=lambda ub: jaccard(sets[ua.id], sets[ub.id]))
        if jaccard(sets[ua.id], sets[best.id]) >= threshold:
            offsets.append(best.start_ms - ua.start_ms)
    if len(offsets) < 0.8 * len(a):
        return None
    centre = median(offsets)
    aligned = sum(abs(o - centre) <= 700 for o in offsets)
    return round(aligned / len(a), 4) if aligned >= 0.8 * len(a) else None


def _days(value: str) -> int | None:
    try:
        return date.fromisoformat(value).toordinal()
    except ValueError:
        return None


def build_talking_points(
    groups: Sequence[Sequence[int]],
    units: Sequence[Unit],
    vectors: np.ndarray,
    media: Mapping[str, MediaInfo],
    generic_vectors: np.ndarray,
    options: ScoreOptions,
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
) -> list[TalkingPoint]:
    """Score each group and return talking points ranked strongest first (``edges``:
    ``analyzer.units.stream_edges`` of ``units``, when the caller has them)."""
    scored: list[TalkingPoint] = []
    for group in groups:
        tp = _talking_point(list(group), units, vectors, media, generic_vectors, options)
        if tp is not None:
            scored.append(tp)
    scored = _spread_over_scripts(scored, media, stream_edges(units) if edges is None else edges)
    scored.sort(key=lambda t: (-t.score, -t.n_media, t.label))
    return [
        TalkingPoint(
            f"tp-{rank:04d}",
            t.label,
            t.members,
            t.score,
            t.parts,
            t.n_media,
            t.n_channels,
            t.languages,
            t.first_published,
        )
        for rank, t in enumerate(scored, 1)
    ]


# A line that belongs to a script is said mostly by that script's reciters: at least this
# share of its media recite one script (its own, or one it did not join).
MIN_SCRIPT_SHARE = 0.5


def _spread_over_scripts(
    points: list[TalkingPoint],
    media: Mapping[str, MediaInfo],
    edges: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
) -> list[TalkingPoint]:
    """Points with specificity scaled down where their media are spread over several scripts.

    Boilerplate learned from the data: a greeting or a sign-off is said by the reciters of
    many unrelated scripts (and by independent speakers), each script's share of its media
    small, while a scripted line is said mostly by the reciters of its own script. So where
    a point's media recite lines of two or more scripts (``group_scripts``: lines that
    co-occur in the same media) and no one script holds ``MIN_SCRIPT_SHARE`` of them, its
    specificity is scaled by the largest share over that bar. Where its media recite one
    script, none holds that share, and it opens or closes the speech (``edges``, see
    ``analyzer.units.framing``) in more than half of them, it frames videos of all kinds:
    its specificity is scaled by twice the share it does not frame (every medium: 0). A
    line of a one-line campaign, whose reciters recite no script, keeps its specificity:
    no evidence either way (a clip may well open with its line); and so does a campaign's
    own opening line, which most of its media (its reciters) say.
    """
    named = [replace(tp, id=f"p{i}") for i, tp in enumerate(points)]
    scripts = group_scripts(named, media)
    if not scripts:
        return points
    index = {tp.id: i for i, tp in enumerate(named)}

    def roots(tp: TalkingPoint) -> set[str]:
        return {_root(m.unit.media_id, duplicates) for m in tp.members}

    duplicates = {m: info.duplicate_of for m, info in media.items() if info.duplicate_of}
    reciting = [set().union(*(roots(points[index[t]]) for t in s.talking_points)) for s in scripts]
    out: list[TalkingPoint] = []
    for tp in points:
        mine = roots(tp)
        shares = [len(mine & m) / len(mine) for m in reciting]
        touched = sum(share > 0 for share in shares)
        top = max(shares)
        scale = 1.0
        if touched >= 2 and top < MIN_SCRIPT_SHARE:
            scale = top / MIN_SCRIPT_SHARE
        if touched >= 1 and top < MIN_SCRIPT_SHARE and edges:
            scale *= min(1.0, 2.0 * (1.0 - framing([m.unit for m in tp.members], edges)))
        if scale < 1.0:
            parts = replace(tp.parts, specificity=round(tp.parts.specificity * scale, 4))
            tp = replace(tp, parts=parts, score=round(score_of(parts), 4))
        out.append(tp)
    return out


def _channel_key(info: MediaInfo) -> str:
    s = info.source
    return s.channel or s.uploader or s.handle or f"media:{info.duplicate_of or info.id}"


def _language_medoids(
    block: np.ndarray, languages: Sequence[str], to_medoid: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """(each row's cosine to the medoid of the rows in its language, those medoids' rows).
    A language with one row is measured against the whole block's medoid (``to_medoid``)."""
    out = to_medoid.astype(np.float64).copy()
    by_language: dict[str, list[int]] = defaultdict(list)
    for pos, language in enumerate(languages):
        by_language[language].append(pos)
    medoids: list[int] = []
    for rows in by_language.values():
        sub = block[rows]
        medoid = int(np.argmax(sub @ (sub.sum(axis=0) / len(rows))))
        medoids.append(rows[medoid])
        if len(rows) >= 2 and len(by_language) >= 2:
            out[rows] = sub @ sub[medoid]
    return out, medoids


def _talking_point(
    group: list[int],
    units: Sequence[Unit],
    vectors: np.ndarray,
    media: Mapping[str, MediaInfo],
    generic_vectors: np.ndarray,
    options: ScoreOptions,
) -> TalkingPoint | None:
    members = [units[i] for i in group]
    roots = {media[u.media_id].duplicate_of or u.media_id for u in members}
    if len(roots) < options.min_media:
        return None
    block = vectors[group]
    # mean cosine to the others without the m x m matrix (a group can hold 50,000 members)
    medoid = int(np.argmax(block @ (block.sum(axis=0) / len(group))))
    to_medoid = block @ block[medoid]
    centre = members[medoid]
    # best Jaccard with a member of another medium, for all members at once
    lexical_best = max_jaccard_other_media([shingles(u.text) for u in members], [u.media_id for u in members])

    evidence: list[Member] = []
    for pos, unit in enumerate(members):
        cosine = float(to_medoid[pos])
        lexical = float(lexical_best[pos])
        relation: Relation
        if lexical >= options.verbatim_jaccard:
            relation, similarity = "verbatim", lexical
        elif unit.language != centre.language:
            relation, similarity = "translation", cosine
        else:
            relation, similarity = "paraphrase", cosine
        evidence.append(Member(unit, round(min(1.0, similarity), 4), relation))

    # Tightness on one scale (cosine to a medoid) for every member, whatever decided its
    # relation; rescaled so the link threshold is 0 and identical meaning is 1. A member
    # is measured against its own language's medoid where two or more members say the
    # line in it: a translation is no looser a recital for the model's lower cosine
    # across languages, and a line recited in two languages is no less tight than one.
    threshold = options.semantic_threshold
    cosines, medoids = _language_medoids(block, [u.language for u in members], to_medoid)
    mean_cosine = float(np.mean(cosines))
    tightness = min(1.0, max(0.0, (mean_cosine - threshold) / (1.0 - threshold)))

    channels = {_channel_key(media[m]) for m in roots}
    breadth = 0.5 * (1 - math.exp(-(len(roots) - 1) / 3)) + 0.5 * (1 - math.exp(-(len(channels) - 1) / 3))

    generic = float(np.max(generic_vectors @ vectors[group[medoid]])) if len(generic_vectors) else 0.0
    # stop-word lists differ by language ("This is what you must do." has no content word
    # in English, "Это то, что вы должны сделать." has): a line has the content it has in
    # the language that shows most, each language read at its medoid
    said = max(content_words(members[pos].text, members[pos].language) for pos in medoids)
    length = min(1.0, said / options.content_words_full)
    # a filler ("okay", "you know") is said again and again in one medium; a script line
    # is recited once (its subtitles and its speech are two sources, not a repeat): the
    # share of media that repeat it in one source is taken off
    # (two different sentences of one stream are a line of two sentences, or two lines)
    per_stream: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for u in members:
        per_stream[(u.media_id, u.source, u.track)].append(u.text)
    repeating = {
        stream[0]
        for stream, said in per_stream.items()
        if any(said_again(a, b) for k, a in enumerate(said) for b in said[k + 1 :])
    }
    repeated = len(repeating) / len({u.media_id for u in members})
    specificity = length * (1.0 - repeated) * (0.15 if generic >= threshold else 1.0)

    dates = sorted(d for m in roots if (d := media[m].source.published))
    ordinals = [o for d in dates if (o := _days(d)) is not None]
    timing = math.exp(-(max(ordinals) - min(ordinals)) / 14) if len(ordinals) >= 2 else 0.5
    handles = [media[m].source.handle for m in roots]
    accounts = sum(handle_randomness(h) for h in handles) / len(handles)
    # copied subtitles count when the copy is shared inside this line's own media
    groups = [media[m].subtitle_copy for m in roots]
    shared = {g for g in groups if g is not None and groups.count(g) >= 2}
    subtitles = sum(g in shared for g in groups) / len(groups)

    values = (breadth, tightness, specificity, timing, accounts, subtitles)
    parts = ScoreParts(*(round(v, 4) for v in values))
    score = score_of(parts)
    languages = tuple(sorted({u.language for u in members}))
    evidence.sort(key=lambda m: (m.unit.media_id, m.unit.start_ms, m.unit.source))
    return TalkingPoint(
        id="",
        label=centre.text,
        members=tuple(evidence),
        score=round(score, 4),
        parts=parts,
        n_media=len(roots),
        n_channels=len(channels),
        languages=languages,
        first_published=dates[0] if dates else None,
    )


def group_scripts(
    points: Sequence[TalkingPoint], media: Mapping[str, MediaInfo], min_shared: int = 2
) -> list[Script]:
    """Group talking points that co-occur in the same media into scripts.

    Two lines belong to one script when at least ``min_shared`` distinct media (re-uploads
    collapsed) recite both and their media sets overlap by half or more (Jaccard); a
    script is a connected group of two or more such lines. Boilerplate (greetings,
    sign-offs: low specificity) travels with everything and is never a script line.
    """
    points = [tp for tp in points if tp.parts.specificity >= MIN_SCRIPT_SPECIFICITY]

    def roots(tp: TalkingPoint) -> frozenset[str]:
        return frozenset(
            (media[m.unit.media_id].duplicate_of or m.unit.media_id)
            if m.unit.media_id in media
            else m.unit.media_id
            for m in tp.members
        )

    sets = [roots(tp) for tp in points]
    parent = list(range(len(points)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_media: dict[str, list[int]] = defaultdict(list)
    for i, medium_set in enumerate(sets):
        for m in medium_set:
            by_media[m].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)  # only pairs that share a medium
    for indices in by_media.values():
        for x, i in enumerate(indices):
            for j in indices[x + 1 :]:
                shared[(i, j)] += 1
    for (i, j), n in shared.items():
        if n >= min_shared and n / (len(sets[i]) + len(sets[j]) - n) >= 0.5:
            parent[find(j)] = find(i)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(points)):
        components[find(i)].append(i)
    scripts: list[Script] = []
    for members in sorted((c for c in components.values() if len(c) >= 2), key=min):
        counts: dict[str, int] = defaultdict(int)
        for i in members:
            for m in sets[i]:
                counts[m] += 1
        reciting = sorted(m for m, n in counts.items() if 2 * n >= len(members))
        scripts.append(
            Script(
                id=f"script-{len(scripts) + 1:02d}",
                talking_points=tuple(points[i].id for i in sorted(members)),
                media=tuple(reciting),
            )
        )
    return scripts
