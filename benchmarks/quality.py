"""Detection-quality benchmark: does Chorus find every scripted line, and only those?

Why: samples/ has 15 videos; a reporter needs to trust the top of the list on corpora of
hundreds of media in many languages. This script generates a seeded, labelled corpus
from real multilingual text (the team's Tatoeba sample: 1,000 aligned sentence pairs for
each of cmn, rus, spa, fra, deu, ara with English), runs Chorus's corpus stages on it,
and scores the result against two baselines run on the same units and embeddings in the
same process.

The corpus (no audio: ASR-like segments, cut into units by Chorus's own
``analyzer.units.units_from_segments``):

* campaigns: each takes a few Tatoeba sentence pairs (English + one other language) as
  its script; reciting media say most of the lines (partial recital), in any order, in
  English or in the campaign's other language (translation), verbatim or with seeded
  word drops, swaps, fillers and truncation (paraphrase);
* independent media on the same topics: other Tatoeba sentences, half of them hard
  negatives (nearest neighbours of a script line in embedding space that are different
  sentences), each said once in the corpus;
* greetings and sign-offs in every medium, several phrasings in seven languages;
* re-uploads: the same recording (identical segments and times) by another account;
* ASR styles: punctuated, or lower-case without punctuation (sentence ends only at
  pauses), segments that split a line or hold two lines, hesitation pauses inside a line.

Scores, per system and per language (a pair counts for a language when one of its two
utterances is in it; "all" counts every pair):

* pair P/R/F1 over script utterances: two utterances are gold-same when they recite the
  same script line (re-uploads included), predicted-same when the units that hold them
  are in the same talking point. Greetings are left out of the pairs (grouping them is
  neither right nor wrong); an independent speaker's sentence grouped with a script line
  is a false positive;
* line recall: per script line, the share of its utterances in its main talking point;
* AP: average precision of the ranking, a talking point being relevant when most of its
  utterances recite one script line not already found higher up (so greetings ranked
  above a script line, duplicates and missed lines all cost).

Baselines: BERTopic-style (the same embeddings, UMAP n_neighbors=15, n_components=5,
min_dist=0.0, cosine; HDBSCAN min_cluster_size=10, euclidean, eom, topics ranked by
size) and verbatim co-similar text as coordination-network-toolkit does it (Jaccard of
word sets >= 0.8 across media, characters for Chinese; groups ranked by distinct media).

Usage: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quality.py [--seed 7] [--media 320]``
Embeddings are cached in ``out/bench-quality/embeddings.db`` (a Chorus store).
``--explain`` adds where Chorus loses pairs: missed pairs by cause (in no group, split in
one language, split across languages; one- or two-sentence lines), false pairs by what
joined the line, and the lines that lose most.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from analyzer.coordination import MediaInfo  # noqa: E402
from analyzer.records import Segment, Source, Unit, Word  # noqa: E402
from analyzer.units import Clock, split_sentences  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "text" / "tatoeba"
DEFAULT_OUT = REPO_ROOT / "out" / "bench-quality"
# Tatoeba file code -> Chorus language code.
LANGUAGES = {"cmn": "zh", "rus": "ru", "spa": "es", "fra": "fr", "deu": "de", "ara": "ar"}
UNSPACED = frozenset({"zh"})

# Boilerplate every channel says. Deliberately not the prototypes in
# analyzer.coordination.GENERIC_PHRASES: Chorus must generalise from those.
GREETINGS = {
    "en": ["Hey guys, welcome back.", "Good morning everybody!", "Hi friends, great to see you again."],
    "fr": ["Salut tout le monde !", "Bonjour mes amis, bienvenue.", "Coucou à tous, ravi de vous revoir."],
    "de": ["Hallo Leute, willkommen zurück!", "Guten Morgen zusammen.", "Hi Freunde, schön euch zu sehen."],
    "es": ["¡Hola chicos, bienvenidos de nuevo!", "Buenos días a todos.", "Hola amigos, qué gusto verlos."],
    "ru": ["Привет, друзья!", "Всем доброе утро.", "Здравствуйте, рад вас снова видеть."],
    "zh": ["大家好！", "朋友们早上好。", "嗨，欢迎回来。"],
    "ar": ["مرحبا يا أصدقاء!", "صباح الخير جميعا.", "أهلا بكم من جديد."],
}
SIGNOFFS = {
    "en": ["Thanks for watching, bye!", "See you in the next video.", "Don't forget to like and subscribe."],
    "fr": [
        "Merci de m'avoir regardé, à bientôt !",
        "On se voit dans la prochaine vidéo.",
        "N'oubliez pas de vous abonner.",
    ],
    "de": [
        "Danke fürs Zuschauen, tschüss!",
        "Wir sehen uns im nächsten Video.",
        "Vergesst nicht zu abonnieren.",
    ],
    "es": ["¡Gracias por ver, adiós!", "Nos vemos en el próximo video.", "No olviden suscribirse."],
    "ru": ["Спасибо, что смотрели, пока!", "Увидимся в следующем видео.", "Не забудьте подписаться."],
    "zh": ["谢谢大家收看，再见！", "我们下个视频见。", "别忘了点赞和订阅。"],
    "ar": ["شكرا على المشاهدة، إلى اللقاء!", "نراكم في الفيديو القادم.", "لا تنسوا الاشتراك في القناة."],
}
FILLERS = {
    "en": ["really", "honestly", "actually"],
    "fr": ["vraiment", "franchement"],
    "de": ["wirklich", "ehrlich"],
    "es": ["realmente", "sinceramente"],
    "ru": ["действительно", "честно"],
    "zh": ["真的", "其实"],
    "ar": ["حقا", "فعلا"],
}
_NAMES = [
    "anna",
    "ben",
    "carlos",
    "dana",
    "elif",
    "farid",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "kira",
    "leo",
    "mira",
    "nadia",
    "omar",
    "pia",
]
_TOPICS = [
    "kitchen",
    "travel",
    "garden",
    "news",
    "daily",
    "life",
    "hikes",
    "music",
    "talks",
    "family",
    "valley",
    "city",
]


# ---- the labelled corpus ----------------------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    """One thing one medium said, with its gold label."""

    media_id: str
    start_ms: int
    end_ms: int
    text: str
    language: str
    kind: str  # "script", "generic" or "own"
    line: str | None = None  # script line id for kind == "script"


@dataclass
class Corpus:
    segments: dict[str, list[Segment]]
    utterances: list[Utterance]
    media: dict[str, MediaInfo]
    lines: dict[str, str]  # line id -> English text
    reuploads: dict[str, str]  # duplicate media id -> original


@dataclass(frozen=True)
class CorpusOptions:
    seed: int = 7
    media: int = 320  # about; campaigns + independents + re-uploads
    campaigns_per_language: int = 2
    lines_per_campaign: int = 5
    reciters: tuple[int, int] = (8, 18)
    reupload_share: float = 0.08
    bare_asr_share: float = 0.3  # media whose ASR has no punctuation or capitals
    # Segments carry word timestamps, as Chorus's faster-whisper gives them (touching
    # inside a segment); off: segment times only.
    word_times: bool = True


def read_tatoeba(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Language code -> aligned (sentence, English) pairs; blank lines dropped."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for code, lang in LANGUAGES.items():
        foreign = (root / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8").splitlines()
        english = (root / f"tatoeba.{code}-eng.eng").read_text(encoding="utf-8").splitlines()
        pairs[lang] = [
            (f.strip(), e.strip()) for f, e in zip(foreign, english, strict=True) if f.strip() and e.strip()
        ]
    return pairs


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def word_set(text: str, language: str) -> frozenset[str]:
    """Words, or characters for unspaced scripts (as co-similarity tools tokenise)."""
    if language in UNSPACED:
        return frozenset(ch for ch in text if unicodedata.category(ch).startswith("L"))
    return frozenset(_words(text))


def set_jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def paraphrase(text: str, language: str, rng: random.Random) -> str:
    """A seeded near-copy: a word dropped, two swapped, a filler added, or the end cut."""
    if language in UNSPACED:
        tokens = list(text.rstrip("。！？"))
        end = text[len("".join(tokens)) :]
    else:
        tokens = text.split()
        end = ""
    if len(tokens) < 4:
        return text
    ops = rng.sample(["drop", "swap", "filler", "cut"], k=rng.choice([1, 2]))
    for op in ops:
        if op == "drop" and len(tokens) > 4:
            del tokens[rng.randrange(1, len(tokens) - 1)]
        elif op == "swap":
            i = rng.randrange(0, len(tokens) - 1)
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == "filler":
            tokens.insert(rng.randrange(1, len(tokens)), rng.choice(FILLERS[language]))
        elif op == "cut" and len(tokens) >= 6:
            keep = max(4, math.ceil(len(tokens) * 0.75))
            tokens = tokens[:keep]
    sep = "" if language in UNSPACED else " "
    out = sep.join(tokens) + end
    return out if language in UNSPACED or out[-1:] in ".!?؟" else out + "."


def bare(text: str) -> str:
    """ASR without punctuation or capitals."""
    kept = [" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text.casefold()]
    return " ".join("".join(kept).split())


def _ms_per_char(language: str, rng: random.Random) -> int:
    return int((220 if language in UNSPACED else 65) * rng.uniform(0.8, 1.25))


def _word_times(pieces: Sequence[tuple[str, int, int, str]]) -> tuple[Word, ...]:
    """Word timestamps as faster-whisper gives them: each piece's words (Chinese: one
    character a word) share its time by characters, and each word ends where the next
    begins. Its alignment leaves no gap inside a segment, even where the speaker paused
    (benchmarks/pauses.py: all 448 gaps inside segments are 0); pauses show between
    segments only. Yet the words follow the speech: on the LibriVox clips Whisper's word
    starts are a median 60 ms (p90 212 ms) from pocketsphinx's forced alignment, while
    sharing a whole segment's time out by characters puts them 196 ms (p90 407 ms) off on
    those short clips and seconds off in a long segment of several lines with pauses.
    """
    timed: list[tuple[int, str]] = []
    for text, start, end, language in pieces:
        tokens = list(text.replace(" ", "")) if language in UNSPACED else text.split()
        total = max(1, sum(len(t) for t in tokens))
        done = 0
        for token in tokens:
            timed.append((start + (end - start) * done // total, token))
            done += len(token)
    ends = [a for a, _ in timed[1:]] + [pieces[-1][2]] if timed else []
    return tuple(Word(a, b, token, 0.9) for (a, token), b in zip(timed, ends, strict=True))


def _segments_for(
    media_id: str,
    items: list[tuple[str, str, str, str | None]],
    rng: random.Random,
    bare_asr: bool,
    word_times: bool = True,
) -> tuple[list[Segment], list[Utterance]]:
    """Time a medium's utterances and cut them into ASR segments the way engines do."""
    utterances: list[Utterance] = []
    segments: list[Segment] = []
    t = rng.randint(300, 1500)
    speed = rng.uniform(0.85, 1.2)
    pending: list[tuple[str, int, int, str]] = []  # text pieces of the open segment

    def close() -> None:
        if pending:
            text = (
                " ".join(p[0] for p in pending)
                if pending[0][3] not in UNSPACED
                else "".join(p[0] for p in pending)
            )
            words = _word_times(pending) if word_times else ()
            segments.append(
                Segment(media_id, pending[0][1], pending[-1][2], text, pending[0][3], 0.9, 0.01, "asr", words)
            )
            pending.clear()

    for text, language, kind, line in items:
        spoken = bare(text) if bare_asr else text
        length = max(1, len(spoken))
        duration = int(length * _ms_per_char(language, rng) * speed)
        start = t
        if pending and pending[-1][3] != language:
            close()
        hesitate = bare_asr and kind == "script" and rng.random() < 0.15 and len(spoken.split()) >= 6
        if rng.random() < 0.2 or hesitate:  # the engine cuts this line in two
            if language in UNSPACED:
                cut = len(spoken) // 2
                first, second = spoken[:cut], spoken[cut:]
            else:
                words = spoken.split()
                cut = len(words) // 2
                first, second = " ".join(words[:cut]), " ".join(words[cut:])
            mid = start + duration * len(first) // length
            pause = rng.randint(700, 1100) if hesitate else rng.randint(80, 250)
            pending.append((first, start, mid, language))
            close()
            pending.append((second, mid + pause, start + duration + pause, language))
            end = start + duration + pause
        else:
            pending.append((spoken, start, start + duration, language))
            end = start + duration
        if rng.random() < 0.6:  # otherwise the next line shares the segment
            close()
        utterances.append(Utterance(media_id, start, end, text, language, kind, line))
        t = end + rng.randint(350, 1400)
    close()
    return segments, utterances


