"""Word gaps at sentence ends vs inside sentences: what pause should end an unpunctuated sentence?

Why: ``analyzer/units.py`` cuts ASR text into sentence units. When Whisper leaves text
unpunctuated, a pause of at least ``PAUSE_MS`` between two words ends a sentence
(``_runs``). Whether a lower value (say 300 ms) finds more real boundaries without cutting
lines in the middle depends on how the gaps between word timestamps look in the
transcripts Chorus actually gets, so this measures them on real speech rather than
assuming them.

How: every real clip of ``../shared/data/audio`` with several sentences or clauses
(``CLIPS`` says why each is in, ``SKIPPED`` why the rest are out; the same speech
counts once) is transcribed one clip at a time by four sources of word times:

* ``chorus``: the engine a scan uses, ``analyzer.transcribe.create(TranscribeOptions())``
  (default model whisper-base, faster-whisper with Chorus's VAD windows, word timestamps);
* ``plain``: faster-whisper's own ``WhisperModel.transcribe`` (same weights, beam 5,
  VAD on, word timestamps), a check that Chorus's windows do not change the picture;
* ``unpunctuated``: the same, with every punctuation token suppressed, which is what
  the pause rule sees when Whisper leaves a clip unpunctuated: are pauses still there?
* ``reference``: the pocketsphinx forced alignments (``.json`` next to the LibriVox
  clips), an independent aligner that times silences explicitly.

Every gap between consecutive words of a clip (across segments too) is labelled by the
earlier word's punctuation as Chorus transcribed it: ``sentence end`` (. ! ?),
``clause`` (, ; :), otherwise ``inside``; ``abbreviation`` (Mr. Mrs. Dr. ...) is kept
apart. Sources without their own punctuation (``unpunctuated``, ``reference``) take the
label of the Chorus word they align to (``difflib`` on normalised words); a word Chorus
did not produce is ``unaligned``. Transcripts are cached as JSON under
``out/bench-pauses/``, so a rerun takes seconds (``--refresh`` transcribes again).

Output: per source, for each threshold, the share of sentence-end gaps at or above it
(boundaries a pause rule would find), of clause gaps (cut by ``_runs`` too, since only
. ! ? exempt a word) and of inside gaps (false cuts), with counts; then the median / p90
/ max of each label's gaps. The current ``PAUSE_MS`` is the baseline row.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/pauses.py [--refresh] [--threads N]``
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
AUDIO_ROOT = REPO_ROOT.parent / "shared" / "data" / "audio"
CACHE_DIR = REPO_ROOT / "out" / "bench-pauses"
MODEL = "whisper-base"  # TranscribeOptions().model, checked in main()
THRESHOLDS_MS = (150, 200, 250, 300, 350, 400, 500, 600, 800)
LABELS = ("sentence end", "clause", "inside")
SENTENCE_END = ".!?。！？…"
CLAUSE = ",;:，；：、"
CLOSERS = "\"'”’)]}»"  # closing quotes/brackets after the punctuation: He said "stop."
ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "jr",
    "sr",
    "prof",
    "vs",
    "etc",
    "no",
    "nr",
    "bzw",
    "usw",
    "z",
    "b",
}

# Real speech of several sentences or clauses (relative to AUDIO_ROOT).
CLIPS: dict[str, str] = {
    "faster-whisper/multilingual.mp3": "60 s read MIT licence, English then German, many sentences",
    "faster-whisper/stereo_diarization.wav": "two speakers (L/R), a sentence each, mixed to mono",
    "faster-whisper/hotwords.mp3": "English speech, several clauses",
    "openai-whisper/jfk.flac": "JFK speech, clauses",
    "librosa-data/198-209-0000.ogg": "LibriSpeech read speech, several sentences",
    "librosa-data/3436-172162-0000.ogg": "LibriSpeech read speech, several sentences",
    "librosa-data/5703-47212-0000.ogg": "LibriSpeech read speech, clauses",
    **{f"coqui-tts-ljspeech/LJ001-000{i}.flac": "LJSpeech read speech, clauses" for i in range(1, 9)},
    **{
        f"pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav": (
            "LibriVox read speech with pocketsphinx word timings"
        )
        for n in ("870", "880", "890", "920", "930")
    },
}
SKIPPED: dict[str, str] = {
    "faster-whisper/jfk.flac": "byte-identical to openai-whisper/jfk.flac",
    "whisper.cpp/jfk.wav, jfk.mp3": "the same speech as openai-whisper/jfk.flac, another encoding",
    "gpac-testsuite/count_*.mp3": "counting aloud: number lists, not sentences",
    "speech_recognition/english.wav": "'one two three': a number list",
    "speech_recognition/french.aiff": "one short phrase, no boundary inside",
    "speech_recognition/chinese.flac": "five syllables, one phrase",
    "pocketsphinx/cards/*.wav": "grammar-constrained card names, not sentences",
    "pocketsphinx/goforward.raw": "one four-word command",
    "samples/videos (Chorus demo)": "synthetic espeak-ng speech, not real",
}


@dataclass(frozen=True)
class TimedWord:
    start_ms: int
    end_ms: int
    text: str
    segment: int = 0  # the ASR segment it came in (Whisper's timestamp tokens cut segments)


@dataclass(frozen=True)
class Gap:
    clip: str
    label: str
    ms: int
    before: str
    after: str
    boundary: bool = False  # the two words are in different ASR segments


Words = dict[str, list[TimedWord]]  # clip -> its words in order


def label_of(word: str) -> str:
    """The gap after ``word``: its own trailing punctuation, as Whisper wrote it."""
    tail = word.strip().rstrip(CLOSERS)
    if not tail:
        return "inside"
    if tail[-1] == "." and (tail[:-1].lower() in ABBREVIATIONS or re.fullmatch(r"\w", tail[:-1])):
        return "abbreviation"
    if tail[-1] in SENTENCE_END:
        return "sentence end"
    if tail[-1] in CLAUSE:
        return "clause"
    return "inside"


# ---- word sources (cached) ----------------------------------------------------------------


def _audio_key(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


def cached_words(
    source: str,
    clips: Sequence[tuple[str, np.ndarray]],
    refresh: bool,
    transcribe: Callable[[], Callable[[str, np.ndarray], list[list[Any]]]],
) -> Words:
    """Words per clip from ``out/bench-pauses/``, transcribing the clips not cached yet.

    ``transcribe()`` builds the engine (only when something is missing) and returns a
    function of (clip name, audio) -> [[start_ms, end_ms, text, segment index], ...].
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    run: Callable[[str, np.ndarray], list[list[Any]]] | None = None
    out: Words = {}
    for name, audio in clips:
        path = CACHE_DIR / f"{source}-{MODEL}-{_audio_key(audio)[:20]}.json"
        if refresh or not path.is_file():
            if run is None:
                run = transcribe()
            print(f"[{source}] transcribing {name} ...", file=sys.stderr, flush=True)
            words = run(name, audio)
            data = {"clip": name, "source": source, "model": MODEL, "words": words}
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        data = json.loads(path.read_text(encoding="utf-8"))
        out[name] = [
            TimedWord(int(a), int(b), t.strip(), int(k)) for a, b, t, k in data["words"] if t.strip()
        ]
    return out


