"""openai-whisper (PyTorch, float32 on CPU) engine, on a checkpoint converted from the same weights.

The reference implementation of Whisper, kept as a second engine so results can be
checked against it. Its ``transcribe`` detects the language once, on the first 30 s; here
each speech window (Silero VAD regions packed up to 30 s, from this file only) gets its
own detection and is decoded in its language, so mixed-language media works as with
the faster-whisper engine. Whisper's silent skipping of "no speech" windows is turned
off, as is its temperature fallback: every window is decoded once, as on the batched
path, and the shared guards flag what fails, visibly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import models
from analyzer.errors import ModelError
from analyzer.records import Word
from analyzer.transcribe.base import (
    TRANSLATION_TRACK,
    AudioItem,
    TranscribeOptions,
    Transcript,
    TranscriptCache,
    audio_key,
    register,
)
from analyzer.transcribe.convert import CHECKPOINT_NAME, prepare_converted
from analyzer.transcribe.evidence import Decoded, finish, top_languages
from analyzer.transcribe.windows import (
    Window,
    map_span,
    map_words,
    ms,
    pack,
    speech_regions,
)


def checkpoint_for(model: str) -> str:
    """A checkpoint file for ``model``: a .pt path, or a models.toml entry converted on first use.

    Raises:
        ModelError: the name is unknown, not an openai-whisper entry, or cannot be prepared.
    """
    if Path(model).is_file():
        return str(Path(model).resolve())
    spec = models.get_spec("asr", model)
    if spec.engine != "openai-whisper":
        converted = sorted(
            n
            for (kind, n), s in models.load_registry().items()
            if kind == "asr" and s.raw.get("convert_from") == model
        )
        hint = f"use --asr-model {converted[0]}" if converted else "convert it with `chorus models convert`"
        raise ModelError(f"asr model {model!r} is a {spec.engine} model, not an openai-whisper one; {hint}")
    folder = models.cache_dir() / model
    if spec.raw.get("convert_from"):
        prepare_converted(model)  # no-op when the cache already holds this conversion
        return str(folder / CHECKPOINT_NAME)
    resolved = models.resolve("asr", model)
    return resolved.location  # a hub name openai-whisper downloads itself (network machines only)


def load_checkpoint(path: str) -> Any:
    """A Whisper model on CPU, float32, with the word-timestamp heads the checkpoint names."""
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    if not Path(path).is_file():
        return whisper.load_model(path, device="cpu")  # an official name, downloaded
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not an openai-whisper checkpoint ({exc}); convert it again") from exc
    heads = (checkpoint.get("chorus") or {}).get("alignment_heads") or []
    if heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.float().eval()


@register("openai-whisper")
class OpenAIWhisperTranscriber:
    """Loads the checkpoint once; files are transcribed one after another (no batching)."""

    name = "openai-whisper"

    def __init__(self, options: TranscribeOptions) -> None:
        import torch

        if options.cpu_threads:
            torch.set_num_threads(options.cpu_threads)
        self.options = options
        self.model = load_checkpoint(checkpoint_for(options.model))
        self.cache = TranscriptCache()

    def transcribe(self, audio: np.ndarray, media_id: str) -> Transcript:
        key = audio_key(audio)
        cached = self.cache.get(key, media_id)
        if cached is not None:
            return cached
        transcript = finish(media_id, self._decode(audio), ms(len(audio)), self.options)
        self.cache.put(key, transcript)
        return transcript

    def transcribe_many(self, items: Sequence[AudioItem]) -> list[Transcript | Exception]:
        out: list[Transcript | Exception] = []
        for item in items:
            try:
                out.append(self.transcribe(item.audio, item.media_id))
            except Exception as exc:  # one item's failure is its entry
                out.append(exc)
        return out

    def _languages(self, window_audio: np.ndarray) -> tuple[tuple[str, float], ...]:
        import torch
        import whisper

        forced = self.options.language or (None if self.model.is_multilingual else "en")
        if forced:
            return ((forced, 1.0),)
        mel = whisper.log_mel_spectrogram(
            torch.from_numpy(window_audio), self.model.dims.n_mels, padding=whisper.audio.N_SAMPLES
        )
        mel = whisper.pad_or_trim(mel, whisper.audio.N_FRAMES)
        with torch.no_grad():
            _, probs = self.model.detect_language(mel)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        return top_languages([(code, float(p)) for code, p in ranked])

    def _decode(self, audio: np.ndarray) -> list[Decoded]:
        decoded: list[Decoded] = []
        for window in pack([speech_regions(audio, self.options.vad)], share=False):
            window_audio = window.audio([audio])
            probs = self._languages(window_audio)
            language = probs[0][0]
            decoded.extend(self._run(window, window_audio, language, "transcribe", probs))
            if self.options.translate and language != "en":
                decoded.extend(self._run(window, window_audio, language, "translate", probs))
        return decoded

    def _run(
        self,
        window: Window,
        window_audio: np.ndarray,
        language: str,
        task: str,
        probs: tuple[tuple[str, float], ...],
    ) -> list[Decoded]:
        import whisper

        words = self.options.word_timestamps and task == "transcribe"
        result = whisper.transcribe(
            self.model,
            window_audio,
            language=language,
            task=task,
            beam_size=self.options.beam_size,
            temperature=0.0,  # one decode, as the faster-whisper path: the guards judge it
            fp16=False,
            condition_on_previous_text=False,  # limits repetition loops across segments
            word_timestamps=words,
            no_speech_threshold=None,  # never skip silently: the guards flag it instead
            verbose=None,
        )
        track = TRANSLATION_TRACK if task == "translate" else "asr"
        out: list[Decoded] = []
        for seg in result["segments"]:
            avg_logprob, no_speech = float(seg["avg_logprob"]), float(seg["no_speech_prob"])
            aligned = [
                {"word": w["word"], "start": w["start"], "end": w["end"], "probability": w["probability"]}
                for w in seg.get("words") or []
            ]
            if aligned:
                for _, group in map_words(window, aligned):
                    clean = tuple(Word(w.start_ms, w.end_ms, w.text.strip(), w.probability) for w in group)
                    text = "".join(w.text for w in group).strip()
                    out.append(
                        Decoded(
                            clean[0].start_ms,
                            clean[-1].end_ms,
                            text,
                            clean,
                            avg_logprob,
                            no_speech,
                            probs,
                            track,
                        )
                    )
                continue
            _, start_ms, end_ms = map_span(window, float(seg["start"]), float(seg["end"]))
            out.append(
                Decoded(start_ms, end_ms, str(seg["text"]).strip(), (), avg_logprob, no_speech, probs, track)
            )
        return out