def _handle(rng: random.Random, scripted: bool) -> str:
    base = f"{rng.choice(_NAMES)}_{rng.choice(_TOPICS)}"
    if rng.random() < (0.45 if scripted else 0.08):
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "@" + base + "_" + "".join(rng.choice(alphabet) for _ in range(5))
    return "@" + base + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")


def _date(day: int) -> str:
    from datetime import date, timedelta

    return (date(2024, 1, 1) + timedelta(days=day)).isoformat()


def near_copies(texts: Sequence[str], language: str, threshold: float = 0.5) -> dict[int, list[int]]:
    """Index -> indices of other texts whose word sets overlap by Jaccard >= threshold."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    sizes = np.zeros(len(texts))
    for i, text in enumerate(texts):
        words = word_set(text, language)
        sizes[i] = len(words)
        for w in words:
            rows.append(i)
            cols.append(vocabulary.setdefault(w, len(vocabulary)))
    matrix = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(texts), max(1, len(vocabulary)))
    )
    shared = (matrix @ matrix.T).tocoo()
    out: dict[int, list[int]] = defaultdict(list)
    for i, j, n in zip(shared.row, shared.col, shared.data, strict=True):
        if i != j and n / (sizes[i] + sizes[j] - n) >= threshold:
            out[int(i)].append(int(j))
    return out


def hard_negatives(
    pool_vectors: np.ndarray,
    pool_texts: Sequence[str],
    language: str,
    query: np.ndarray,
    query_text: str,
    k: int,
) -> list[int]:
    """Pool sentences nearest to a script line that are different sentences."""
    order = np.argsort(-(pool_vectors @ query))
    mine = word_set(query_text, language)
    picked: list[int] = []
    for i in order:
        text = pool_texts[int(i)]
        if text == query_text or set_jaccard(word_set(text, language), mine) >= 0.5:
            continue
        picked.append(int(i))
        if len(picked) == k:
            break
    return picked


def generate(
    pairs: dict[str, list[tuple[str, str]]],
    embed: Callable[[list[str]], np.ndarray],
    options: CorpusOptions,
) -> Corpus:
    """A seeded labelled corpus; ``embed`` is used only to mine hard negatives."""
    rng = random.Random(options.seed)
    # Pools of sentences per language: script lines are drawn from them, and every other
    # sentence may be said once by an independent speaker.
    pool: dict[str, list[str]] = defaultdict(list)
    partners: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for lang, rows in pairs.items():
        pool[lang] = list(dict.fromkeys(f for f, _ in rows))
        pool["en"].extend(e for _, e in rows)
        for f, e in rows:
            partners[(lang, f)].append(("en", e))
            partners[("en", e)].append((lang, f))
    pool["en"] = list(dict.fromkeys(pool["en"]))
    vectors = {lang: embed(texts) for lang, texts in pool.items()}
    index = {lang: {t: i for i, t in enumerate(texts)} for lang, texts in pool.items()}
    copies = {lang: near_copies(texts, lang) for lang, texts in pool.items()}
    used: dict[str, set[str]] = defaultdict(set)

    def use(language: str, text: str) -> None:
        """Take a sentence, its near copies and its translations out of the pool: no two
        independent utterances (nor one and a script line) say the same thing."""
        for lang, t in [(language, text), *partners[(language, text)]]:
            used[lang].add(t)
            used[lang].update(pool[lang][j] for j in copies[lang].get(index[lang][t], ()))

    # Campaign scripts: specific-enough pairs (6+ English words), each sentence used once.
    campaigns: list[tuple[str, list[tuple[str, str, str]]]] = []  # (language, [(id, foreign, en)])
    lines: dict[str, str] = {}
    for lang, rows in pairs.items():
        eligible = [(f, e) for f, e in rows if len(_words(e)) >= 6 and f in index[lang] and e in index["en"]]
        rng.shuffle(eligible)
        for c in range(options.campaigns_per_language):
            chosen: list[tuple[str, str, str]] = []
            for f, e in eligible:
                if f in used[lang] or e in used["en"] or len(chosen) == options.lines_per_campaign:
                    continue
                line_id = f"{lang}{c}-L{len(chosen) + 1}"
                chosen.append((line_id, f, e))
                use(lang, f)
                use("en", e)
                lines[line_id] = e
            campaigns.append((lang, chosen))

    # Hard negatives: near neighbours of every script line, reserved for independents.
    negatives: dict[str, list[str]] = defaultdict(list)
    for lang, chosen in campaigns:
        for _, f, e in chosen:
            for text, language in ((f, lang), (e, "en")):
                q = vectors[language][index[language][text]]
                for i in hard_negatives(vectors[language], pool[language], language, q, text, 3):
                    candidate = pool[language][i]
                    if candidate not in used[language]:
                        use(language, candidate)
                        negatives[language].append(candidate)
    fresh: dict[str, list[str]] = {
        lang: [t for t in texts if t not in used[lang]] for lang, texts in pool.items()
    }
    for texts in fresh.values():
        rng.shuffle(texts)
    for texts in negatives.values():
        rng.shuffle(texts)

    def own_sentence(language: str) -> str:
        if negatives[language] and rng.random() < 0.5:
            return negatives[language].pop()
        while fresh[language]:
            text = fresh[language].pop()
            if text not in used[language]:
                use(language, text)
                return text
        raise SystemExit(f"the {language} sentence pool is used up: ask for fewer --media")

    segments: dict[str, list[Segment]] = {}
    utterances: list[Utterance] = []
    media: dict[str, MediaInfo] = {}
    n = 0

    def add_medium(items: list[tuple[str, str, str, str | None]], scripted: bool, day: int) -> str:
        nonlocal n
        n += 1
        media_id = f"m{n:04d}"
        segs, utts = _segments_for(
            media_id, items, rng, rng.random() < options.bare_asr_share, options.word_times
        )
        segments[media_id] = segs
        utterances.extend(utts)
        handle = _handle(rng, scripted)
        duration = utts[-1].end_ms + rng.randint(500, 2000)
        source = Source(channel=handle.lstrip("@"), handle=handle, published=_date(day))
        media[media_id] = MediaInfo(media_id, source, duration)
        return media_id

    def frame(
        language: str, body: list[tuple[str, str, str, str | None]]
    ) -> list[tuple[str, str, str, str | None]]:
        items: list[tuple[str, str, str, str | None]] = []
        if rng.random() < 0.9:
            items.append((rng.choice(GREETINGS[language]), language, "generic", None))
        items.extend(body)
        if rng.random() < 0.9:
            items.append((rng.choice(SIGNOFFS[language]), language, "generic", None))
        return items

    reupload_target = int(options.media * options.reupload_share)
    originals: list[str] = []
    for lang, chosen in campaigns:
        start = rng.randint(0, 300)
        for _ in range(rng.randint(*options.reciters)):
            language = lang if rng.random() < 0.4 else "en"
            share = rng.uniform(0.6, 1.0)
            body: list[tuple[str, str, str, str | None]] = []
            recited = [c for c in chosen if rng.random() < share] or [rng.choice(chosen)]
            if rng.random() < 0.3:
                rng.shuffle(recited)
            for line_id, f, e in recited:
                text = f if language == lang else e
                if rng.random() < 0.5:
                    text = paraphrase(text, language, rng)
                body.append((text, language, "script", line_id))
            for _ in range(rng.randint(0, 2)):
                body.insert(rng.randrange(0, len(body) + 1), (own_sentence(language), language, "own", None))
            originals.append(add_medium(frame(language, body), True, start + rng.randint(0, 20)))
    languages = ["en", *LANGUAGES.values()]
    while n < options.media - reupload_target:
        language = rng.choice(languages)
        body = [(own_sentence(language), language, "own", None) for _ in range(rng.randint(2, 6))]
        originals.append(add_medium(frame(language, body), False, rng.randint(0, 360)))

    reuploads: dict[str, str] = {}
    for original in rng.sample(originals, k=min(reupload_target, len(originals))):
        n += 1
        media_id = f"m{n:04d}"
        segments[media_id] = [replace(s, media_id=media_id) for s in segments[original]]
        utterances.extend(replace(u, media_id=media_id) for u in utterances if u.media_id == original)
        handle = _handle(rng, False)
        info = media[original]
        published = _date(_days_since(info.source.published) + rng.randint(1, 30))
        media[media_id] = MediaInfo(
            media_id, Source(channel=handle.lstrip("@"), handle=handle, published=published), info.duration_ms
        )
        reuploads[media_id] = original
    return Corpus(segments, utterances, media, lines, reuploads)


def _days_since(iso: str | None) -> int:
    from datetime import date

    return (date.fromisoformat(iso) - date(2024, 1, 1)).days if iso else 0


# ---- scoring ----------------------------------------------------------------------------


@dataclass
class Clusters:
    """A system's output: ranked groups of unit indices (strongest first)."""

    name: str
    groups: list[list[int]]
    seconds: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)
    units: list[Unit] | None = None  # what ``groups`` index, when not the sentence units


