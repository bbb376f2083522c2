"""One base exception for Chorus; subclasses carry the input they are about."""

from __future__ import annotations


class ChorusError(Exception):
    """Base class: every message says what was wrong, with which input, and what to do."""


class MediaError(ChorusError):
    """A media file could not be read (corrupt, truncated, no audio stream, ...)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        # Rebuilt from its fields when it crosses from a worker process to the driver.
        return (type(self), (self.path, self.problem))


class SubtitleError(ChorusError):
    """A subtitle file or stream could not be read."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        return (type(self), (self.path, self.problem))


class ModelError(ChorusError):
    """A named model is not available here; the message says how to get it."""


class StoreError(ChorusError):
    """The SQLite store is missing, locked or from an unknown schema."""
