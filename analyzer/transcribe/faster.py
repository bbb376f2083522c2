"""faster-whisper (CTranslate2) engine with Chorus's batched path.

For many short files the cost of Whisper on a CPU is its encoder, which reads 30 s
whatever the clip's length, and faster-whisper's ``transcribe`` runs it twice per file
(once to detect the language, once to decode). Here each batch of files goes through:

1. Silero VAD per file (silence is never encoded);
2. speech regions of one or several files packed into 30 s windows (``windows.py``);
3. one encoder pass per window, whose output serves language detection *and* decoding;
4. windows whose language Whisper is unsure of split (per file, then in halves) and
   detected again, so a mixed window is not decoded in one language;
5. batched beam search per language (each window with its own language token), word
   alignment, and the translation track from the same encoder output;
6. a window whose text stops before its speech ends is continued from its last
   timestamp in a later window, as Whisper's own seek would.

Identical audio (by content hash) is decoded once per worker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer import models
from analyzer.language import text_language_probs
from analyzer.records import Word
from analyzer.transcribe.base import (
    TRANSCRIPT_TRACK,
    TRANSLATION_TRACK,
    AudioItem,
    TranscribeOptions,
    Transcript,
    TranscriptCache,
    audio_key,
    register,
)
from analyzer.transcribe.evidence import Decoded, decided, finish, top_languages
from analyzer.transcribe.windows import (
    SAMPLE_RATE,
    Piece,
    Window,
    map_span,
    map_words,
    pack,
    speech_regions,
)
from analyzer.transcribe.windows import ms as _ms

if TYPE_CHECKING:
    from faster_whisper.tokenizer import Tokenizer

FRAMES = 3000  # mel frames in Whisper's 30 s input
HOP = 160  # samples per mel frame
TIME_PRECISION = 0.02  # seconds per timestamp token
MAX_ROUNDS = 4  # continuation passes for windows whose text stopped early
MAX_SPLITS = 2  # how often a window is halved to find where its language changes
LID_CANDIDATE_MIN = 0.05  # a language below this probability is not worth a decode
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


@dataclass
class _Queued:
    window: Window
    splits: int = 0


@dataclass
class _Ready:
    """A window with its encoder output and the languages to decode it in (best decode wins)."""

    window: Window
    encoded: np.ndarray
    probs: tuple[tuple[str, float], ...]
    candidates: tuple[str, ...]


@dataclass
class _Raw:
    """A decoded segment in window seconds, before it is mapped to its file."""

    start: float
    end: float
    tokens: list[int]
    words: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Choice:
    """One decode of a window in one language: its segments and scores."""

    ready: _Ready
    language: str
    segments: list[_Raw]
    covered: float | None  # where to continue when the text stopped early
    avg_logprob: float
    no_speech: float
    score: float = 0.0  # how plausible this language is, when several were tried


@register("faster-whisper")
class FasterWhisperTranscriber:
    """Loads the model once; transcribe_many() then takes batches of media items."""

    name = "faster-whisper"

    def __init__(self, options: TranscribeOptions) -> None:
        from faster_whisper import WhisperModel

        resolved = models.resolve("asr", options.model)
        self.options = options
        self.model = WhisperModel(
            resolved.location,
            device="cpu",
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
        )
        self.multilingual = bool(self.model.model.is_multilingual)
        self.cache = TranscriptCache()
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}

    # ---- the protocol ---------------------------------------------------------------------

    def transcribe(self, audio: np.ndarray, media_id: str) -> Transcript:
        result = self.transcribe_many([AudioItem(media_id, audio)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def transcribe_many(self, items: Sequence[AudioItem]) -> list[Transcript | Exception]:
        out: list[Transcript | Exception | None] = [None] * len(items)
        keys = [audio_key(item.audio) for item in items]
        first: dict[str, int] = {}
        todo: list[int] = []
        for i, (item, key) in enumerate(zip(items, keys, strict=True)):
            cached = self.cache.get(key, item.media_id)
            if cached is not None:
                out[i] = cached
            elif key not in first:
                first[key] = i
                todo.append(i)
        decoded = self._run([items[i].audio for i in todo])
        for i, result in zip(todo, decoded, strict=True):
            if isinstance(result, Exception):
                out[i] = result
                continue
            duration_ms = _ms(len(items[i].audio))
            transcript = finish(items[i].media_id, result, duration_ms, self.options)
            self.cache.put(keys[i], transcript)
            out[i] = transcript
        for i, (item, key) in enumerate(zip(items, keys, strict=True)):
            if out[i] is None:  # the same audio as an earlier item of this batch
                done = out[first[key]]
                out[i] = done.for_media(item.media_id) if isinstance(done, Transcript) else done
        return [r if r is not None else RuntimeError("not transcribed") for r in out]

    # ---- the batched path -------------------------------------------------------------------

    def _run(self, audios: Sequence[np.ndarray]) -> list[list[Decoded] | Exception]:
        """Decoded segments per audio; an audio whose VAD fails is an Exception entry."""
        results: list[list[Decoded] | Exception] = [[] for _ in audios]
        regions: list[list[tuple[int, int]]] = []
        for i, audio in enumerate(audios):
            try:
                regions.append(speech_regions(audio, self.options.vad))
            except Exception as exc:  # one unreadable signal must not sink the batch
                results[i] = exc
                regions.append([])
        queue = [_Queued(w) for w in pack(regions, self.options.pack_files)]
        for _ in range(MAX_ROUNDS):
            if not queue:
                break
            rest: list[list[tuple[int, int]]] = [[] for _ in audios]
            position = 0
            while position < len(queue):
                group = queue[position : position + self.options.batch_size]
                position += len(group)
                ready, split = self._detect(group, audios)
                queue.extend(split)  # encoded again in this round, in smaller pieces
                self._decode(ready, results, rest)
            queue = [_Queued(w) for w in pack(rest, self.options.pack_files)]
        return results

    def _encode(self, windows: Sequence[Window], audios: Sequence[np.ndarray]) -> np.ndarray:
        from faster_whisper.audio import pad_or_trim

        extractor = self.model.feature_extractor
        features = np.stack([pad_or_trim(extractor(w.audio(audios))[..., :-1], FRAMES) for w in windows])
        return np.asarray(self.model.encode(features), dtype=np.float32)

    def _detect(
        self, group: Sequence[_Queued], audios: Sequence[np.ndarray]
    ) -> tuple[list[_Ready], list[_Queued]]:
        """Encode a group of windows and name each one's language; unsure mixed ones are split."""
        import ctranslate2

        encoded = self._encode([q.window for q in group], audios)
        forced = self.options.language or (None if self.multilingual else "en")
        if forced:
            found = [[(f"<|{forced}|>", 1.0)] for _ in group]
        else:
            found = self.model.model.detect_language(ctranslate2.StorageView.from_array(encoded))
        ready: list[_Ready] = []
        split: list[_Queued] = []
        for q, row, languages in zip(group, encoded, found, strict=True):
            probs = top_languages([(code.strip("<|>"), p) for code, p in languages])
            parts = q.window.split() if q.splits < MAX_SPLITS else []
            if not forced and probs[0][1] < self.options.lid_split_below and parts:
                split.extend(_Queued(w, q.splits + 1) for w in parts)
                continue
            ready.append(_Ready(q.window, row, probs, (forced,) if forced else self._candidates(probs)))
        return ready, split

    def _candidates(self, probs: tuple[tuple[str, float], ...]) -> tuple[str, ...]:
        """The languages to try: the detected one, or the likeliest few when detection is unsure."""
        if probs[0][1] >= self.options.lid_try_below:
            return (probs[0][0],)
        likely = [code for code, p in probs[: self.options.lid_tries] if p >= LID_CANDIDATE_MIN]
        return tuple(likely or [probs[0][0]])

    def _tokenizer(self, language: str, task: str) -> Tokenizer:
        from faster_whisper.tokenizer import Tokenizer

        key = (language, task)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task=task, language=language
            )
        return self._tokenizers[key]

    def _decode(
        self,
        ready: Sequence[_Ready],
        results: list[list[Decoded] | Exception],
        rest: list[list[tuple[int, int]]],
    ) -> None:
        """Decode each window in its candidate languages, keep the likeliest, then align and map."""
        tries: dict[str, list[tuple[int, _Ready]]] = {}
        for index, r in enumerate(ready):
            for language in r.candidates:
                tries.setdefault(language, []).append((index, r))
        best: dict[int, _Choice] = {}
        for language, entries in tries.items():
            tokenizer = self._tokenizer(language, "transcribe")
            for start in range(0, len(entries), self.options.batch_size):
                batch = entries[start : start + self.options.batch_size]
                decoded = self._generate([r for _, r in batch], tokenizer, language)
                for (index, _), choice in zip(batch, decoded, strict=True):
                    if len(ready[index].candidates) > 1:
                        choice.score = _plausibility(choice, tokenizer)
                    if index not in best or choice.score > best[index].score:
                        best[index] = choice
        chosen: dict[str, list[_Choice]] = {}
        for index in sorted(best):
            chosen.setdefault(best[index].language, []).append(best[index])
        for language, choices in chosen.items():
            tokenizer = self._tokenizer(language, "transcribe")
            for start in range(0, len(choices), self.options.batch_size):
                picked = choices[start : start + self.options.batch_size]
                for c in picked:
                    for p in _to_redo(c):
                        rest[p.item].append((p.start, p.end))
                if self.options.word_timestamps:
                    self._align(picked, tokenizer)
                for c in picked:
                    for item, d in self._to_items(c, tokenizer):
                        target = results[item]
                        if isinstance(target, list):
                            target.append(d)
                if self.options.translate and language != "en":
                    self._translate([c.ready for c in picked], language, results)

    def _generate(self, batch: Sequence[_Ready], tokenizer: Tokenizer, language: str) -> list[_Choice]:
        """Beam search over a batch of windows in one language and task."""
        import ctranslate2
        from faster_whisper.transcribe import get_suppressed_tokens

        features = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.stack([r.encoded for r in batch]))
        )
        prompt = list(tokenizer.sot_sequence)
        results = self.model.model.generate(
            features,
            [prompt] * len(batch),
            beam_size=self.options.beam_size,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, (-1,))),
            max_initial_timestamp_index=50,  # the first words start within 1 s (Whisper's rule)
        )
        choices: list[_Choice] = []
        for r, result in zip(batch, results, strict=True):
            tokens = list(result.sequences_ids[0])
            # The score is length-normalised; Whisper's avg_logprob divides by one more (the end token).
            avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
            segments, covered = split_by_timestamps(tokens, tokenizer, r.window.length / SAMPLE_RATE)
            choices.append(_Choice(r, language, segments, covered, avg_logprob, float(result.no_speech_prob)))
        return choices

    def _align(self, batch: Sequence[_Choice], tokenizer: Tokenizer) -> None:
        """Word times from cross-attention (faster-whisper's own alignment), windows with text only."""
        import ctranslate2

        rows = [c for c in batch if any(s.tokens for s in c.segments)]
        if not rows:
            return
        features = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.stack([c.ready.encoded for c in rows]))
        )
        nested: list[list[dict[str, Any]]] = [
            [{"tokens": s.tokens, "start": s.start, "end": s.end, "seek": 0} for s in c.segments]
            for c in rows
        ]
        frames = [c.ready.window.length // HOP for c in rows]
        self.model.add_word_timestamps(
            nested, tokenizer, features, frames, PREPEND_PUNCTUATION, APPEND_PUNCTUATION, 0.0
        )
        for c, aligned_segments in zip(rows, nested, strict=True):
            for raw, aligned in zip(c.segments, aligned_segments, strict=True):
                raw.words = list(aligned.get("words") or [])
                raw.start, raw.end = float(aligned["start"]), float(aligned["end"])

    def _to_items(
        self, choice: _Choice, tokenizer: Tokenizer, track: str = TRANSCRIPT_TRACK
    ) -> list[tuple[int, Decoded]]:
        """Window segments as Decoded per file: words split between files by their times."""
        window, probs = choice.ready.window, decided(choice.ready.probs, choice.language)
        out: list[tuple[int, Decoded]] = []
        for raw in choice.segments:
            if raw.words:
                for item, words in map_words(window, raw.words):
                    text = "".join(w.text for w in words).strip()
                    clean = tuple(Word(w.start_ms, w.end_ms, w.text.strip(), w.probability) for w in words)
                    confidence = _word_confidence(words)
                    decoded = Decoded(
                        clean[0].start_ms,
                        clean[-1].end_ms,
                        text,
                        clean,
                        choice.avg_logprob,
                        choice.no_speech,
                        probs,
                        track,
                        confidence,
                    )
                    out.append((item, decoded))
                continue
            text = tokenizer.decode([t for t in raw.tokens if t < tokenizer.eot]).strip()
            if not text:
                continue
            item, start_ms, end_ms = map_span(window, raw.start, raw.end)
            out.append(
                (
                    item,
                    Decoded(start_ms, end_ms, text, (), choice.avg_logprob, choice.no_speech, probs, track),
                )
            )
        return out

    def _translate(
        self, batch: Sequence[_Ready], language: str, results: list[list[Decoded] | Exception]
    ) -> None:
        """The English translation track from the same encoder output (Whisper task=translate)."""
        tokenizer = self._tokenizer(language, "translate")
        for choice in self._generate(batch, tokenizer, language):
            for item, d in self._to_items(choice, tokenizer, TRANSLATION_TRACK):
                target = results[item]
                if isinstance(target, list):
                    target.append(d)


def split_by_timestamps(
    tokens: Sequence[int], tokenizer: Tokenizer, window_s: float
) -> tuple[list[_Raw], float | None]:
    """Segments between Whisper's timestamp tokens, and where to continue if the text stopped early.

    Returns:
        (segments in window seconds, covered): ``covered`` is the last closing timestamp
        when text after it was left unfinished (decode again from there), else None.
    """
    begin, eot = tokenizer.timestamp_begin, tokenizer.eot
    segments: list[_Raw] = []
    start: float | None = None
    text: list[int] = []
    seen_timestamp = False
    for token in tokens:
        if token == eot:
            break
        if token >= begin:
            seen_timestamp = True
            at = (token - begin) * TIME_PRECISION
            if start is not None and text:
                segments.append(_Raw(start, max(at, start), text))
                start, text = None, []
            else:
                start = at
        else:
            if start is None:
                start = segments[-1].end if segments else 0.0
            text.append(token)
    if text:
        if segments and seen_timestamp:
            return segments, segments[-1].end  # unfinished: Whisper seeks to the last timestamp
        segments.append(_Raw(start or 0.0, window_s, text))
    return segments, None


def _to_redo(choice: _Choice) -> list[Piece]:
    """Speech of a window its decode did not reach, to decode again in a later window.

    Text that stopped without its closing timestamp continues from the last timestamp
    (Whisper's seek); pieces no segment touches (Whisper ended the window early) are
    decoded again whole. A window with no text at all is taken as no speech.
    """
    window = choice.ready.window
    if not choice.segments:
        return []
    redo: dict[tuple[int, int], Piece] = {}
    if choice.covered is not None:
        for p in window.after(int(choice.covered * SAMPLE_RATE)):
            redo[(p.item, p.start)] = p
    spans = [(s.start * SAMPLE_RATE, s.end * SAMPLE_RATE) for s in choice.segments]
    if choice.covered is not None:
        spans.append((choice.covered * SAMPLE_RATE, float(window.length)))  # already queued above
    for p in window.uncovered(spans):
        redo.setdefault((p.item, p.start), p)
    return sorted(redo.values(), key=lambda p: (p.item, p.start))


def _plausibility(choice: _Choice, tokenizer: Tokenizer) -> float:
    """Log-score of a decode's language: Whisper's detection, its decode, and the text detector.

    The decode's own log-probability alone is no guide across languages (a decode in
    Latin of French speech can score best, in romanised gibberish), so the text it wrote
    must also read as that language: log p_audio + avg log-prob + log(p_text + 0.01).
    """
    text = " ".join(tokenizer.decode([t for t in s.tokens if t < tokenizer.eot]) for s in choice.segments)
    audio = dict(choice.ready.probs).get(choice.language, 0.0)
    written = text_language_probs(text)
    consistency = math.log(written.get(choice.language, 0.0) + 0.01) if written else math.log(0.5)
    return math.log(audio + 1e-6) + choice.avg_logprob + consistency


def _word_confidence(words: Sequence[Word]) -> float | None:
    """Geometric mean of a segment's word probabilities: its own confidence inside a shared window."""
    probs = [max(w.probability, 1e-6) for w in words if w.text.strip()]
    return float(np.exp(np.mean(np.log(probs)))) if probs else None


__all__ = ["TRANSCRIPT_TRACK", "FasterWhisperTranscriber", "split_by_timestamps"]