def chorus_engine(threads: int) -> Callable[[str, np.ndarray], list[list[Any]]]:
    """Chorus's transcriber with its default options: the words a scan stores."""
    from analyzer.transcribe import TranscribeOptions, Transcript, create

    engine = create(TranscribeOptions(model=MODEL, cpu_threads=threads))

    def run(name: str, audio: np.ndarray) -> list[list[Any]]:
        transcript = engine.transcribe(audio, name)
        assert isinstance(transcript, Transcript)
        return [[w.start_ms, w.end_ms, w.text, k] for k, s in enumerate(transcript.segments) for w in s.words]

    return run


def plain_engine(threads: int, punctuation: bool) -> Callable[[str, np.ndarray], list[list[Any]]]:
    """faster-whisper's own transcribe (beam 5, VAD, word timestamps, language per segment),
    optionally with every punctuation token suppressed."""
    from faster_whisper import WhisperModel

    from analyzer import models

    model = WhisperModel(
        models.resolve("asr", MODEL).location, device="cpu", compute_type="int8", cpu_threads=threads
    )
    suppress = [-1]
    if not punctuation:
        suppress += punctuation_tokens(model)

    def run(name: str, audio: np.ndarray) -> list[list[Any]]:
        segments, _ = model.transcribe(
            audio,
            beam_size=5,
            vad_filter=True,
            word_timestamps=True,
            suppress_tokens=suppress,
            multilingual=True,  # language per segment, as Chorus detects it per window
        )
        return [
            [round(w.start * 1000), round(w.end * 1000), w.word, k]
            for k, s in enumerate(segments)
            for w in s.words or []
        ]

    return run


