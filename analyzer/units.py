"""Transcripts and subtitle cues -> sentence units with time spans.

A scripted line is a sentence, but ASR segments and subtitle cues cut speech wherever
the engine or the subtitler liked. So each source is first joined into one running text
with a time for every character (from word timestamps, or interpolated inside a cue),
then split into sentences with a spaCy blank pipeline for its language.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby, pairwise
from typing import TYPE_CHECKING

from analyzer.language import detect_text_language, normalise
from analyzer.records import Cue, Segment, Unit, UnitSource

if TYPE_CHECKING:
    from spacy.language import Language

# Scripts written without spaces between words (Chinese, Cantonese, Japanese, Thai, Lao,
# Khmer, Burmese, Tibetan): pieces are joined with no separator, words compared by character.
UNSPACED = frozenset({"zh", "yue", "ja", "th", "lo", "km", "my", "bo"})
MIN_LETTERS = 3
# A pause this long between two words ends a sentence even without punctuation: Whisper
# often leaves short clips unpunctuated, and speakers pause between sentences. Inside a
# faster-whisper segment words touch (gap 0) whatever the speaker did, so such gaps only
# show between segments; a lower value would mostly cut at commas (benchmarks/pauses.py:
# 80 % of clause gaps are >= 300 ms, 10 % >= 600 ms), which the rule leaves alone anyway.
PAUSE_MS = 600
# Windows: two adjacent sentences of one source at most this far apart are also read as
# one stretch, for a scripted line that ASR or a subtitler cut in two.
WINDOW_GAP_MS = 2000


@dataclass(frozen=True)
class Piece:
    """A stretch of text with the time it was said or shown."""

    text: str
    start_ms: int
    end_ms: int
    language: str
    # The last word of an ASR segment Whisper left without sentence punctuation, before one
    # it left so too: there the segment boundary is the best sign of a sentence end
    # (benchmarks/pauses.py: 7 of 8 unpunctuated sentence ends fall between segments, 7 of
    # 437 word gaps inside sentences). Before a punctuated segment it is not: Whisper is
    # punctuating that speech, and a segment with no stop in it holds part of a sentence
    # (all three such segments in those transcripts: "...may justly" / "be considered as
    # the invention of the art of printing.").
    boundary: bool = False


@lru_cache(maxsize=32)
def _sentencizer(language: str) -> tuple[Language, frozenset[str]]:
    """(spaCy pipeline that splits sentences, the tokenizer's special cases: "Mr.", "etc.")."""
    import spacy

    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):  # no spaCy tokenizer for this language
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp, frozenset(getattr(nlp.tokenizer, "rules", None) or ())  # Chinese: none


# One-letter words a language writes as a capital that are no initial.
CAPITAL_WORDS = {"en": frozenset({"I"})}


def _keeps_its_full_stop(word: str, special: frozenset[str], before: str = "", language: str = "") -> bool:
    """A word whose sentence punctuation spaCy's tokenizer left on it though it is no
    abbreviation: Arabic words with a combining mark ("باكراً.", tanween; "متشرّد.", shadda),
    "शुक्रिया।"; and "I." after a word in lower case ("Neither do I."; a recital cut short
    at "why I." was glued to the next line, which went unfound). Special cases ("Mr."),
    dotted abbreviations ("U.S.") and other capital letters, initials, keep theirs
    ("George W. Bush", "about J. Smith")."""
    if len(word) < 2 or word[-1] not in SENTENCE_ENDS or word in special:
        return False
    body = word[:-1]
    if len(body) == 1 and body.isupper():
        return body in CAPITAL_WORDS.get(language, ()) and before[:1].islower()
    return "." not in body and (letters(body) >= 2 or unicodedata.category(body[-1]).startswith("M"))


