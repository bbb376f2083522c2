"""ASR speed and accuracy: openai-whisper vs faster-whisper vs Chorus's batched path, same weights.

Why: transcription is most of a scan's cost, and the first place evidence can go wrong.
Every engine here runs Whisper base from the same weights (the CTranslate2 model in
models/cache, converted once for openai-whisper by ``chorus models convert``) on the
same audio: the rows of ``../shared/data/audio/REFERENCES.tsv`` whose reference is gold
(``gold``/``gold-ish``), files with identical decoded audio counted once.

Engines (each warmed up on one clip first; model loading is reported, not timed):

* ``openai-whisper fp32``: ``whisper.transcribe`` as its users run it (PyTorch, float32,
  beam 5, its default temperature fallback and language detection);
* ``faster-whisper int8 sequential``: ``WhisperModel.transcribe`` per file (beam 5);
* ``Chorus batched``: ``FasterWhisperTranscriber.transcribe_many`` over batches of files
  as a scan worker gets them (VAD, files packed into shared windows, one encoder pass
  for language and text, batched beam search, word timestamps on);
* ``Chorus, no packing``: the same with each file in its own windows (what packing adds).

WER is computed over all files together (edits / reference words) after Whisper's
English text normaliser on both sides. Wall time is the best of ``--repeat`` runs, the
engines interleaved so load from other processes hits them alike. RTF = wall / audio.

Usage: ``python benchmarks/asr.py [--repeat 2] [--threads N] [--engines openai,faster,chorus,nopack]``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
AUDIO_ROOT = REPO_ROOT.parent / "shared" / "data" / "audio"
BASELINE = "openai-whisper fp32"
SAMPLE_RATE = 16_000

Transcribe = Callable[[Sequence[np.ndarray]], list[str]]


@dataclass(frozen=True)
class Clip:
    path: str
    reference: str
    audio: np.ndarray


@dataclass
class Result:
    name: str
    load_s: float = 0.0
    wall_s: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def load_clips(root: Path) -> list[Clip]:
    """Gold rows of REFERENCES.tsv, decoded to 16 kHz mono; identical audio kept once."""
    from analyzer.media import decode_audio

    clips: list[Clip] = []
    seen: set[str] = set()
    with (root / "REFERENCES.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["reference_quality"].startswith("gold") or row["language"] != "en":
                continue
            path = root.parent / row["path"]  # paths start at the data folder: audio/...
            if path.suffix == ".raw":  # headerless 16 kHz s16le mono PCM
                audio = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
            else:
                audio = decode_audio(str(path))
            key = hashlib.sha256(audio.tobytes()).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            clips.append(Clip(row["path"], row["reference_text"], audio))
    return clips


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference words) after Whisper's English normaliser."""
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def openai_engine(threads: int) -> Transcribe:
    import torch
    import whisper

    from analyzer.transcribe.openai_whisper import checkpoint_for, load_checkpoint

    torch.set_num_threads(threads)
    model = load_checkpoint(checkpoint_for("whisper-base-openai"))

    def run(audios: Sequence[np.ndarray]) -> list[str]:
        return [
            str(whisper.transcribe(model, a, beam_size=5, best_of=5, fp16=False, verbose=None)["text"])
            for a in audios
        ]

    return run


def faster_engine(threads: int) -> Transcribe:
    from faster_whisper import WhisperModel

    from analyzer import models

    model = WhisperModel(
        models.resolve("asr", "whisper-base").location, device="cpu", compute_type="int8", cpu_threads=threads
    )

    def run(audios: Sequence[np.ndarray]) -> list[str]:
        out = []
        for a in audios:
            segments, _ = model.transcribe(a, beam_size=5)
            out.append(" ".join(s.text.strip() for s in segments))
        return out

    return run


