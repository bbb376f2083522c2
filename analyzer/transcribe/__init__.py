"""Speech to text behind one protocol: faster-whisper (default, batched) and openai-whisper."""

from analyzer.transcribe.base import (
    TRANSCRIPT_TRACK,
    TRANSLATION_TRACK,
    AsrSegment,
    AudioItem,
    GuardOptions,
    TranscribeOptions,
    Transcriber,
    Transcript,
    create,
)

__all__ = [
    "TRANSCRIPT_TRACK",
    "TRANSLATION_TRACK",
    "AsrSegment",
    "AudioItem",
    "GuardOptions",
    "TranscribeOptions",
    "Transcriber",
    "Transcript",
    "create",
]