def punctuation_tokens(model: Any) -> list[int]:
    """Text tokens that are only sentence or clause punctuation (with quotes/spaces around)."""
    tokenizer = model.hf_tokenizer
    marks = set(SENTENCE_END + CLAUSE)
    allowed = marks | set(CLOSERS) | set("\"'“‘«( ")
    eot = tokenizer.token_to_id("<|endoftext|>")
    found = []
    for token in range(eot):
        text = tokenizer.decode([token]).strip()
        if text and set(text) <= allowed and set(text) & marks:
            found.append(token)
    return found


def reference_words(clips: Sequence[tuple[str, np.ndarray]]) -> Words:
    """pocketsphinx forced-alignment words per clip that has them (silences and fillers dropped)."""
    out: Words = {}
    for name, _ in clips:
        path = (AUDIO_ROOT / name).with_suffix(".json")
        if not path.is_file():
            continue
        words = []
        for w in json.loads(path.read_text(encoding="utf-8"))["w"]:
            text = re.sub(r"\(\d+\)$", "", w["t"])  # pronunciation variants: was(2)
            if not text or text[0] in "<[+":  # <sil>, <s>, [NOISE], ++BREATH++
                continue
            start = round(float(w["b"]) * 1000)
            words.append(TimedWord(start, start + round(float(w["d"]) * 1000), text))
        out[name] = words
    return out


# ---- gaps and labels ----------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"[^\w']", "", text.lower())


def _pieces(words: Sequence[TimedWord]) -> list[tuple[str, int, bool]]:
    """Words split at hyphens (ill-disposed -> ill, disposed): (piece, word index, is last piece)."""
    out: list[tuple[str, int, bool]] = []
    for i, w in enumerate(words):
        parts = [_norm(p) for p in w.text.split("-") if _norm(p)]
        out.extend((p, i, k == len(parts) - 1) for k, p in enumerate(parts))
    return out


def borrowed_labels(words: Sequence[TimedWord], labelled: Sequence[TimedWord]) -> list[str]:
    """The label after each of ``words``, from the ``labelled`` word its last piece matches."""
    mine, theirs = _pieces(words), _pieces(labelled)
    matcher = difflib.SequenceMatcher(a=[p for p, _, _ in mine], b=[p for p, _, _ in theirs], autojunk=False)
    match: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            match[block.a + k] = block.b + k
    labels = ["unaligned"] * len(words)
    for a, (_, word, last) in enumerate(mine):
        if not last:
            continue
        b = match.get(a)
        if b is None:
            continue
        _, theirs_word, theirs_last = theirs[b]
        labels[word] = label_of(labelled[theirs_word].text) if theirs_last else "inside"
    return labels


def gaps_of(clip: str, words: Sequence[TimedWord], labels: Sequence[str] | None = None) -> list[Gap]:
    """Gaps between consecutive words; the label after word i is its own, or ``labels[i]``."""
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(words)):
        label = labels[i] if labels is not None else label_of(a.text)
        out.append(Gap(clip, label, b.start_ms - a.end_ms, a.text, b.text, a.segment != b.segment))
    return out