def split_sentences(text: str, language: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``.

    spaCy's sentencizer ends a sentence at a punctuation token; its tokenizers keep the
    full stop on some words that are no abbreviation (``_keeps_its_full_stop``), and such
    a word also ends a sentence here, as does every stop no abbreviation uses
    (``_PLAIN_ENDS``), even inside a word.
    """
    nlp, special = _sentencizer(language)
    doc = nlp(text)
    cuts = {sent.start_char for sent in doc.sents}
    for token in doc[:-1]:
        if _keeps_its_full_stop(token.text, special, doc[token.i - 1].text if token.i else "", language):
            cuts.add(token.idx + len(token.text))
    cuts.update(m.end() for m in _PLAIN_ENDS.finditer(text))
    bounds = sorted(_quotes_placed(text, cuts) | {len(text)})
    spans = []
    for start, end in pairwise(bounds):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


# A quotation mark (or Spanish ¿ ¡) after a space that ends a sentence opens the next one;
# a quotation that closes on "!" or "?" and goes on in lower case is said by someone the
# sentence names.
_OPENING = re.compile(r"\s([\"“«„「『¿¡]+\s*)$")
_CLOSING = '"”»」』'
_QUOTED_CRY = re.compile(f"[!?…]\\s?[{_CLOSING}]+\\s*$")


def _quotes_placed(text: str, cuts: set[int]) -> set[int]:
    """Sentence starts with opening marks on the right side of them: spaCy's sentencizer
    leaves an opening quote, and Spanish ¿ and ¡, on the sentence before ('...watching TV.
    "' then 'This is what I was looking for!"'; 'Hola a todos. ¿' then 'Estás diciendo que
    Tom no es canadiense?') and cuts after a quoted cry ('"This is what I was looking
    for!"' then 'he exclaimed.'): a line was cut from its marks, and its copies elsewhere
    found no whole sentence to be aligned with."""
    placed: set[int] = set()
    for cut in sorted(cuts):
        if cut <= 0:
            placed.add(cut)
            continue
        opening = _OPENING.search(text, max(0, cut - 8), cut)
        if opening is not None:
            cut = opening.start(1)
        after = text[cut:].lstrip()[:1]
        if after.islower() and _QUOTED_CRY.search(text, max(0, cut - 8), cut):
            continue  # '"This is it!" he exclaimed.' is one sentence
        placed.add(cut)
    return placed


def _time_at(pieces: Sequence[tuple[int, int, int, int]], offset: int, *, end: bool) -> int:
    """The time of a character offset, interpolated inside the piece (first character,
    end character, start ms, end ms) that holds it; between two pieces, the next one's start."""
    for a, b, t0, t1 in pieces:
        if a <= offset <= b and (end or offset < b):
            return int(t0 + (offset - a) / max(1, b - a) * (t1 - t0))
    for a, _, t0, _ in pieces:
        if offset < a:
            return t0
    return pieces[-1][3] if end else pieces[0][2]


# Per unit id: the (first character, end character, start ms, end ms) of each piece (an ASR
# word) it was made of, in the unit's text: the times of a stretch inside a unit
# (``aligned``, ``parts``) are read from its words where they are known, not shared out by
# characters over a unit whose pauses between sentences no character counts.
Clock = Mapping[str, tuple[tuple[int, int, int, int], ...]]


def _squeezed(raw: str) -> list[int]:
    """For each offset of ``raw`` (and its end): the offset in ``" ".join(raw.split())``."""
    out = [0] * (len(raw) + 1)
    n = 0
    done = 0
    for k, (i, j) in enumerate(_word_bounds(raw)):
        for x in range(done, i):
            out[x] = n  # spaces: where the one space between words is (a word's end)
        if k:
            n += 1
        for x in range(i, j):
            out[x] = n + x - i
        n += j - i
        done = j
    for x in range(done, len(raw) + 1):
        out[x] = n
    return out


def _word_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated word: ``text.split()``'s, with places."""
    return [m.span() for m in re.finditer(r"\S+", text)]


def _timer(unit: Unit, clock: Clock | None, total: int) -> Callable[[int, int, bool], int]:
    """time(character offset, offset among ``total`` characters counted, end?) inside
    ``unit``: from its clock where known, else shared out by the characters counted."""
    pieces = clock.get(unit.id) if clock else None
    span = unit.end_ms - unit.start_ms
    if pieces:
        return lambda offset, _counted, end: _time_at(pieces, offset, end=end)
    return lambda _offset, counted, _end: unit.start_ms + span * counted // max(1, total)


def _unit_id(media_id: str, source: str, track: str, start_ms: int, text: str) -> str:
    key = f"{media_id}|{source}|{track}|{start_ms}|{text}".encode()
    return "u-" + hashlib.sha1(key).hexdigest()[:16]


def letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch).startswith("L"))


