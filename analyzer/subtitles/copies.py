"""Identical or near-identical subtitle tracks across media whose speech differs.

In the case Chorus exists for, one set of English subtitles was laid over many residents
speaking other languages: the same text under different voices is a coordination signal
in itself, and it survives where Whisper cannot transcribe the speech. A re-upload of
one recording (same speech, same subtitles) is not that signal, so pairs whose
transcripts are alike, or that the re-upload detector already joined, are left out.

Candidates come from an inverted index of normalised cue texts (tracks that share cue
lines verbatim), so the cost grows with shared lines, not with the square of the corpus;
each candidate pair is then scored by character 3-gram Jaccard over the whole track text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analyzer.records import SubtitleCopy
from analyzer.similarity import jaccard, normalise_text, shingles

# A cue line shared by more tracks than this is boilerplate ("Thank you.", "[Music]").
MAX_POSTING = 200


@dataclass(frozen=True)
class TrackText:
    """One subtitle track's cue texts, in time order."""

    media_id: str
    track: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class CopyOptions:
    """When two tracks are copies, and when their speech counts as different."""

    min_similarity: float = 0.8  # track-text Jaccard; the verbatim bar used for units too
    max_speech_similarity: float = 0.5  # transcripts more alike than this are one recording
    min_cues: int = 3  # fewer cues is too little text to call a copy
    min_shared_lines: int = 2  # verbatim cue lines two tracks must share to be compared


def _union_find(n: int, edges: Sequence[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[root(i)].append(i)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def find_subtitle_copies(
    tracks: Sequence[TrackText],
    speech: Mapping[str, str],
    duplicates: Mapping[str, str | None] | None = None,
    options: CopyOptions | None = None,
) -> list[SubtitleCopy]:
    """Groups of (nearly) identical subtitle tracks from media whose speech differs.

    Args:
        tracks: every readable subtitle track with its cue texts.
        speech: media id -> its full transcript; media without one are left out, since
            nothing then shows that their speech differs.
        duplicates: media id -> the media it re-uploads (``duplicate_of``), if any.
        options: thresholds.

    Returns:
        Groups, largest first; each pair inside a group was linked directly or through
        other members.
    """
    options = options or CopyOptions()
    duplicates = duplicates or {}
    usable = [t for t in tracks if len(t.texts) >= options.min_cues and speech.get(t.media_id, "").strip()]
    postings: dict[str, set[int]] = defaultdict(set)
    for i, track in enumerate(usable):
        for text in track.texts:
            line = normalise_text(text)
            if line:
                postings[line].add(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for members in postings.values():
        if len(members) > MAX_POSTING:
            continue
        ordered = sorted(members)
        for x, i in enumerate(ordered):
            for j in ordered[x + 1 :]:
                if usable[i].media_id != usable[j].media_id:
                    shared[(i, j)] += 1

    text_sets: dict[int, frozenset[str]] = {}
    speech_sets: dict[str, frozenset[str]] = {}
    edges: list[tuple[int, int]] = []
    scores: dict[tuple[int, int], tuple[float, float]] = {}
    for (i, j), count in shared.items():
        a, b = usable[i], usable[j]
        if count < options.min_shared_lines or _same_recording(a.media_id, b.media_id, duplicates):
            continue
        for k in (i, j):
            if k not in text_sets:
                text_sets[k] = shingles(" ".join(usable[k].texts))
        similarity = jaccard(text_sets[i], text_sets[j])
        if similarity < options.min_similarity:
            continue
        for media_id in (a.media_id, b.media_id):
            if media_id not in speech_sets:
                speech_sets[media_id] = shingles(speech[media_id])
        heard = jaccard(speech_sets[a.media_id], speech_sets[b.media_id])
        if heard > options.max_speech_similarity:
            continue
        edges.append((i, j))
        scores[(i, j)] = (similarity, heard)

    groups = []
    for group in _union_find(len(usable), edges):
        members = set(group)
        inside = [v for (i, j), v in scores.items() if i in members and j in members]
        smallest = min(members, key=lambda k: len(usable[k].texts))
        lines = [set(map(normalise_text, usable[k].texts)) for k in members]
        common = set.intersection(*lines)
        sample = next(
            (t for t in usable[smallest].texts if normalise_text(t) in common), usable[smallest].texts[0]
        )
        groups.append(
            SubtitleCopy(
                tracks=tuple(sorted((usable[k].media_id, usable[k].track) for k in members)),
                similarity=round(min(v[0] for v in inside), 4),
                speech_similarity=round(max(v[1] for v in inside), 4),
                n_cues=len(usable[smallest].texts),
                sample=sample,
            )
        )
    return sorted(groups, key=lambda g: (-len(g.tracks), -g.similarity, g.tracks))


def _same_recording(a: str, b: str, duplicates: Mapping[str, str | None]) -> bool:
    """True when the re-upload detector says one media item is (a copy of) the other."""
    root_a = duplicates.get(a) or a
    root_b = duplicates.get(b) or b
    return root_a == root_b
