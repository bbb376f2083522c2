"""Speech to text behind one protocol; faster-whisper is the default engine."""

from analyzer.transcribe.base import Transcriber, TranscribeOptions, Transcript, create

__all__ = ["Transcriber", "TranscribeOptions", "Transcript", "create"]