def assign(
    utterances: Sequence[Utterance], units: Sequence[Unit], groups: Sequence[Sequence[int]]
) -> list[int | None]:
    """The group (rank index) that holds each utterance, or None.

    An utterance belongs to the grouped unit of its medium that covers the largest share
    of it (systems cut text into units differently: this compares them on what was said).
    """
    group_of: dict[int, int] = {}
    for g, members in enumerate(groups):
        for i in members:
            group_of.setdefault(i, g)
    by_media: dict[str, list[int]] = defaultdict(list)
    for i in group_of:
        by_media[units[i].media_id].append(i)
    out: list[int | None] = []
    for utt in utterances:
        best: tuple[float, int] | None = None
        span = max(1, utt.end_ms - utt.start_ms)
        for i in by_media.get(utt.media_id, ()):
            u = units[i]
            overlap = min(u.end_ms, utt.end_ms) - max(u.start_ms, utt.start_ms)
            if overlap <= 0:
                continue
            share = overlap / span
            if share >= 0.5 and (
                best is None or share > best[0] or (share == best[0] and group_of[i] < best[1])
            ):
                best = (share, group_of[i])
        out.append(best[1] if best else None)
    return out


def _pairs(counts: Counter[object]) -> int:
    return sum(c * (c - 1) // 2 for c in counts.values())


def pair_counts(gold: Sequence[str | None], predicted: Sequence[int | None]) -> tuple[int, int, int]:
    """(true-positive, predicted, gold) pair counts; None is a singleton on either side."""
    tp = _pairs(
        Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g is not None and p is not None)
    )
    pred = _pairs(Counter(p for p in predicted if p is not None))
    true = _pairs(Counter(g for g in gold if g is not None))
    return tp, pred, true


