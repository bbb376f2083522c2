"""A seeded synthetic corpus for scale benchmarks: units, media and cheap embeddings.

What it imitates, and why each part is there:

- Seven languages in four scripts (Latin with and without accents, Cyrillic, Arabic, Han
  with no spaces), with Zipf-distributed pseudo-words made from each script's syllables,
  so character shingles and their frequencies behave like real text (common short words,
  a long tail) without shipping a corpus.
- Campaigns: script lines recited by hundreds of media, as subtitles (the exact text),
  as ASR (the text with 0-4 % character errors and dropped words), paraphrased (a quarter
  of the words replaced) and translated into the campaign's other languages.
- Boilerplate: greetings and sign-offs, four of each per language, said by 40 % of media.
- Independent speech: 60 % of units are sentences nobody else says, on shared topics.
- Re-uploads: 1 % of media repeat another medium's units at a constant offset.

Embeddings are not computed: each meaning (a script line, a phrase, a sentence) gets a
unit vector of the same anisotropic shape e5-small gives real text (unrelated sentences
at cosine ~0.72, one topic ~0.80), and each rendering of it (translation, paraphrase,
ASR errors) is perturbed around it. Identical text always gets the identical vector, as
the embedding cache gives it. So the corpus stages are what a benchmark measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analyzer.coordination import MediaInfo
from analyzer.records import Source, Unit

DIM = 384
LANGUAGES = ("en", "fr", "de", "es", "ru", "ar", "zh")
_LETTERS = {
    "en": ("bcdfghklmnprstvwy", "aeiou"),
    "fr": ("bcdfgjlmnprstv", "aeiouéèàû"),
    "de": ("bdfghklmnprstwz", "aeiouäöü"),
    "es": ("bcdfgjlmnprstvñ", "aeiouáé"),
    "ru": ("бвгджзклмнпрстфх", "аеиоуыя"),
    "ar": ("بتثجحخدذرزسشصضطظعغفقكلمن", "اوي"),
}


@dataclass(frozen=True)
class Corpus:
    """Units with their vectors, media infos, and what the generator knows is true."""

    units: list[Unit]
    vectors: np.ndarray
    media: dict[str, MediaInfo]
    line_of: np.ndarray  # script line id per unit, -1 for anything else
    generic: np.ndarray  # vectors of the boilerplate prototypes
    stats: dict[str, int] = field(default_factory=dict)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


class _Language:
    def __init__(self, code: str, rng: np.random.Generator, size: int = 3000) -> None:
        self.code = code
        self.spaced = code != "zh"
        if self.spaced:
            consonants, vowels = _LETTERS[code]
            words: set[str] = set()
            while len(words) < size:
                syllables = rng.integers(1, 4) if len(words) > 60 else 1
                words.add(
                    "".join(rng.choice(list(consonants)) + rng.choice(list(vowels)) for _ in range(syllables))
                )
            self.words = sorted(words, key=lambda w: (len(w), w))
            self.alphabet = consonants + vowels
        else:
            self.words = [chr(0x4E00 + int(i)) for i in rng.permutation(3000)[:size]]
            self.alphabet = "".join(self.words[:300])
        p = 1.0 / np.arange(1, len(self.words) + 1) ** 1.07
        self.cdf = np.cumsum(p / p.sum())

    def sample(self, rng: np.random.Generator, count: int) -> list[str]:
        picks = np.minimum(np.searchsorted(self.cdf, rng.random(count)), len(self.words) - 1)
        return [self.words[i] for i in picks]

    def sentence(self, rng: np.random.Generator) -> list[str]:
        low, high = (6, 18) if self.spaced else (8, 26)
        return self.sample(rng, int(rng.integers(low, high)))

    def render(self, words: list[str]) -> str:
        if not self.spaced:
            return "".join(words) + "。"
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."

    def paraphrase(self, words: list[str], rng: np.random.Generator) -> list[str]:
        out = list(words)
        swaps = rng.choice(len(out), max(1, len(out) // 4), replace=False)
        for i, word in zip(swaps, self.sample(rng, len(swaps)), strict=True):
            out[i] = word
        return out


def _asr_noise(text: str, rng: np.random.Generator, alphabet: str) -> str:
    """Character substitutions and a dropped word, as Whisper's errors look."""
    draw = rng.random(2)
    rate = 0.0 if draw[0] < 0.4 else 0.01 if draw[0] < 0.6 else 0.02 if draw[0] < 0.8 else 0.04
    out = text.rstrip(".。")
    if rate:
        chars = list(out)
        for i in np.flatnonzero(rng.random(len(chars)) < rate):
            if chars[i] != " ":
                chars[i] = alphabet[int(rng.integers(len(alphabet)))]
        out = "".join(chars)
    if draw[1] < 0.2 and " " in out:
        words = out.split(" ")
        del words[int(rng.integers(len(words)))]
        out = " ".join(words)
    return out