def chorus_engine(threads: int, pack: bool) -> Transcribe:
    from analyzer.transcribe import AudioItem, TranscribeOptions, Transcript
    from analyzer.transcribe.faster import FasterWhisperTranscriber
    from pipelines.asr_batches import BatchOptions

    options = TranscribeOptions(cpu_threads=threads, pack_files=pack)
    engine = FasterWhisperTranscriber(options)
    batch = BatchOptions().max_files  # what one scan worker takes at once

    def run(audios: Sequence[np.ndarray]) -> list[str]:
        engine.cache = type(engine.cache)()  # time the work, not the per-worker cache of earlier runs
        out: list[str] = []
        for start in range(0, len(audios), batch):
            items = [AudioItem(f"m{start + i}", a) for i, a in enumerate(audios[start : start + batch])]
            for t in engine.transcribe_many(items):
                if not isinstance(t, Transcript):
                    raise t
                out.append(" ".join(s.text for s in t.segments))
        return out

    return run


ENGINES: dict[str, tuple[str, Callable[[int], Transcribe]]] = {
    "openai": (BASELINE, openai_engine),
    "faster": ("faster-whisper int8 sequential", faster_engine),
    "chorus": ("Chorus batched", lambda threads: chorus_engine(threads, True)),
    "nopack": ("Chorus, no packing", lambda threads: chorus_engine(threads, False)),
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per engine; the best wall time counts")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads per engine")
    parser.add_argument("--engines", default="openai,faster,chorus,nopack", help="comma-separated keys")
    parser.add_argument("--audio", type=Path, default=AUDIO_ROOT, help="folder with REFERENCES.tsv")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    clips = load_clips(args.audio)
    audios = [c.audio for c in clips]
    total_s = sum(len(a) for a in audios) / SAMPLE_RATE
    print(f"{len(clips)} clips, {total_s:.1f} s of audio, {args.threads} threads, best of {args.repeat}")
    keys = [k.strip() for k in args.engines.split(",") if k.strip()]
    runners: dict[str, Transcribe] = {}
    results: dict[str, Result] = {}
    for key in keys:
        name, factory = ENGINES[key]
        started = time.perf_counter()
        runners[key] = factory(args.threads)
        runners[key](audios[:1])  # warm-up: lazy initialisation and JIT are not the engine's speed
        results[key] = Result(name, load_s=time.perf_counter() - started)
    for _ in range(args.repeat):
        for key in keys:
            started = time.perf_counter()
            texts = runners[key](audios)
            results[key].wall_s.append(time.perf_counter() - started)
            results[key].texts = texts
    print_table(clips, results, total_s)


def print_table(clips: Sequence[Clip], results: dict[str, Result], total_s: float) -> None:
    base = next((r for r in results.values() if r.name == BASELINE), None)
    print()
    print(
        "| engine | wall s | RTF | speed vs openai-whisper | WER % | WER vs openai-whisper | load+warm-up s |"
    )
    print("|---|---|---|---|---|---|---|")
    base_wer = None
    rows = []
    for r in results.values():
        edits = words = 0
        for clip, text in zip(clips, r.texts, strict=True):
            e, n = word_errors(clip.reference, text)
            edits, words = edits + e, words + n
        wer = 100 * edits / max(1, words)
        if base is r:
            base_wer = wer
        rows.append((r, min(r.wall_s), wer))
    for r, wall, wer in rows:
        speed = f"{min(base.wall_s) / wall:.2f}x" if base else "-"
        wer_ratio = f"{wer / base_wer:.2f}" if base_wer else "-"
        cells = [
            r.name,
            f"{wall:.1f}",
            f"{wall / total_s:.3f}",
            speed,
            f"{wer:.2f}",
            wer_ratio,
            f"{r.load_s:.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for r, _, _ in rows:
        misses = [
            (clip.path, text)
            for clip, text in zip(clips, r.texts, strict=True)
            if word_errors(clip.reference, text)[0]
        ]
        print(f"{r.name}: {len(misses)} clip(s) with errors")
        for path, text in misses:
            print(f"    {path}: {text.strip()[:100]}")


if __name__ == "__main__":
    main()