def all_gaps(words: Words, labels_from: Words | None) -> list[Gap]:
    out: list[Gap] = []
    for clip, found in words.items():
        labels = borrowed_labels(found, labels_from[clip]) if labels_from is not None else None
        out.extend(gaps_of(clip, found, labels))
    return out


# ---- the tables ---------------------------------------------------------------------------


def _share(values: Sequence[int], threshold: int) -> str:
    if not values:
        return "-"
    hits = sum(v >= threshold for v in values)
    return f"{hits:>3}/{len(values):<3} {100 * hits / len(values):5.1f}%"


def _quantiles(gaps: Sequence[Gap]) -> str:
    if not gaps:
        return "-"
    arr = np.asarray([g.ms for g in gaps])
    edges = [g for g in gaps if g.boundary]
    return (
        f"n={len(arr):<4} median {np.median(arr):5.0f}  p90 {np.percentile(arr, 90):5.0f}  "
        f"max {arr.max():5.0f}  exactly 0: {int((arr == 0).sum()):<4} "
        f"at a segment boundary: {len(edges)} ({sum(g.ms != 0 for g in edges)} of them not 0)"
    )


def _listing(gaps: Sequence[Gap]) -> str:
    """Gaps as "ms (before | after)", "*" marking a segment boundary."""
    return ", ".join(f"{g.ms}{'*' if g.boundary else ''} ({g.before} | {g.after})" for g in gaps)


def print_source(title: str, gaps: Sequence[Gap], baseline_ms: int) -> None:
    by_label = {label: [g.ms for g in gaps if g.label == label] for label in LABELS}
    print(f"\n## {title}")
    print(f"{'>= ms':>6} | {'sentence end found':>18} | {'clause cut':>18} | {'inside (false cut)':>18}")
    print("-" * 71)
    for t in THRESHOLDS_MS:
        mark = "  <- PAUSE_MS now (baseline)" if t == baseline_ms else ""
        print(
            f"{t:>6} | {_share(by_label['sentence end'], t):>18} | {_share(by_label['clause'], t):>18} |"
            f" {_share(by_label['inside'], t):>18}{mark}"
        )
    print("gap ms per label:")
    for label in (*LABELS, "abbreviation", "unaligned"):
        mine = [g for g in gaps if g.label == label]
        if mine or label in LABELS:
            print(f"  {label:<12} {_quantiles(mine)}")


def print_pairs(title: str, words: Words, reference: Words) -> None:
    """The same pair of words timed by two sources: does one see the pauses the other sees?"""
    pairs: list[tuple[Gap, Gap]] = []
    for clip, ref in reference.items():
        other = words[clip]
        labels = borrowed_labels(ref, other)
        matcher = difflib.SequenceMatcher(a=[_norm(w.text) for w in ref], b=[_norm(w.text) for w in other])
        for block in matcher.get_matching_blocks():
            for k in range(block.size - 1):
                i, j = block.a + k, block.b + k
                r = Gap(clip, labels[i], ref[i + 1].start_ms - ref[i].end_ms, ref[i].text, ref[i + 1].text)
                o = Gap(
                    clip, labels[i], other[j + 1].start_ms - other[j].end_ms, other[j].text, other[j + 1].text
                )
                pairs.append((r, o))
    if not pairs:
        return
    diff = np.asarray([o.ms - r.ms for r, o in pairs])
    print(f"\n## {title} (n={len(pairs)} word pairs timed by both)")
    p10, p50, p90 = np.percentile(diff, [10, 50, 90])
    print(f"other gap - reference gap: median {p50:.0f} ms, p10 {p10:.0f}, p90 {p90:.0f}")
    for r, o in sorted(pairs, key=lambda p: -max(p[0].ms, p[1].ms))[:6]:
        print(f"  {r.before} | {r.after} ({r.label}): reference {r.ms} ms, other {o.ms} ms")