def prf(tp: int, pred: int, true: int) -> tuple[float, float, float]:
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pair_scores(
    gold: Sequence[str | None], predicted: Sequence[int | None], in_subset: Sequence[bool] | None = None
) -> tuple[float, float, float]:
    """Pairwise P/R/F1; with ``in_subset``, only pairs with at least one member in it."""
    tp, pred, true = pair_counts(gold, predicted)
    if in_subset is not None:
        rest = [i for i, keep in enumerate(in_subset) if not keep]
        tp2, pred2, true2 = pair_counts([gold[i] for i in rest], [predicted[i] for i in rest])
        tp, pred, true = tp - tp2, pred - pred2, true - true2
    return prf(tp, pred, true)


def line_recall(gold: Sequence[str | None], predicted: Sequence[int | None]) -> dict[str, float]:
    """Per script line: the share of its utterances in its main (most common) group."""
    by_line: dict[str, list[int | None]] = defaultdict(list)
    for g, p in zip(gold, predicted, strict=True):
        if g is not None:
            by_line[g].append(p)
    out: dict[str, float] = {}
    for line, preds in by_line.items():
        grouped = Counter(p for p in preds if p is not None)
        out[line] = grouped.most_common(1)[0][1] / len(preds) if grouped else 0.0
    return out


