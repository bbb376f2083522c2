"""How random an account handle looks: character surprisal against ordinary handles.

Why: accounts made in bulk for a campaign often get a name plus a string of random
characters (``@freevalley_voice_x7k2q``), while people pick words, names and numbers
that mean something to them (``@maria_lopez``, ``@john1987``). A regular expression
cannot tell ``lopez`` from ``x7k2q``; a model of how ordinary names are spelled can.

The model: a character 4-gram model with Witten-Bell interpolation, trained on what
ordinary handles are made of: the most frequent words of 20 Latin-script languages
(wordfreq, which includes first names and surnames as people write them), pairs of them
run together (``johnsmith``), and words followed by a year or a small number
(``maria1987``, ``tom_22``). Nothing in it is a list of random handles.

The score compares two explanations of the handle's ending: the ordinary model, and
characters drawn uniformly from ``[a-z0-9]`` (log2 36 = 5.17 bits each) or, for an
all-digit ending, from ``[0-9]`` (log2 10 bits each; the two equally likely). The
posterior probability of "random" (prior odds 1:4) for the most random-looking ending of
four or more characters is the score; ``looks_random_handle`` is that score >= 0.5.
"""

from __future__ import annotations

import math
import random
import re
from functools import lru_cache
from typing import Any

ORDER = 4  # characters of context + 1
MIN_SUFFIX = 4  # an ending shorter than this is never called random (too little evidence)
RANDOM_BITS = math.log2(36)  # one character drawn uniformly from [a-z0-9]
# Prior odds 4:1 for ordinary (most accounts are people's): a handle must be 2 bits more
# likely random than ordinary before it scores 0.5.
PRIOR_ORDINARY_BITS = 2.0
_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs",
    "ro", "hu", "tr", "id", "ms", "fil", "ca",
)  # fmt: skip
_WORDS_PER_LANGUAGE = 10000
_SEPARATORS = re.compile(r"[\s._\-]+")
_BOUNDARY = "|"  # a separator inside a handle: starts a new segment, like a word boundary


class _Table:
    """Counts by integer code: sorted keys and their values."""

    def __init__(self, keys: Any, values: Any) -> None:
        self.keys = keys
        self.values = values

    @classmethod
    def empty(cls) -> _Table:
        import numpy as np

        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def get(self, key: int, default: int = 0) -> int:
        i = int(self.keys.searchsorted(key))
        if i < len(self.keys) and int(self.keys[i]) == key:
            return int(self.values[i])
        return default


