"""faster-whisper (CTranslate2) engine: int8 on CPU, VAD and word timestamps on."""

from __future__ import annotations

import math

import numpy as np

from analyzer import models
from analyzer.language import detect_text_language
from analyzer.records import Segment, Word
from analyzer.transcribe.base import TranscribeOptions, Transcript, register


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@register("faster-whisper")
class FasterWhisperTranscriber:
    """Loads the model once; transcribe() is then called for many media items."""

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

    def transcribe(self, audio: np.ndarray, media_id: str) -> Transcript:
        opts = self.options
        raw_segments, info = self.model.transcribe(
            audio,
            language=opts.language,
            beam_size=opts.beam_size,
            vad_filter=opts.vad,
            word_timestamps=opts.word_timestamps,
            condition_on_previous_text=False,  # limits repetition loops across segments
            # Detect the language of every 30 s window, not just the first: mixed-language
            # media would otherwise be transcribed (translated) as the first language.
            multilingual=opts.language is None,
        )
        segments: list[Segment] = []
        for raw in raw_segments:
            text = raw.text.strip()
            if not text:
                continue
            words = tuple(
                Word(_ms(w.start), _ms(w.end), w.word.strip(), float(w.probability))
                for w in (raw.words or ())
            )
            confidence = float(math.exp(raw.avg_logprob))
            if raw.no_speech_prob > opts.max_no_speech_prob and confidence < opts.min_confidence:
                continue  # Whisper's own rule: likely silence that it hallucinated over
            segments.append(
                Segment(
                    media_id=media_id,
                    start_ms=_ms(raw.start),
                    end_ms=_ms(raw.end),
                    text=text,
                    language=detect_text_language(text, fallback=info.language),
                    confidence=round(confidence, 4),
                    no_speech_prob=round(float(raw.no_speech_prob), 4),
                    words=words,
                )
            )
        return Transcript(
            segments=tuple(segments),
            language=info.language,
            language_probability=float(info.language_probability),
            duration_ms=_ms(info.duration),
        )