def average_precision(
    n_groups: int,
    gold: Sequence[str | None],
    predicted: Sequence[int | None],
    lines: set[str],
    keep: Sequence[bool] | None = None,
) -> float:
    """AP of the ranking over ``lines``: a group is a hit when most of its utterances say
    one line not found by a higher group; only groups with a ``keep`` utterance are ranked."""
    if not lines:
        return 1.0
    votes: dict[int, Counter[str | None]] = defaultdict(Counter)
    kept: set[int] = set()
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if p is not None:
            votes[p][g] += 1
            if keep is None or keep[i]:
                kept.add(p)
    found: set[str] = set()
    hits = 0
    total = 0.0
    rank = 0
    for group in range(n_groups):
        if group not in kept:
            continue
        rank += 1
        label, _ = votes[group].most_common(1)[0]
        if label is not None and label in lines and label not in found:
            found.add(label)
            hits += 1
            total += hits / rank
    return total / len(lines)


# ---- systems ----------------------------------------------------------------------------


def run_chorus(
    units: Sequence[Unit],
    vectors: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    generic: np.ndarray,
    media: dict[str, MediaInfo],
    threshold: float,
    mismatch: float,
    name: str = "Chorus",
    clock: Clock | None = None,
) -> Clusters:
    """Chorus's corpus stages as pipelines/scan.py runs them, without a store.

    ``threshold`` and ``mismatch`` are the model's link and mismatch thresholds (models.toml);
    ``clock``: the units' word times (``analyzer.units.unit_clock``), as a scan reads them.

    ``embed`` embeds the other cuts of the same speech (analyzer.units.windows and parts);
    the result's groups index its own ``units`` (the sentence units, then those cuts).
    """
    from analyzer.cluster import ClusterOptions, attach_alternatives, group_units, other_cuts, refine_groups
    from analyzer.coordination import ScoreOptions, build_talking_points, find_reuploads
    from analyzer.similarity import candidate_pairs
    from analyzer.units import stream_edges, windows

    started = time.perf_counter()
    options = ClusterOptions(link_threshold=threshold)
    duplicates = find_reuploads(units, media, options.verbatim_jaccard)
    infos = {m: replace(info, duplicate_of=duplicates.get(m)) for m, info in media.items()}
    pairs = candidate_pairs([u.text for u in units], vectors, [u.media_id for u in units], threshold, 0.5, 20)
    groups = group_units(vectors, pairs, options)
    cut, found = other_cuts(groups, units, vectors, pairs, threshold, duplicates, clock)
    spans = [*windows(units), *cut, *found]
    free = [False] * (len(spans) - len(found)) + [True] * len(found)
    span_vectors = embed([u.text for u in spans])
    groups = attach_alternatives(groups, units, vectors, spans, span_vectors, threshold, free, duplicates)
    every = [*units, *spans]
    every_vector = np.concatenate([vectors, span_vectors])
    edges = stream_edges(every)
    count = len(units)
    groups = refine_groups(groups, every, every_vector, count, free, threshold, mismatch, duplicates, edges)
    points = build_talking_points(
        groups, every, every_vector, infos, generic, ScoreOptions(semantic_threshold=threshold), edges
    )
    index = {u.id: i for i, u in enumerate(every)}
    ranked = [[index[m.unit.id] for m in tp.members] for tp in points]
    linked = {p.a for p in pairs} | {p.b for p in pairs}
    clustered = {i for g in groups for i in g}
    notes = {
        "reuploads found": float(len(duplicates)),
        "linked units left out": 1 - len(clustered & linked) / max(1, len(linked)),
    }
    return Clusters(name, ranked, time.perf_counter() - started, notes, every)


