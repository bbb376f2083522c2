"""Random-handle detection: the character model (analyzer/handles.py) vs the old regex.

Why: the accounts component of the score must flag ``@voice_x7k2q`` and leave
``@maria_lopez`` and ``@john1987`` alone. Ordinary handles here are built from real
names: capitalised words in the middle of the Tatoeba sentences in
``../shared/data/text/tatoeba/`` (English, French, German, Spanish; proper nouns that
never appear in lower case there), alone, as name_name pairs, and followed by a year or a
small number. Random handles are those names followed by a seeded random run of 4-8
characters from [a-z0-9] (the seed case's marker), or by a run of 5-8 random letters.

    .venv/bin/python benchmarks/handles.py
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TATOEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "tatoeba"
_OLD_SUFFIX = re.compile(r"(?:^|[_.\-])([a-z0-9]{4,10})$")


def old_regex(handle: str) -> bool:
    """looks_random_handle as it was before the character model (the baseline)."""
    match = _OLD_SUFFIX.search(handle.lower().lstrip("@"))
    if not match:
        return False
    suffix = match.group(1)
    has_digit = any(c.isdigit() for c in suffix)
    has_alpha = any(c.isalpha() for c in suffix)
    return (has_digit and has_alpha) or (suffix.isdigit() and len(suffix) >= 5)


def real_names(folder: Path = TATOEBA) -> list[str]:
    """Proper nouns of the Latin-script Tatoeba files: capitalised mid-sentence, never lower case."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for path in sorted(folder.glob("tatoeba.*")):
        if path.suffix not in (".eng", ".fra", ".deu", ".spa"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            words = re.findall(r"[^\W\d_]+", line)
            lower.update(w for w in words if w.islower())
            capitalised.update(w for w in words[1:] if w[0].isupper() and w[1:].islower() and len(w) >= 3)
    return sorted(w.casefold() for w in capitalised if w.casefold() not in lower)


def handles(names: Sequence[str], seed: int = 1) -> tuple[list[str], list[str]]:
    """(ordinary, random) handles built from real names."""
    rng = random.Random(seed)
    ordinary: list[str] = []
    random_: list[str] = []
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    for name in names:
        other = rng.choice(names)
        ordinary += [
            name,
            f"{name}_{other}",
            f"{name}{rng.randint(1950, 2012)}",
            f"{name}_{rng.randint(1, 99)}",
        ]
        run = "".join(rng.choice(alnum) for _ in range(rng.randint(4, 8)))
        letters = "".join(rng.choice(alnum[:26]) for _ in range(rng.randint(5, 8)))
        random_ += [f"{name}_{run}", f"{name}{run}", f"{name}_{letters}"]
    return ordinary, random_


def main(argv: Sequence[str] | None = None) -> int:
    from analyzer.handles import handle_model, looks_random_handle

    names = real_names()
    if not names:
        print(f"no Tatoeba files in {TATOEBA}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    handle_model()
    build = time.perf_counter() - started
    ordinary, random_ = handles(names)
    print(f"{len(names)} real names from Tatoeba; {len(ordinary)} ordinary and {len(random_)} random handles")
    print(f"model built in {build:.1f} s")
    print(f"{'method':28s} {'false positives':>16s} {'false negatives':>16s} {'us/handle':>10s}")
    for label, method in (("regex (before)", old_regex), ("character model", looks_random_handle)):
        started = time.perf_counter()
        fp = sum(method(h) for h in ordinary) / len(ordinary)
        fn = sum(not method(h) for h in random_) / len(random_)
        per = (time.perf_counter() - started) / (len(ordinary) + len(random_)) * 1e6
        print(f"{label:28s} {fp:16.1%} {fn:16.1%} {per:10.0f}")
    kinds = ("name", "name_name", "name+year", "name_number")
    for k, kind in enumerate(kinds):
        subset = ordinary[k::4]
        print(f"  ordinary {kind:12s} flagged {sum(map(looks_random_handle, subset)) / len(subset):6.1%}")
    for k, kind in enumerate(("name_[a-z0-9]{4,8}", "name[a-z0-9]{4,8}", "name_[a-z]{5,8}")):
        subset = random_[k::3]
        missed = sum(not looks_random_handle(h) for h in subset) / len(subset)
        print(f"  random   {kind:20s} missed {missed:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
