"""Who repeats what: re-uploads, boilerplate, breadth, timing, accounts, and the score.

A script is told from a coincidence by several independent signals (DESIGN.md): many
distinct media and channels (re-uploads of one recording count once), tight wording,
specific content (greetings and sign-offs are everywhere and prove nothing), uploads
bunched in time, and accounts whose handles end in random characters.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from statistics import median

import numpy as np

from analyzer.records import Member, Relation, ScoreParts, Script, Source, TalkingPoint, Unit
from analyzer.similarity import jaccard, shingles
from analyzer.units import letters

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

_UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
MIN_SCRIPT_SPECIFICITY = 0.5  # below this a line is boilerplate (see _talking_point)
_RANDOM_SUFFIX = re.compile(r"(?:^|[_.\-])([a-z0-9]{4,10})$")


@dataclass(frozen=True)
class ScoreOptions:
    """Thresholds that come from the embedding model's measured behaviour (models.toml)."""

    semantic_threshold: float  # cosine at which two units say the same thing
    min_media: int = 2  # distinct media (after collapsing re-uploads) for a talking point
    verbatim_jaccard: float = 0.8
    # A line with this many content words is fully specific; greetings have fewer and are
    # caught by the boilerplate prototypes whatever their length.
    content_words_full: int = 4


@dataclass(frozen=True)
class MediaInfo:
    """What scoring needs to know about one media item."""

    id: str
    source: Source
    duration_ms: int
    duplicate_of: str | None = None


def looks_random_handle(handle: str | None) -> bool:
    """True for handles ending in a random-looking run like ``_x7k2q`` or ``93fj1``."""
    if not handle:
        return False
    name = handle.lower().lstrip("@")
    match = _RANDOM_SUFFIX.search(name)
    if not match:
        return False
    suffix = match.group(1)
    has_digit = any(c.isdigit() for c in suffix)
    has_alpha = any(c.isalpha() for c in suffix)
    return (has_digit and has_alpha) or (suffix.isdigit() and len(suffix) >= 5)


@lru_cache(maxsize=32)
def _stop_words(language: str) -> frozenset[str]:
    import spacy

    try:
        return frozenset(spacy.blank(language).Defaults.stop_words)
    except (ImportError, KeyError, ValueError):
        return frozenset()


def content_words(text: str, language: str) -> float:
    """How many content words a line has (CJK: about two characters a word)."""
    if language in _UNSPACED:
        return letters(text) / 2.0
    stop = _stop_words(language)
    words = re.findall(r"\w+", text.casefold())
    return float(sum(1 for w in words if w not in stop and any(c.isalpha() for c in w)))


def find_reuploads(
    units: Sequence[Unit], media: Mapping[str, MediaInfo], verbatim_jaccard: float
) -> dict[str, str]:
    """Media that are re-uploads of an earlier one: duplicate id -> original id.

    Two media are one recording when nearly all their spoken sentences match verbatim at
    the same offsets and their durations agree; different speakers reading one script
    never keep the same timing sentence after sentence. Only pairs that can pass are
    compared (``_reupload_candidates``), so the cost follows the corpus, not its square.
    """
    by_media: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        if u.source == "asr":
            by_media[u.media_id].append(u)
    ids = sorted(by_media)
    sets: dict[str, frozenset[str]] = {}
    duplicates: dict[str, str] = {}
    for a, b in _reupload_candidates(by_media, ids, media):
        for u in (*by_media[a], *by_media[b]):
            if u.id not in sets:
                sets[u.id] = shingles(u.text)
        if not _same_recording(by_media[a], by_media[b], sets, verbatim_jaccard):
            continue
        first, later = sorted((a, b), key=lambda m: (media[m].source.published or "9999", m))
        duplicates.setdefault(later, first)
    return {dup: _root(orig, duplicates) for dup, orig in duplicates.items()}


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
    from analyzer.similarity import ShingleSets, band_keys

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
        bucket = np.unique(keys[:, band], return_inverse=True)[1].astype(np.int64)
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
        found.append(np.unique((ma[fits] * len(ids) + mb[fits]) * len(owner) + ua[fits]))
    if not found:
        return []
    twins = np.unique(np.concatenate(found)) // len(owner)
    pair, support = np.unique(twins, return_counts=True)
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
    if min(len(a), len(b)) < 2 or max(len(a), len(b)) > 1.25 * min(len(a), len(b)):
        return False
    offsets = []
    for ua in a:
        best = max(b, key=lambda ub: jaccard(sets[ua.id], sets[ub.id]))
        if jaccard(sets[ua.id], sets[best.id]) >= threshold:
            offsets.append(best.start_ms - ua.start_ms)
    if len(offsets) < 0.8 * len(a):
        return False
    centre = median(offsets)
    return sum(abs(o - centre) <= 700 for o in offsets) >= 0.8 * len(a)


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
) -> list[TalkingPoint]:
    """Score each group and return talking points ranked strongest first."""
    scored: list[TalkingPoint] = []
    for group in groups:
        tp = _talking_point(list(group), units, vectors, media, generic_vectors, options)
        if tp is not None:
            scored.append(tp)
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


def _channel_key(info: MediaInfo) -> str:
    s = info.source
    return s.channel or s.uploader or s.handle or f"media:{info.duplicate_of or info.id}"


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
    sims = block @ block.T
    medoid = int(np.argmax(sims.mean(axis=1)))
    centre = members[medoid]
    sets = [shingles(u.text) for u in members]

    evidence: list[Member] = []
    for pos, unit in enumerate(members):
        cosine = float(sims[pos, medoid])
        lexical = max(
            (
                jaccard(sets[pos], sets[o])
                for o in range(len(members))
                if members[o].media_id != unit.media_id
            ),
            default=0.0,
        )
        relation: Relation
        if lexical >= options.verbatim_jaccard:
            relation, similarity = "verbatim", lexical
        elif unit.language != centre.language:
            relation, similarity = "translation", cosine
        else:
            relation, similarity = "paraphrase", cosine
        evidence.append(Member(unit, round(min(1.0, similarity), 4), relation))

    # Tightness on one scale (cosine to the medoid) for every member, whatever decided its
    # relation; rescaled so the link threshold is 0 and identical meaning is 1.
    threshold = options.semantic_threshold
    mean_cosine = float(np.mean([sims[pos, medoid] for pos in range(len(members))]))
    tightness = min(1.0, max(0.0, (mean_cosine - threshold) / (1.0 - threshold)))

    channels = {_channel_key(media[m]) for m in roots}
    breadth = 0.5 * (1 - math.exp(-(len(roots) - 1) / 3)) + 0.5 * (1 - math.exp(-(len(channels) - 1) / 3))

    generic = float(np.max(generic_vectors @ vectors[group[medoid]])) if len(generic_vectors) else 0.0
    length = min(1.0, content_words(centre.text, centre.language) / options.content_words_full)
    specificity = length * (0.15 if generic >= threshold else 1.0)

    dates = sorted(d for m in roots if (d := media[m].source.published))
    ordinals = [o for d in dates if (o := _days(d)) is not None]
    timing = math.exp(-(max(ordinals) - min(ordinals)) / 14) if len(ordinals) >= 2 else 0.5
    handles = [media[m].source.handle for m in roots]
    accounts = sum(looks_random_handle(h) for h in handles) / len(handles)

    parts = ScoreParts(*(round(v, 4) for v in (breadth, tightness, specificity, timing, accounts)))
    score = specificity * (0.45 * breadth + 0.3 * tightness + 0.15 * timing + 0.1 * accounts)
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