def unit_ceiling(corpus: Corpus, units: Sequence[Unit]) -> Clusters:
    """Perfect grouping of Chorus's own units: each unit joins the script line that most
    of the utterances it covers recite. What no clustering can beat with these units:
    an unpunctuated ASR unit that holds a greeting and a line, or two lines, is one unit."""
    by_media: dict[str, list[int]] = defaultdict(list)
    for i, unit in enumerate(units):
        by_media[unit.media_id].append(i)
    votes: dict[int, Counter[str | None]] = defaultdict(Counter)
    for utt in corpus.utterances:
        span = max(1, utt.end_ms - utt.start_ms)
        for i in by_media[utt.media_id]:
            overlap = min(units[i].end_ms, utt.end_ms) - max(units[i].start_ms, utt.start_ms)
            if overlap > 0 and overlap / span >= 0.5:
                votes[i][utt.line] += 1
    groups: dict[str, list[int]] = defaultdict(list)
    for i, counted in votes.items():
        line = counted.most_common(1)[0][0]
        if line is not None:
            groups[line].append(i)
    ranked = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    return Clusters("ceiling: units, ideal groups", ranked)


def run_bertopic_style(units: Sequence[Unit], vectors: np.ndarray, seed: int) -> Clusters:
    """UMAP then HDBSCAN with BERTopic's defaults; topics ranked by size, -1 dropped."""
    import hdbscan
    import umap

    started = time.perf_counter()
    reduced = umap.UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    ).fit_transform(vectors)
    labels = hdbscan.HDBSCAN(
        min_cluster_size=10, metric="euclidean", cluster_selection_method="eom", prediction_data=True
    ).fit_predict(reduced)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        if label != -1:
            groups[int(label)].append(i)
    ranked = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    notes = {"outlier share": float(np.mean(labels == -1))}
    return Clusters("BERTopic-style", ranked, time.perf_counter() - started, notes)