def sentences_from_pieces(
    pieces: Sequence[Piece],
    media_id: str,
    source: UnitSource,
    track: str = "",
    clock: dict[str, tuple[tuple[int, int, int, int], ...]] | None = None,
) -> list[Unit]:
    """Join pieces of one language run into text, split it, and time each sentence
    (``clock``, when given, receives each unit's pieces: see ``Clock``)."""
    units: list[Unit] = []
    for run_pieces in _runs(pieces):
        language = run_pieces[0].language
        sep = "" if language in UNSPACED else " "
        spans: list[tuple[int, int, int, int]] = []
        parts: list[str] = []
        cursor = 0
        for piece in run_pieces:
            if parts:
                parts.append(sep)
                cursor += len(sep)
            spans.append((cursor, cursor + len(piece.text), piece.start_ms, piece.end_ms))
            parts.append(piece.text)
            cursor += len(piece.text)
        text = "".join(parts)
        for a, b in split_sentences(text, language):
            sentence = " ".join(text[a:b].split())
            if letters(sentence) < MIN_LETTERS:
                continue
            start = _time_at(spans, a, end=False)
            end = max(start, _time_at(spans, b, end=True))
            uid = _unit_id(media_id, source, track, start, sentence)
            if clock is not None:
                where = _squeezed(text[a:b])
                clock[uid] = tuple(
                    (where[x - a], where[y - a], _time_at(spans, x, end=False), _time_at(spans, y, end=True))
                    for p0, p1, _, _ in spans
                    if (x := max(p0, a)) < (y := min(p1, b))
                )
            units.append(
                Unit(
                    id=uid,
                    media_id=media_id,
                    start_ms=start,
                    end_ms=end,
                    text=sentence,
                    language=language,
                    source=source,
                    track=track,
                )
            )
    return units


# Sentence ends: Latin and CJK stops and the other scripts' own (Arabic ؟, Urdu ۔, Devanagari
# । ॥, Armenian ։, Ethiopic ። ፧, Myanmar ။, Tibetan ། ༎, Khmer ។ ៕, Mongolian ᠃).
SENTENCE_ENDS = ".!?。！？…؟।॥۔։።፧။།༎។៕᠃｡‼⁇⁈⁉"
# Those no abbreviation, initial or number uses: a sentence ends after them (and a closing
# quote or bracket) wherever they stand. spaCy cuts only at a punctuation token, and its
# tokenizers leave them inside a word where a script writes no spaces ("これはペンです。
# あれは本です。" was one sentence; Burmese, Tibetan and Khmer too).
_PLAIN_STOPS = "".join(c for c in SENTENCE_ENDS if c not in ".!?…")
_PLAIN_ENDS = re.compile(f"[{re.escape(_PLAIN_STOPS)}]+" + "[\"'”’»」』）)\\]]*")


def ends_sentence(text: str) -> bool:
    """A sentence end closes ``text``, quotation marks and brackets after it aside
    ('He said: "We are free."')."""
    return text.rstrip().rstrip(_CLOSING + "'’)]）")[-1:] in SENTENCE_ENDS


def unpunctuated(text: str) -> bool:
    """No sentence end anywhere in it: where its sentences start and stop nobody can tell."""
    return not any(ch in SENTENCE_ENDS for ch in text)


def _ends_clause(text: str) -> bool:
    """Whisper marked a clause here (a comma, say): a pause after it does not end a sentence."""
    return text.rstrip()[-1:] in ",;:，；：、،"