class HandleModel:
    """A character n-gram model of ordinary handles (see the module docstring).

    N-grams are counted as integer codes with numpy (a few hundred thousand strings in
    about a second) and looked up by binary search.
    """

    def __init__(self, strings: list[str]) -> None:
        import numpy as np

        chars = sorted(set("".join(strings)) | {"^", "$"})
        self.code = {c: i + 1 for i, c in enumerate(chars)}
        self.base = len(chars) + 1
        self.alphabet = frozenset(chars) - {"^"}
        pad = ORDER - 1
        text = "".join("^" * pad + s + "$" for s in strings)
        arr = np.fromiter((self.code[c] for c in text), dtype=np.int64, count=len(text))
        lengths = np.array([len(s) + 1 + pad for s in strings], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        predicted = np.ones(len(arr), dtype=bool)
        for k in range(pad):
            predicted[starts + k] = False
        targets = np.flatnonzero(predicted)
        self.counts: list[_Table] = [_Table.empty() for _ in range(ORDER + 1)]
        self.followers: list[_Table] = [_Table.empty() for _ in range(ORDER + 1)]
        self.context_totals: list[_Table] = [_Table.empty() for _ in range(ORDER + 1)]
        for n in range(1, ORDER + 1):
            codes = np.zeros(len(targets), dtype=np.int64)
            for j in range(n):
                codes = codes * self.base + arr[targets - n + 1 + j]
            grams, counts = np.unique(codes, return_counts=True)
            self.counts[n] = _Table(grams, counts)
            if n >= 2:
                contexts, first, types = np.unique(grams // self.base, return_index=True, return_counts=True)
                totals = np.add.reduceat(counts, first)
                self.followers[n - 1] = _Table(contexts, types)
                self.context_totals[n - 1] = _Table(contexts, totals)
        self.total = len(targets)
        self.n_chars = len(self.counts[1].keys)

    def probability(self, history: str, char: str) -> float:
        """P(char | the last ORDER-1 characters of history), Witten-Bell interpolated."""
        c = self.code[char]
        p = 1.0 / (len(self.alphabet) + 1)  # the floor: any character, even an unseen one
        p = (self.counts[1].get(c, 0) + self.n_chars * p) / (self.total + self.n_chars)
        for n in range(2, ORDER + 1):
            context = 0
            for h in history[-(n - 1) :]:
                context = context * self.base + self.code.get(h, 0)
            seen = self.context_totals[n - 1].get(context, 0)
            if not seen:
                continue
            types = self.followers[n - 1].get(context)
            p = (self.counts[n].get(context * self.base + c, 0) + types * p) / (seen + types)
        return p

    def surprisals(self, segment: str) -> list[float]:
        """Bits for each character of one segment (no separators), in context."""
        history = "^" * (ORDER - 1)
        bits = []
        for char in segment:
            if char in self.alphabet and char != "$":
                bits.append(-math.log2(self.probability(history, char)))
            else:  # a script the model never saw: no evidence either way
                bits.append(RANDOM_BITS)
            history += char
        return bits


def _training_strings(seed: int = 7) -> list[str]:
    from wordfreq import top_n_list

    words: list[str] = []
    for language in _LANGUAGES:
        for word in top_n_list(language, _WORDS_PER_LANGUAGE):
            word = word.casefold()
            if word.isalpha() and len(word) >= 2:
                words.append(word)
    words = sorted(set(words))
    rng = random.Random(seed)
    strings = list(words)
    common = words[: len(words)]
    strings += [rng.choice(common) + rng.choice(common) for _ in range(len(words) // 3)]
    numbers = [str(year) for year in range(1950, 2030)] + [str(n) for n in range(1, 100)]
    strings += [rng.choice(common) + rng.choice(numbers) for _ in range(len(words) // 3)]
    strings += [rng.choice(numbers) for _ in range(len(words) // 6)]  # a segment of its own: tom_1987
    return strings


@lru_cache(maxsize=1)
def handle_model() -> HandleModel:
    """The model, built once per process (about two seconds)."""
    return HandleModel(_training_strings())


def _segments(handle: str) -> list[str]:
    name = handle.strip().lstrip("@").casefold()
    return [s for s in _SEPARATORS.split(name) if s]


def handle_randomness(handle: str | None, model: HandleModel | None = None) -> float:
    """P(the handle ends in random characters), in [0, 1]; 0 for no handle.

    The ending is the last segment (after the last ``_ . -``) or, when that is long, any
    trailing run of at least MIN_SUFFIX characters in it: ``mariagarcia7k2q9`` is scored
    on its most random-looking tail. Log-likelihood ratio of "uniform [a-z0-9]" against
    the ordinary model, turned into a probability with prior odds 1:4 (PRIOR_ORDINARY_BITS).
    """
    if not handle:
        return 0.0
    if model is None:
        return _default_randomness(handle)  # the same handles recur across thousands of talking points
    return _randomness(handle, model)


@lru_cache(maxsize=1 << 16)
def _default_randomness(handle: str) -> float:
    return _randomness(handle, handle_model())


def _randomness(handle: str, model: HandleModel) -> float:
    segments = _segments(handle)
    if not segments:
        return 0.0
    last = segments[-1]
    if len(last) < MIN_SUFFIX:
        return 0.0
    bits = model.surprisals(last)
    # the whole segment, and every tail that starts where letters and digits switch
    starts = [0] + [i for i in range(1, len(last)) if last[i].isdigit() != last[i - 1].isdigit()]
    best = max(
        _ordinary_bits(model, last[i:], bits[i:]) - _random_bits(last[i:])
        for i in starts
        if len(last) - i >= MIN_SUFFIX
    )
    odds = best - PRIOR_ORDINARY_BITS
    if odds > 60:
        return 1.0
    return 1.0 / (1.0 + 2.0 ** (-odds))


def _ordinary_bits(model: HandleModel, tail: str, in_context: list[float]) -> float:
    """Bits of a tail under the ordinary model: in context, or a number of its own.

    ``paris1987`` is a name and then a year; the year is as ordinary as in ``paris_1987``.
    """
    bits = sum(in_context)
    if tail.isdigit():
        bits = min(bits, sum(model.surprisals(tail)))
    return bits


def _random_bits(tail: str) -> float:
    """Bits of a tail under "random": uniform [a-z0-9], or (half the prior) uniform digits.

    Generated numeric suffixes (``user_839271``) are as random as mixed ones, but only
    digits were drawn, so each costs log2 10 bits, not log2 36.
    """
    alnum = 2.0 ** (-len(tail) * RANDOM_BITS)
    digits = 10.0 ** (-len(tail)) if tail.isdigit() else 0.0
    return -math.log2(0.5 * alnum + 0.5 * digits)


def looks_random_handle(handle: str | None) -> bool:
    """True for handles ending in a random-looking run like ``_x7k2q`` or ``93fj1``."""
    return handle_randomness(handle) >= 0.5