class _Builder:
    """Collects units; vectors are drawn at the end in bulk (base meaning + perturbation)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.units: list[Unit] = []
        self.base: list[int] = []  # meaning id per unit
        self.eps: list[float] = []  # perturbation per unit
        self.same: list[int] = []  # earlier unit with the identical text, or -1
        self.line_of: list[int] = []
        self.first_with: dict[str, int] = {}

    def add(
        self, media_id: str, start: int, text: str, lang: str, source: str, base: int, eps: float, line: int
    ) -> int:
        end = start + 60 * len(text) + 300
        index = len(self.units)
        self.units.append(Unit(f"{media_id}-u{index}", media_id, start, end, text, lang, source, source))  # type: ignore[arg-type]
        self.same.append(self.first_with.setdefault(text, index))
        self.base.append(base)
        self.eps.append(eps)
        self.line_of.append(line)
        return end

    def copy(self, index: int, media_id: str, shift: int) -> None:
        u = self.units[index]
        self.units.append(
            Unit(
                f"{media_id}-u{len(self.units)}",
                media_id,
                max(0, u.start_ms + shift),
                max(0, u.end_ms + shift),
                u.text,
                u.language,
                u.source,
                u.track,
            )
        )
        self.same.append(self.same[index])
        self.base.append(self.base[index])
        self.eps.append(self.eps[index])
        self.line_of.append(self.line_of[index])

    def vectors(self, meanings: np.ndarray) -> np.ndarray:
        out = np.empty((len(self.units), DIM), dtype=np.float32)
        base = np.asarray(self.base)
        eps = np.asarray(self.eps, dtype=np.float32)
        same = np.asarray(self.same)
        for lo in range(0, len(out), 65536):
            hi = min(len(out), lo + 65536)
            noise = _unit(self.rng.normal(size=(hi - lo, DIM)).astype(np.float32))
            out[lo:hi] = _unit(meanings[base[lo:hi]] + eps[lo:hi, None] * noise)
        return out[same]  # identical text, identical vector (as the embedding cache gives)


def generate(n_units: int, seed: int = 7) -> Corpus:
    """About ``n_units`` units (within a few per cent), seeded."""
    rng = np.random.default_rng(seed)
    langs = {code: _Language(code, rng) for code in LANGUAGES}
    mean = _unit(rng.normal(size=DIM))
    topics = _unit(rng.normal(size=(40, DIM)))
    n_media = max(4, n_units // 16)
    n_campaigns = max(2, n_units // 20_000)
    lines_per_campaign = 8
    n_lines = n_campaigns * lines_per_campaign
    campaign_langs = [
        tuple(str(x) for x in rng.choice(LANGUAGES, size=int(rng.integers(1, 4)), replace=False))
        for _ in range(n_campaigns)
    ]
    # meaning ids: lines, then each line's translation, then phrases, then one per sentence
    line_words = {
        (line, lang): langs[lang].sentence(rng)
        for line in range(n_lines)
        for lang in campaign_langs[line // lines_per_campaign]
    }
    translation_id = {key: n_lines + i for i, key in enumerate(line_words)}
    phrase_words = {
        (lang, kind, i): langs[lang].sentence(rng)[: int(rng.integers(2, 5))]
        for lang in LANGUAGES
        for kind in ("hello", "bye")
        for i in range(4)
    }
    phrase_id = {key: n_lines + len(line_words) + i for i, key in enumerate(phrase_words)}
    next_meaning = n_lines + len(line_words) + len(phrase_words)
    build = _Builder(rng)
    media: dict[str, MediaInfo] = {}

    def recite(
        media_id: str, t: int, words: list[str], lang: str, base: int, eps: float, line: int, subs: bool
    ) -> int:
        text = langs[lang].render(words)
        heard = _asr_noise(text, rng, langs[lang].alphabet)
        end = build.add(
            media_id, t, heard, lang, "asr", base, eps if heard == text.rstrip(".。") else eps + 0.1, line
        )
        if subs:
            build.add(media_id, t, text, lang, "subtitle", base, eps, line)
        return end + int(rng.integers(400, 3000))

    originals: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    for m in range(n_media):
        media_id = f"m{m:07d}"
        campaign = int(rng.integers(n_campaigns)) if rng.random() < 0.35 else -1
        lang = str(rng.choice(campaign_langs[campaign])) if campaign >= 0 else str(rng.choice(LANGUAGES))
        subs = bool(rng.random() < 0.5)
        start = len(build.units)
        if originals and rng.random() < 0.01:  # a re-upload of an earlier medium
            source_id = originals[int(rng.integers(len(originals)))]
            shift = int(rng.integers(-300, 800))
            for i in range(*spans[source_id]):
                build.copy(i, media_id, shift)
            handle = f"@mirror_{rng.integers(10**6)}"
            duration = media[source_id].duration_ms + shift
            media[media_id] = MediaInfo(
                media_id, Source(channel=handle, handle=handle, published="2024-05-01"), duration
            )
            continue
        t = int(rng.integers(0, 3000))
        if rng.random() < 0.4:
            key = (lang, "hello", int(rng.integers(4)))
            t = recite(media_id, t, phrase_words[key], lang, phrase_id[key], 0.0, -1, subs)
        if campaign >= 0:
            chosen = rng.choice(lines_per_campaign, int(rng.integers(3, 7)), replace=False)
            for line in (campaign * lines_per_campaign + chosen).tolist():
                words, eps = line_words[(line, lang)], 0.0
                if rng.random() < 0.25:
                    words, eps = langs[lang].paraphrase(words, rng), 0.2
                t = recite(media_id, t, words, lang, translation_id[(line, lang)], eps, line, subs)
        n_own = int(rng.integers(2, 8)) if campaign >= 0 else int(rng.integers(5, 16))
        for _ in range(n_own):
            t = recite(media_id, t, langs[lang].sentence(rng), lang, next_meaning, 0.0, -1, subs)
            next_meaning += 1
        if rng.random() < 0.3:
            key = (lang, "bye", int(rng.integers(4)))
            t = recite(media_id, t, phrase_words[key], lang, phrase_id[key], 0.0, -1, subs)
        suffix = "".join(rng.choice(list("abcdefghijkmnpqrstuvwxyz23456789"), 5))
        handle = f"@voice_{suffix}" if campaign >= 0 else f"@person{m}"
        month = 3 if campaign >= 0 else int(rng.integers(1, 13))
        source = Source(
            channel=handle, handle=handle, published=f"2024-{month:02d}-{1 + int(rng.integers(28)):02d}"
        )
        media[media_id] = MediaInfo(media_id, source, t + 2000)
        if len(build.units) > start:
            originals.append(media_id)
            spans[media_id] = (start, len(build.units))

    def meaning(count: int) -> np.ndarray:
        out = np.empty((count, DIM), dtype=np.float32)
        for lo in range(0, count, 65536):
            hi = min(count, lo + 65536)
            topic = topics[rng.integers(0, len(topics), hi - lo)]
            out[lo:hi] = _unit(mean + 0.333 * topic + 0.527 * _unit(rng.normal(size=(hi - lo, DIM))))
        return out

    lines = meaning(n_lines)
    translations = np.stack(
        [
            _unit(lines[line] + (0.3 if i % 3 else 0.0) * _unit(rng.normal(size=DIM)))
            for i, (line, _) in enumerate(line_words)
        ]
    )
    phrases = meaning(len(phrase_words))
    meanings = np.concatenate(
        [lines, translations, phrases, meaning(next_meaning - n_lines - len(line_words) - len(phrase_words))]
    )
    vectors = build.vectors(meanings)
    line_of = np.asarray(build.line_of)
    stats = {
        "media": len(media),
        "units": len(build.units),
        "scripted units": int(np.sum(line_of >= 0)),
        "script lines": n_lines,
        "distinct texts": len(build.first_with),
    }
    return Corpus(build.units, vectors, media, line_of, phrases, stats)
