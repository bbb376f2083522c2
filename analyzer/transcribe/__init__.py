"""Speech to text behind one protocol; faster-whisper is the default engine."""

from analyzer.transcribe.base import TranscribeOptions, Transcriber, Transcript, create

__all__ = ["TranscribeOptions", "Transcriber", "Transcript", "create"]