def load_clips() -> list[tuple[str, np.ndarray]]:
    """The CLIPS that exist, decoded as a scan decodes them; identical audio kept once."""
    from analyzer.media import decode_audio

    clips: list[tuple[str, np.ndarray]] = []
    seen: dict[str, str] = {}
    for name in CLIPS:
        path = AUDIO_ROOT / name
        if not path.is_file():
            print(f"missing, skipped: {name}", file=sys.stderr)
            continue
        audio = decode_audio(str(path))
        key = _audio_key(audio)
        if key in seen:
            print(f"same decoded audio as {seen[key]}, counted once: {name}", file=sys.stderr)
            continue
        seen[key] = name
        clips.append((name, audio))
    return clips


def main(argv: Sequence[str] | None = None) -> None:
    from analyzer.transcribe import TranscribeOptions
    from analyzer.units import PAUSE_MS

    if TranscribeOptions().model != MODEL:
        print(f"note: Chorus's default model is now {TranscribeOptions().model}, measuring {MODEL}")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="transcribe again, ignoring the cache")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--show", type=int, default=300, help="list the clause/sentence gaps around this")
    args = parser.parse_args(argv)

    clips = load_clips()
    chorus = cached_words("chorus", clips, args.refresh, lambda: chorus_engine(args.threads))
    plain = cached_words("plain", clips, args.refresh, lambda: plain_engine(args.threads, True))
    bare = cached_words("unpunctuated", clips, args.refresh, lambda: plain_engine(args.threads, False))
    reference = reference_words(clips)

    chorus_gaps = all_gaps(chorus, None)
    print(f"# Word gaps between consecutive words, model {MODEL} (faster-whisper, word timestamps)")
    print(f"{'clip':<62} {'sec':>5} {'words':>5}  end/clause/inside  {'ref words':>9}")
    for name, audio in clips:
        mine = [g for g in chorus_gaps if g.clip == name]
        counts = "/".join(str(sum(g.label == label for g in mine)) for label in LABELS)
        ref = str(len(reference[name])) if name in reference else "-"
        print(f"{name:<62} {len(audio) / 16000:5.1f} {len(chorus[name]):>5}  {counts:<18} {ref:>9}")
    print(f"skipped: {'; '.join(f'{k} ({v})' for k, v in SKIPPED.items())}")

    print_source("chorus: Chorus's transcriber (what a scan stores), all clips", chorus_gaps, PAUSE_MS)
    print_source("plain: faster-whisper's own transcribe, same weights", all_gaps(plain, None), PAUSE_MS)
    print_source(
        "unpunctuated: plain with punctuation tokens suppressed (labels from chorus)",
        all_gaps(bare, chorus),
        PAUSE_MS,
    )
    print_source(
        "reference: pocketsphinx forced alignment, LibriVox clips (labels from chorus)",
        all_gaps(reference, chorus),
        PAUSE_MS,
    )
    print_source(
        "chorus, the same LibriVox clips only",
        [g for g in chorus_gaps if g.clip in reference],
        PAUSE_MS,
    )
    print_pairs("reference vs chorus on the LibriVox clips", chorus, reference)

    print("\n## chorus: every sentence-end and clause gap in ms (* = between two ASR segments)")
    for label in ("sentence end", "clause", "abbreviation"):
        print(
            f"  {label}: "
            + _listing(sorted((g for g in chorus_gaps if g.label == label), key=lambda g: g.ms))
        )
    nonzero = [g for g in chorus_gaps if g.label == "inside" and g.ms != 0]
    print(f"  inside gaps not exactly 0: {len(nonzero)} {_listing(nonzero)}")
    bare_gaps = all_gaps(bare, chorus)
    print("\n## unpunctuated: the gaps where Chorus wrote . ! ? (the sentence ends a pause rule must find)")
    print("  " + _listing([g for g in bare_gaps if g.label == "sentence end"]))
    print("  every gap not 0: " + _listing([g for g in bare_gaps if g.ms != 0]))


if __name__ == "__main__":
    main()