def run_cosimilar(units: Sequence[Unit], threshold: float = 0.8) -> Clusters:
    """Verbatim co-similar text: word-set Jaccard >= 0.8 across media, components ranked
    by distinct media (coordination-network-toolkit's co-similarity)."""
    started = time.perf_counter()
    sets = [word_set(u.text, u.language) for u in units]
    parent = list(range(len(units)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    order = sorted(range(len(units)), key=lambda i: len(sets[i]))
    for x, i in enumerate(order):
        if not sets[i]:
            continue
        for j in order[x + 1 :]:
            if len(sets[j]) * threshold > len(sets[i]):  # |A|/|B| < t: Jaccard < t
                break
            if units[i].media_id != units[j].media_id and set_jaccard(sets[i], sets[j]) >= threshold:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(units)):
        groups[find(i)].append(i)
    kept = [g for g in groups.values() if len({units[i].media_id for i in g}) >= 2]
    ranked = sorted(kept, key=lambda g: (-len({units[i].media_id for i in g}), g[0]))
    return Clusters("co-similar text", ranked, time.perf_counter() - started)


# ---- the run ----------------------------------------------------------------------------


def score(corpus: Corpus, units: Sequence[Unit], system: Clusters) -> dict[str, dict[str, float]]:
    """Metrics per language ("all" first) for one system's output."""
    predicted = assign(corpus.utterances, units, system.groups)
    rows: dict[str, dict[str, float]] = {}
    scripted = [i for i, u in enumerate(corpus.utterances) if u.kind != "generic"]
    gold = [corpus.utterances[i].line for i in scripted]
    pred = [predicted[i] for i in scripted]
    all_gold = [u.line for u in corpus.utterances]
    languages = sorted({u.language for u in corpus.utterances})
    for language in ["all", *languages]:
        if language == "all":
            subset = None
            lines = set(corpus.lines)
            keep = None
        else:
            subset = [corpus.utterances[i].language == language for i in scripted]
            lines = {u.line for u in corpus.utterances if u.line and u.language == language}
            keep = [u.language == language for u in corpus.utterances]
        p, r, f = pair_scores(gold, pred, subset)
        recall = line_recall([g if (subset is None or subset[k]) else None for k, g in enumerate(gold)], pred)
        ap = average_precision(len(system.groups), all_gold, predicted, lines, keep)
        rows[language] = {
            "P": p,
            "R": r,
            "F1": f,
            "line R": float(np.mean(list(recall.values()))) if recall else 1.0,
            "min line R": min(recall.values()) if recall else 1.0,
            "AP": ap,
        }
    return rows


def print_table(
    corpus: Corpus, units: Sequence[Unit], results: list[tuple[Clusters, dict[str, dict[str, float]]]]
) -> None:
    counts = Counter(u.language for u in corpus.utterances if u.kind == "script")
    header = f"{'language':<10}{'system':<29}{'pair P':>8}{'pair R':>8}{'pair F1':>8}"
    header += f"{'line R':>8}{'min R':>7}{'AP':>7}"
    print(header)
    print("-" * len(header))
    for language in results[0][1]:
        n = sum(counts.values()) if language == "all" else counts[language]
        for system, rows in results:
            m = rows[language]
            label = f"{language} ({n})" if system is results[0][0] else ""
            print(
                f"{label:<10}{system.name:<29}{m['P']:>8.3f}{m['R']:>8.3f}{m['F1']:>8.3f}"
                f"{m['line R']:>8.3f}{m['min line R']:>7.2f}{m['AP']:>7.3f}"
            )
    print()
    for system, _ in results:
        notes = ", ".join(f"{k} {v:.2f}" for k, v in system.notes.items())
        print(
            f"{system.name}: {len(system.groups)} groups, {system.seconds:.1f} s"
            + (f"; {notes}" if notes else "")
        )


def _campaign(line: str) -> str:
    return line.split("-L", 1)[0]  # line ids are "<campaign>-L<n>" (see generate)


def missed_and_false_pairs(
    corpus: Corpus, predicted: Sequence[int | None]
) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """Why pairs were lost: (missed gold pairs by (cause, shape of the line), missed pairs
    per line, false pairs by what was grouped with a line).

    A missed pair is two recitals of one line not in one group: one is "in no group", or
    they are "split, one language" or "split, two languages"; the line has one sentence or
    two ("two-sentence line": its halves tend to form a group each). A false pair is two
    utterances in one group that recite no common line: "another line of its script",
    "another campaign's line" or "independent speech" (an utterance that recites no line).
    """
    missed: Counter[tuple[str, str]] = Counter()
    per_line: Counter[str] = Counter()
    recitals: dict[str, list[tuple[Utterance, int | None]]] = defaultdict(list)
    for utterance, group in zip(corpus.utterances, predicted, strict=True):
        if utterance.kind == "script" and utterance.line:
            recitals[utterance.line].append((utterance, group))
    for line, said in recitals.items():
        two = len(split_sentences(corpus.lines[line], "en")) >= 2
        shape = "two-sentence line" if two else "one-sentence line"
        for (a, ga), (b, gb) in itertools.combinations(said, 2):
            if ga is not None and ga == gb:
                continue
            if ga is None or gb is None:
                cause = "in no group"
            else:
                cause = "split, one language" if a.language == b.language else "split, two languages"
            missed[(cause, shape)] += 1
            per_line[line] += 1
    false: Counter[str] = Counter()
    members: dict[int, list[Utterance]] = defaultdict(list)
    for utterance, group in zip(corpus.utterances, predicted, strict=True):
        if group is not None and utterance.kind != "generic":
            members[group].append(utterance)
    for said in members.values():
        for a, b in itertools.combinations(said, 2):
            if a.line is not None and a.line == b.line:
                continue
            if a.line is None or b.line is None:
                false["independent speech"] += 1
            elif _campaign(a.line) == _campaign(b.line):
                false["another line of its script"] += 1
            else:
                false["another campaign's line"] += 1
    return missed, per_line, false


def print_explanation(corpus: Corpus, units: Sequence[Unit], system: Clusters, top: int = 12) -> None:
    """Where one system loses pairs: the causes and the lines that lose most."""
    predicted = assign(corpus.utterances, system.units or units, system.groups)
    missed, per_line, false = missed_and_false_pairs(corpus, predicted)
    shapes = ["one-sentence line", "two-sentence line"]
    print(f"\nmissed pairs, {system.name} ({sum(missed.values())}):")
    print(f"  {'':<22}" + "".join(f"{s:>19}" for s in shapes))
    for cause in ["in no group", "split, one language", "split, two languages"]:
        print(f"  {cause:<22}" + "".join(f"{missed[(cause, s)]:>19}" for s in shapes))
    print(f"false pairs ({sum(false.values())}): " + ", ".join(f"{k} {v}" for k, v in false.most_common()))
    recitals = Counter(u.line for u in corpus.utterances if u.kind == "script")
    print("lines that lose most pairs:")
    for line, count in sorted(per_line.items(), key=lambda x: (-x[1], x[0]))[:top]:
        pairs = recitals[line] * (recitals[line] - 1) // 2
        print(f"  {line:<8} {count:>4} of {pairs:>4}  {corpus.lines[line][:70]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--media", type=int, default=320)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--model", default="multilingual-e5-small", help="Chorus's model; baselines use it too"
    )
    parser.add_argument(
        "--segment-times",
        action="store_true",
        help="ASR segments without word timestamps (harder: lines sharing a segment stay one unit)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="after the table, why Chorus loses pairs: causes and the lines that lose most",
    )
    parser.add_argument(
        "--compare",
        nargs="*",
        default=["use-multilingual-v3"],
        help="other embedding models (models.toml) to run Chorus with on the same units",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from analyzer.coordination import GENERIC_PHRASES
    from analyzer.embed import Embedder
    from analyzer.store import Store
    from analyzer.units import units_from_segments
    from pipelines.scan import semantic_threshold
    from pipelines.subtitle_stage import mismatch_threshold

    if not args.data.exists():
        print(f"no Tatoeba data at {args.data}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(args.model)
    started = time.perf_counter()
    with Store(args.out / "embeddings.db") as cache:

        def embed(texts: list[str]) -> np.ndarray:
            return embedder.encode_cached(texts, cache)

        # Hard negatives are mined with e5's raw vectors whatever model is measured, so
        # the corpus for a seed stays the same when models or their calibration change.
        generator = Embedder("multilingual-e5-small")
        corpus = generate(
            read_tatoeba(args.data),
            lambda texts: generator.encode_cached(texts, cache, calibrated=False),
            CorpusOptions(seed=args.seed, media=args.media, word_times=not args.segment_times),
        )
        clock: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
        units = [u for m in sorted(corpus.segments) for u in units_from_segments(corpus.segments[m], clock)]
        vectors = embed([u.text for u in units])
        generic = embed(list(GENERIC_PHRASES))
    prepared = time.perf_counter() - started
    threshold = semantic_threshold(args.model)
    kinds = Counter(u.kind for u in corpus.utterances)
    print(
        f"seed {args.seed}: {len(corpus.media)} media ({len(corpus.reuploads)} re-uploads), "
        f"{len(corpus.lines)} script lines, {len(corpus.utterances)} utterances "
        f"({kinds['script']} script, {kinds['own']} independent, {kinds['generic']} greetings/sign-offs), "
        f"{len(units)} units, {embedder.computed} newly embedded; prepared in {prepared:.1f} s\n"
    )

    def embedding(model: Embedder) -> Callable[[list[str]], np.ndarray]:
        def embed_cuts(texts: list[str]) -> np.ndarray:
            with Store(args.out / "embeddings.db") as cache:
                return model.encode_cached(texts, cache)

        return embed_cuts

    systems = [
        run_chorus(
            units,
            vectors,
            embedding(embedder),
            generic,
            corpus.media,
            threshold,
            mismatch_threshold(args.model),
            f"Chorus {args.model}",
            clock,
        )
    ]
    for other in [m for m in args.compare if m != args.model]:
        alternative = Embedder(other)
        with Store(args.out / "embeddings.db") as cache:
            alt_vectors = alternative.encode_cached([u.text for u in units], cache)
            alt_generic = alternative.encode_cached(list(GENERIC_PHRASES), cache)
        systems.append(
            run_chorus(
                units,
                alt_vectors,
                embedding(alternative),
                alt_generic,
                corpus.media,
                semantic_threshold(other),
                mismatch_threshold(other),
                f"Chorus {other}",
                clock,
            )
        )
    systems += [run_bertopic_style(units, vectors, args.seed), run_cosimilar(units)]
    systems.append(unit_ceiling(corpus, units))
    results = [(s, score(corpus, s.units or units, s)) for s in systems]
    print_table(corpus, units, results)
    if args.explain:
        print_explanation(corpus, units, systems[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
