"""Strings from strangers' files made safe to store and print: no lone surrogates.

Python strings can hold lone surrogates that no UTF-8 writer accepts: a file name with
bytes that are not UTF-8 arrives from ``os.walk`` as ``"caf\\udce9.mp4"``, and JSON
(``.info.json``, a JSONL manifest) may spell ``"\\ud800"``. SQLite and ``findings.json``
refuse them with a UnicodeEncodeError that would stop the whole batch, so every record is
cleaned before it is stored. The path used to open the file is never cleaned.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

T = TypeVar("T")

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """text with every lone surrogate replaced by U+FFFD (the text itself when it has none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def clean_record(value: T) -> T:
    """A copy of a frozen record (or tuple/list/dict of them) with every string cleaned.

    Records that need no cleaning are returned as they are, so the common case costs one
    encode per string and no copies.
    """
    return _clean(value)  # type: ignore[no-any-return]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            old = getattr(value, field.name)
            new = _clean(old)
            if new is not old:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple | list):
        items = [_clean(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        cleaned = {_clean(k): _clean(v) for k, v in value.items()}
        same = all(k in value and cleaned[k] is value[k] for k in cleaned)
        return value if same else cleaned
    return value