def _runs(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """Pieces cut into runs at language changes and at unpunctuated pauses."""
    runs: list[list[Piece]] = []
    for _, same_language in groupby(pieces, key=lambda p: p.language):
        current: list[Piece] = []
        for piece in same_language:
            if current and not ends_sentence(current[-1].text):
                last = current[-1]
                paused = piece.start_ms - last.end_ms >= PAUSE_MS and not _ends_clause(last.text)
                if paused or last.boundary:
                    runs.append(current)
                    current = []
            current.append(piece)
        if current:
            runs.append(current)
    return runs


def units_from_segments(
    segments: Sequence[Segment], clock: dict[str, tuple[tuple[int, int, int, int], ...]] | None = None
) -> list[Unit]:
    """Sentence units from ASR segments, timed by their word timestamps where present
    (``clock``, when given, receives each unit's words: see ``Clock``)."""
    if not segments:
        return []
    pieces: list[Piece] = []
    for segment, after in zip(segments, [*segments[1:], None], strict=True):
        bare = unpunctuated(segment.text) and (after is None or unpunctuated(after.text))
        words = [w for w in segment.words if w.text]
        if words:
            pieces.extend(Piece(w.text, w.start_ms, w.end_ms, segment.language) for w in words[:-1])
            last = words[-1]
            pieces.append(Piece(last.text, last.start_ms, last.end_ms, segment.language, bare))
        else:
            pieces.append(Piece(segment.text, segment.start_ms, segment.end_ms, segment.language, bare))
    return sentences_from_pieces(pieces, segments[0].media_id, "asr", "asr", clock)


def unit_clock(segments: Sequence[Segment]) -> dict[str, tuple[tuple[int, int, int, int], ...]]:
    """The ``Clock`` of the units ``units_from_segments`` makes of ``segments``."""
    clock: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
    units_from_segments(segments, clock)
    return clock


def units_from_cues(
    cues: Sequence[Cue], track_language: str | None = None, source: UnitSource = "subtitle"
) -> list[Unit]:
    """Sentence units from one subtitle track's cues (a sentence may span several cues).

    ``source`` is "ocr" for text read from the picture or from image subtitles.
    """
    if not cues:
        return []
    known = normalise(track_language)
    sample = " ".join(c.text for c in cues[:40])
    language = known or detect_text_language(sample, fallback=None)
    pieces = [Piece(c.text, c.start_ms, c.end_ms, normalise(c.language) or language) for c in cues]
    return sentences_from_pieces(pieces, cues[0].media_id, source, cues[0].track)


def windows(units: Sequence[Unit], max_gap_ms: int = WINDOW_GAP_MS) -> list[Unit]:
    """Each two adjacent units of one medium, source and track, read as one stretch.

    A line cut in two (a hesitation, a subtitle cue boundary, an unpunctuated pause) is
    two weak sentence units; the window that holds both says the line whole. Windows are
    not units of their own in the search (a window of two lines would glue their two
    groups together): ``analyzer.cluster.attach_alternatives`` lets one replace its parts
    in a group only where it fits that group better than they do.
    """
    out: list[Unit] = []
    ordered = sorted(units, key=lambda u: (u.media_id, u.source, u.track, u.start_ms, u.end_ms))
    for _, stretch in groupby(ordered, key=lambda u: (u.media_id, u.source, u.track)):
        run = list(stretch)
        for first, second in pairwise(run):
            if second.start_ms - first.end_ms > max_gap_ms or first.language != second.language:
                continue
            sep = "" if first.language in UNSPACED else " "
            text = first.text + sep + second.text
            out.append(
                Unit(
                    id=_unit_id(first.media_id, first.source, first.track + "#w", first.start_ms, text),
                    media_id=first.media_id,
                    start_ms=first.start_ms,
                    end_ms=max(first.end_ms, second.end_ms),
                    text=text,
                    language=first.language,
                    source=first.source,
                    track=first.track,
                )
            )
    return out


# Parts of an unpunctuated unit: cut points at most this many per unit (evenly spread: 4
# do as well as 8 on benchmarks/quality.py at half the embeddings),
# each part at least this many words (CJK: characters, about two to a word).
MAX_CUTS = 4
MIN_PART_WORDS = 3


def parts(
    units: Sequence[Unit],
    max_cuts: int = MAX_CUTS,
    min_words: int = MIN_PART_WORDS,
    clock: Clock | None = None,
) -> list[Unit]:
    """The two sides of each cut through a unit with no sentence punctuation in it.

    Where Whisper leaves speech unpunctuated and its segment holds two lines (or a
    greeting and a line), nothing in the words' times shows where one ends: they touch
    (benchmarks/pauses.py). The unit then says two things and agrees with neither group
    well; a part that says just one of them can (``analyzer.cluster.attach_alternatives``
    lets it take the unit's place, or enter alone, as it lies inside the unit). Times come
    from the unit's words (``clock``) where known, else are shared out by characters.
    """
    out: list[Unit] = []
    for unit in units:
        if not unpunctuated(unit.text):
            continue
        unspaced = unit.language in UNSPACED
        if unspaced:
            bounds = [(i, i + 1) for i, ch in enumerate(unit.text) if ch != " "]
        else:
            bounds = _word_bounds(unit.text)
        tokens = [unit.text[i:j] for i, j in bounds]
        least = 2 * min_words if unspaced else min_words
        cuts = list(range(least, len(tokens) - least + 1))
        if not cuts:
            continue
        if len(cuts) > max_cuts:
            cuts = [cuts[round(i * (len(cuts) - 1) / max(1, max_cuts - 1))] for i in range(max_cuts)]
        sep = "" if unspaced else " "
        time = _timer(unit, clock, sum(len(t) for t in tokens))
        for cut in cuts:
            counted = sum(len(t) for t in tokens[:cut])
            ends = time(bounds[cut - 1][1], counted, True)
            starts = time(bounds[cut][0], counted, False)
            for text, start, end in (
                (sep.join(tokens[:cut]), unit.start_ms, max(unit.start_ms, ends)),
                (sep.join(tokens[cut:]), min(starts, unit.end_ms), unit.end_ms),
            ):
                out.append(
                    Unit(
                        id=_unit_id(unit.media_id, unit.source, unit.track + "#p", start, text),
                        media_id=unit.media_id,
                        start_ms=start,
                        end_ms=end,
                        text=text,
                        language=unit.language,
                        source=unit.source,
                        track=unit.track,
                    )
                )
    return list({u.id: u for u in out}.values())


# Aligned stretches: a reference line's copy counts when its words overlap the stretch's
# by at least this Jaccard (the lexical channel's bar for near-verbatim copies) and share
# at least MIN_PART_WORDS words (CJK: twice as many characters).
ALIGN_JACCARD = 0.5
# A stretch is at most this many times the reference's length in tokens.
ALIGN_SPAN = 1.5
# Word pairs in more lines than this are too common to lead to a line (a fixed bound
# keeps each lookup's cost flat as the corpus grows).
COMMON_PAIR_LINES = 16
# Offsets (stream position - line position) of a copy's shared word pairs fall in bands
# this wide (each dropped, added or swapped word moves them by about one).
_BAND = 4
# references tried per group and band of offsets: those that share the most pairs there
ALIGN_REFERENCES = 3


def _tokens(text: str, language: str) -> list[tuple[str, int, int]]:
    """Words compared case- and punctuation-blind (characters for unspaced scripts), as
    an unpunctuated transcript says them ("Don't!" and "don t" are the same two words),
    with their character spans in ``text``."""
    out: list[tuple[str, int, int]] = []
    start = -1
    for i, ch in enumerate([*text, " "]):
        word = unicodedata.category(ch)[0] in "LNM"
        if word and language in UNSPACED:
            out.append((ch.casefold(), i, i + 1))
        elif word and start < 0:
            start = i
        elif not word and start >= 0:
            out.append((text[start:i].casefold(), start, i))
            start = -1
    return out


def _streams(units: Sequence[Unit]) -> list[list[Unit]]:
    """Runs of adjacent units of one medium, source, track and language with no sentence
    end between them: text a reciter may have said as one stretch."""
    out: list[list[Unit]] = []
    ordered = sorted(units, key=lambda u: (u.media_id, u.source, u.track, u.start_ms, u.end_ms))
    for _, stretch in groupby(ordered, key=lambda u: (u.media_id, u.source, u.track)):
        run: list[Unit] = []
        for unit in stretch:
            if run and (
                ends_sentence(run[-1].text)
                or unit.language != run[-1].language
                or unit.start_ms - run[-1].end_ms > WINDOW_GAP_MS
            ):
                out.append(run)
                run = []
            run.append(unit)
        if run:
            out.append(run)
    return out


# A stream (one medium's speech or subtitle track) of at least this many units has an
# opening and a closing that tell something: a clip of one or two sentences is all edge.
MIN_FRAMED_UNITS = 3


def stream_edges(units: Sequence[Unit]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(first start, last end) of each stream of MIN_FRAMED_UNITS units or more."""
    starts: dict[tuple[str, str, str], set[int]] = {}
    ends: dict[tuple[str, str, str], int] = {}
    for u in units:
        key = (u.media_id, u.source, u.track)
        starts.setdefault(key, set()).add(u.start_ms)
        ends[key] = max(ends.get(key, u.end_ms), u.end_ms)
    return {key: (min(s), ends[key]) for key, s in starts.items() if len(s) >= MIN_FRAMED_UNITS}


def framing(members: Sequence[Unit], edges: Mapping[tuple[str, str, str], tuple[int, int]]) -> float:
    """The share of media (with streams long enough to tell) where the line opens or
    closes the speech: greetings and sign-offs frame a video, script lines sit inside."""
    framed: dict[str, bool] = {}
    for u in members:
        edge = edges.get((u.media_id, u.source, u.track))
        if edge is not None:
            at_edge = u.start_ms <= edge[0] or u.end_ms >= edge[1]
            framed[u.media_id] = framed.get(u.media_id, False) or at_edge
    return sum(framed.values()) / len(framed) if framed else 0.0


def whole_sentences(units: Sequence[Unit]) -> set[str]:
    """Ids of the units that are a whole sentence as the engine punctuated it: a sentence
    end closes it and the one before it (not the tail of a sentence cut in two: "de vous
    abonner." after "N'oubliez pas", nor unpunctuated text)."""
    return {run[0].id for run in _streams(units) if len(run) == 1 and ends_sentence(run[0].text)}


def _best_window(stream: Sequence[str], reference: Counter[str]) -> tuple[float, int, int]:
    """(Jaccard, start, end) of the stretch of ``stream`` whose words, counted, are closest
    to ``reference``'s (a repeated word is one more word: "tom tom sat" is not "tom sat");
    a stretch starts and ends on a reference word."""
    best = (0.0, 0, 0)
    length = sum(reference.values())
    longest = int(length * ALIGN_SPAN) + 1
    for i, token in enumerate(stream):
        if token not in reference:
            continue
        seen: Counter[str] = Counter()
        shared = 0
        for j in range(i, min(len(stream), i + longest)):
            t = stream[j]
            seen[t] += 1
            if seen[t] <= reference[t]:
                shared += 1
                score = shared / (j + 1 - i + length - shared)
                if score > best[0]:
                    best = (score, i, j + 1)
    return best


def aligned(
    units: Sequence[Unit],
    scan: Sequence[bool],
    references: Sequence[Unit],
    keys: Sequence[int],
    clock: Clock | None = None,
) -> list[Unit]:
    """Stretches of speech that copy a reference line nearly word for word.

    Where Whisper leaves speech unpunctuated, a segment may hold the end of one line and
    the start of the next, and no word time shows where either ends (benchmarks/pauses.py).
    The lines themselves are known from elsewhere: ``references`` (the members of
    talking points, each with its group's ``key``) that are whole punctuated sentences.
    Each run of text with no sentence end in it (across units) that holds unpunctuated
    text or a ``scan`` unit is searched for every reference of its language that shares a
    third (and at least two) of its pairs of adjacent words with it (an inverted index of
    word pairs; CJK: character pairs), and the stretch whose words overlap the reference's
    most (Jaccard >= ALIGN_JACCARD) becomes a candidate unit, at most one per run and key
    (the best). ``analyzer.cluster.attach_alternatives`` then places it by meaning.
    Times come from the units' words (``clock``) where known, else are shared out by
    characters inside each unit, as for ``parts``.
    """
    runs = _streams(units)
    whole = whole_sentences(units)  # the references: not the tail of a sentence cut in two
    # pair -> {(group key, position): the first reference with it there}: a group's members
    # say one line, so they are looked up once
    index: dict[tuple[str, str, str], dict[tuple[int, int], int]] = {}
    ref_tokens: list[list[str]] = []
    for r, ref in enumerate(references):
        if ref.id not in whole:
            ref_tokens.append([])
            continue
        words = [t for t, _, _ in _tokens(ref.text, ref.language)]
        ref_tokens.append(words)
        for j, pair in enumerate(pairwise(words)):
            index.setdefault((ref.language, *pair), {}).setdefault((keys[r], j), r)
    # a pair found in many lines ("of the", "i m") leads nowhere and costs a lookup per line
    # that holds it (quadratic in the corpus): only the rarer pairs count, and a copy keeps
    # a third of its line's rarer pairs
    counts = [Counter(words) for words in ref_tokens]
    rare = [
        sum(len(index[(references[r].language, *pair)]) <= COMMON_PAIR_LINES for pair in pairwise(words))
        for r, words in enumerate(ref_tokens)
    ]
    flagged = {u.id for u, keep in zip(units, scan, strict=True) if keep}
    out: dict[str, Unit] = {}
    for run in runs:
        if not any(u.id in flagged or not ends_sentence(u.text) for u in run):
            continue  # one well-placed sentence
        language = run[0].language
        unspaced = language in UNSPACED
        tokens: list[str] = []
        places: list[tuple[int, int, int]] = []  # (unit in run, first character, end character)
        times: list[tuple[int, int]] = []
        for k, unit in enumerate(run):
            said = _tokens(unit.text, language)
            time = _timer(unit, clock, sum(b - a for _, a, b in said))
            done = 0
            for word, a, b in said:
                start = time(a, done, False)
                done += b - a
                tokens.append(word)
                places.append((k, a, b))
                times.append((start, time(b, done, True)))
        # a copy shares word pairs with its line at one offset (a dropped or added word
        # shifts it by one): hits count per group and band of offsets (two
        # overlapping bands, so neighbouring offsets always share one)
        # (key, band) -> (count, first offset, references that led there): a group may
        # hold two lines that open alike ("Don't be worried." / "Don't be ashamed of
        # yourself."), so each reference with a pair there is a candidate
        hits: dict[tuple[int, int], tuple[list[int], Counter[int]]] = {}
        for i, pair in enumerate(pairwise(tokens)):
            entries = index.get((language, *pair), {})
            if len(entries) > COMMON_PAIR_LINES:
                continue
            for (key, j), r in entries.items():
                offset = i - j
                for band in (2 * (offset // _BAND), 2 * ((offset + _BAND // 2) // _BAND) + 1):
                    hit = hits.get((key, band))
                    if hit is None:
                        hits[(key, band)] = ([1, offset], Counter({r: 1}))
                    else:
                        hit[0][0] += 1
                        hit[0][1] = min(hit[0][1], offset)
                        hit[1][r] += 1
        least = 2 * MIN_PART_WORDS if unspaced else MIN_PART_WORDS
        best: dict[int, tuple[float, int, int]] = {}
        tried: set[tuple[int, int]] = set()
        for (shared_pairs, offset), led in hits.values():
            for r, _ in led.most_common(ALIGN_REFERENCES):
                length = len(ref_tokens[r])
                if shared_pairs < max(2, rare[r] / 3) or (r, offset) in tried:
                    continue  # a near copy keeps a third of the line's word pairs ("of the" is no lead)
                tried.add((r, offset))
                lo = max(0, offset - _BAND)
                hi = offset + int(length * ALIGN_SPAN) + 2 * _BAND
                score, a, b = _best_window(tokens[lo:hi], counts[r])
                a, b = a + lo, b + lo
                if score < ALIGN_JACCARD or len(set(tokens[a:b]) & set(ref_tokens[r])) < least:
                    continue
                if score > best.get(keys[r], (0.0, 0, 0))[0]:
                    best[keys[r]] = (score, a, b)
        sep = "" if unspaced else " "
        first = run[0]
        # one stretch of speech says one line: where the stretches found for two lines
        # overlap, the closer copy (then the longer) holds it
        taken: list[tuple[int, int]] = []
        for _, a, b in sorted(best.values(), key=lambda x: (-x[0], x[1] - x[2], x[1])):
            if any(a < y and x < b for x, y in taken):
                continue
            taken.append((a, b))
            (k1, c1, _), (k2, _, c2) = places[a], places[b - 1]
            if k1 == k2:
                text = run[k1].text[c1:c2]
            else:
                pieces = [run[k1].text[c1:], *(u.text for u in run[k1 + 1 : k2]), run[k2].text[:c2]]
                text = sep.join(pieces)
            start, end = times[a][0], times[b - 1][1]
            if any(u.start_ms == start and u.end_ms == end for u in run):
                continue  # the stretch is a unit already
            unit = Unit(
                id=_unit_id(first.media_id, first.source, first.track + "#a", start, text),
                media_id=first.media_id,
                start_ms=start,
                end_ms=end,
                text=text,
                language=language,
                source=first.source,
                track=first.track,
            )
            out[unit.id] = unit
    return list(out.values())
