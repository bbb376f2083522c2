"""Read sidecar subtitle files into plain-text cues.

Subtitles are evidence of what was said, so this module is forgiving: it guesses the
encoding (BOM, UTF-8, then a statistical guess), guesses the format from the content
and the extension, strips all styling, and skips cues it cannot trust (counting them)
instead of failing the whole file. It raises only when nothing at all can be read.
"""

from __future__ import annotations

import html
import json
import os
import re
import stat
import unicodedata
import warnings
from collections.abc import Iterable
from itertools import pairwise
from typing import NamedTuple

import pysubs2

from analyzer.errors import SubtitleError
from analyzer.limits import FLAGS, format_bytes
from analyzer.records import Cue
from analyzer.subtitles.broadcast import is_ebu_stl, is_scc, read_ebu_stl, read_scc

# Extensions of the sidecar files that belong to a media file (lower case, no dot).
SUBTITLE_EXTENSIONS = frozenset(
    {"srt", "vtt", "ass", "ssa", "ttml", "dfxp", "sbv", "sub", "srv1", "srv3", "ytt", "scc", "stl"}
)
# MicroDVD counts frames, not time; this rate is used when the file does not declare one.
DEFAULT_FPS = 25.0

# Extension -> parser; "sbv" is parsed here because pysubs2 does not read it.
_EXTENSION_FORMATS = {
    "srt": "srt",
    "vtt": "vtt",
    "ass": "ass",
    "ssa": "ssa",
    "ttml": "ttml",
    "dfxp": "ttml",
    "xml": "ttml",
    "sbv": "sbv",
    "sub": "microdvd",
    "smi": "sami",
    "json": "json-cues",
    "ytt": "ytt",
    "srv1": "ytt",
    "srv3": "ytt",
    "sami": "sami",
    "scc": "scc",
}
# Formats whose cues end at a blank line: pysubs2 glues a broken next block onto the cue.
_BLOCK_FORMATS = frozenset({"srt", "vtt"})

# ---------------------------------------------------------------------------- languages

# Every ISO 639-1 code, to tell a language tag in a file name from an ordinary word.
_ISO_639_1 = frozenset(
    {
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bh",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
    }
)
# Withdrawn two-letter codes still found in old files.
_OLD_TWO_LETTER = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}
# Common ISO 639-2 (both /B and /T forms) and 639-3 codes -> ISO 639-1.
_THREE_LETTER = {
    "afr": "af",
    "alb": "sq",
    "amh": "am",
    "ara": "ar",
    "arm": "hy",
    "aze": "az",
    "baq": "eu",
    "bel": "be",
    "ben": "bn",
    "bos": "bs",
    "bul": "bg",
    "bur": "my",
    "cat": "ca",
    "ces": "cs",
    "chi": "zh",
    "cmn": "zh",
    "cym": "cy",
    "cze": "cs",
    "dan": "da",
    "deu": "de",
    "dut": "nl",
    "ell": "el",
    "eng": "en",
    "epo": "eo",
    "est": "et",
    "eus": "eu",
    "fas": "fa",
    "fin": "fi",
    "fra": "fr",
    "fre": "fr",
    "geo": "ka",
    "ger": "de",
    "gle": "ga",
    "glg": "gl",
    "gre": "el",
    "guj": "gu",
    "hau": "ha",
    "heb": "he",
    "hin": "hi",
    "hrv": "hr",
    "hun": "hu",
    "hye": "hy",
    "ibo": "ig",
    "ice": "is",
    "ind": "id",
    "isl": "is",
    "ita": "it",
    "jpn": "ja",
    "kan": "kn",
    "kat": "ka",
    "kaz": "kk",
    "khm": "km",
    "kor": "ko",
    "kur": "ku",
    "lao": "lo",
    "lat": "la",
    "lav": "lv",
    "lit": "lt",
    "mac": "mk",
    "mal": "ml",
    "mar": "mr",
    "may": "ms",
    "mkd": "mk",
    "mon": "mn",
    "msa": "ms",
    "mya": "my",
    "nep": "ne",
    "nld": "nl",
    "nno": "nn",
    "nob": "nb",
    "nor": "no",
    "pan": "pa",
    "per": "fa",
    "pol": "pl",
    "por": "pt",
    "pus": "ps",
    "ron": "ro",
    "rum": "ro",
    "rus": "ru",
    "sin": "si",
    "slk": "sk",
    "slo": "sk",
    "slv": "sl",
    "som": "so",
    "spa": "es",
    "sqi": "sq",
    "srp": "sr",
    "swa": "sw",
    "swe": "sv",
    "tam": "ta",
    "tat": "tt",
    "tel": "te",
    "tgk": "tg",
    "tgl": "tl",
    "tha": "th",
    "tur": "tr",
    "ukr": "uk",
    "urd": "ur",
    "uzb": "uz",
    "vie": "vi",
    "wel": "cy",
    "xho": "xh",
    "yid": "yi",
    "yor": "yo",
    "zho": "zh",
    "zul": "zu",
}
# Codes that say "no particular language".
_NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "xx"})
# Tokens between the stem and the extension that describe the track, not its language.
_TRACK_FLAGS = frozenset({"forced", "sdh", "cc", "hi", "default", "orig", "auto"})
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$", re.IGNORECASE)


def normalise_language(code: str | None) -> str | None:
    """A language code as lower-case ISO 639-1 where one exists ("eng" -> "en", "pt-BR" -> "pt").

    Region and script subtags are dropped because matching across videos cares about the
    language only. "und" and other no-language codes give None; an unknown three-letter
    code is kept as it is, and anything that is not a code at all gives None.
    """
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    if not base.isalpha() or base in _NO_LANGUAGE:
        return None
    if len(base) == 2:
        return _OLD_TWO_LETTER.get(base, base)
    if len(base) == 3:
        return _THREE_LETTER.get(base, base)
    return None


def _known_language(token: str) -> str | None:
    """The language a file-name token names, only for codes known to be languages."""
    if not _LANGUAGE_TAG.match(token):
        return None
    base = token.lower().replace("_", "-").split("-")[0]
    if base in _ISO_639_1 or base in _OLD_TWO_LETTER or base in _THREE_LETTER:
        return normalise_language(base)
    return None


def language_from_filename(path: str) -> str | None:
    """The language tag of a yt-dlp style name: "NAME.pt-BR.srt" -> "pt", "NAME.srt" -> None.

    Tokens between the stem and the extension are read right to left, skipping track
    flags such as "forced" or "sdh"; only known language codes count, so an ordinary
    dotted name ("Talk.Part.srt") is not mistaken for a language.
    """
    parts = os.path.basename(path).split(".")
    for token in reversed(parts[1:-1]):
        if token.lower() in _TRACK_FLAGS:
            continue
        return _known_language(token)
    return None


# ----------------------------------------------------------------------------- sidecars


def _is_track_tag(token: str) -> bool:
    """True for a name token that may sit between stem and extension: language or flag."""
    return token.lower() in _TRACK_FLAGS or _LANGUAGE_TAG.match(token) is not None


def sidecar_subtitles(media_path: str, siblings: Iterable[str]) -> list[str]:
    """Subtitle files next to a media file that belong to it, as paths, sorted.

    A sidecar has the media file's exact stem, then optional language or flag tokens,
    then a subtitle extension: "clip.srt", "clip.en.vtt", "clip.en-US.forced.ass".
    The dot after the stem is required, so "clip.mp4" never claims "clip2.en.srt".
    """
    folder, name = os.path.split(media_path)
    stem = os.path.splitext(name)[0]
    prefix = stem + "."
    found = []
    for sibling in siblings:
        sibling = os.path.basename(sibling)
        if sibling == name or not sibling.startswith(prefix):
            continue
        tokens = sibling[len(prefix) :].split(".")
        if tokens[-1].lower() not in SUBTITLE_EXTENSIONS:
            continue
        if all(_is_track_tag(token) for token in tokens[:-1]):
            found.append(os.path.join(folder, sibling))
    return sorted(found)


# ---------------------------------------------------------------------------- encodings

# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _nul_share(sample: bytes, width: int, column: int) -> float:
    """Share of NUL bytes at one position of each width-byte code unit."""
    cells = sample[column : len(sample) - len(sample) % width : width]
    return cells.count(0) / max(1, len(cells))


def _nul_pattern_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, told apart by where the NUL bytes of ASCII characters sit."""
    sample = data[:4096]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    quads = [_nul_share(sample, 4, column) for column in range(4)]
    if min(quads[2:]) > 0.9 and quads[0] < 0.1:
        return "utf-32-le"
    if min(quads[:2]) > 0.9 and quads[3] < 0.1:
        return "utf-32-be"
    even, odd = _nul_share(sample, 2, 0), _nul_share(sample, 2, 1)
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _strict_decode(data: bytes, encoding: str) -> str | None:
    """data decoded, or None when it is not valid in that encoding."""
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_subtitle_bytes(data: bytes) -> tuple[str, str]:
    """Text and the encoding used: BOM, BOM-less UTF-16/32, UTF-8, a guess, then cp1252.

    Never raises: the last resort is cp1252 with replacement characters, because a few
    wrong letters still leave most of a subtitle usable as evidence.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict_decode(data[len(bom) :], encoding)
            if text is not None:
                return text, encoding
    for encoding in filter(None, (_nul_pattern_encoding(data), "utf-8")):
        text = _strict_decode(data, encoding)
        if text is not None:
            return text, encoding
    guess = _charset_guess(data)
    if guess is not None:
        return guess
    return data.decode("cp1252", errors="replace"), "cp1252"


def _charset_guess(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess, or None when it has none."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    text = _strict_decode(data, best.encoding)
    return (text, best.encoding) if text is not None else None


def _looks_binary(text: str) -> bool:
    """True when the decoded text is mostly control or replacement characters."""
    sample = text[:20000]
    if "\x00" in sample:
        return True
    bad = sum(
        1 for ch in sample if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\f\v")
    )
    return bad > max(8, len(sample) // 20)


# ------------------------------------------------------------------------------ styling

_ASS_OVERRIDE = re.compile(r"\{[^{}]*\\[^{}]*\}")  # {\i1}, {\an8}, {\pos(1,2)}
_ASS_BLOCK = re.compile(r"\{[^{}]*\}")  # in ASS any {...} is hidden, comments too
_ASS_BREAK = re.compile(r"\\[Nnh]")
_ASS_DRAWING = re.compile(r"\{[^{}]*\\p[1-9]")
# <i>, </b>, <font color=...>, <c.yellow>, <v Name>, <ruby>; and karaoke times <00:17.500>.
_MARKUP_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d{1,2}(?::\d{2}){1,2}[.,]\d{1,3}>")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"))
_WHITESPACE = re.compile(r"\s+")


def is_ass_drawing(text: str) -> bool:
    """True for an ASS event that draws shapes ({\\p1} ...) rather than showing words."""
    return _ASS_DRAWING.search(text) is not None


def clean_cue_text(text: str, ass: bool = False) -> str:
    """Cue text as one line of plain words: no tags, no entities, single spaces.

    With ``ass`` true every {...} block is dropped (ASS never shows braces); otherwise
    only blocks holding a backslash are, so literal braces in SubRip survive.
    """
    text = (_ASS_BLOCK if ass else _ASS_OVERRIDE).sub("", text)
    text = _ASS_BREAK.sub(" ", text)
    text = _MARKUP_TAG.sub("", text)
    text = html.unescape(text).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", text).strip()


# ------------------------------------------------------------------------------ parsing


class _RawCue(NamedTuple):
    """A cue as parsed, before checks: times may be bad and the text still styled."""

    start_ms: int
    end_ms: int
    text: str
    hidden: bool = False  # an ASS comment or drawing: not a line anyone says


class _Parsed(NamedTuple):
    format: str
    cues: list[_RawCue]
    skipped: int  # blocks the parser saw but could not time


_SBV_TIME = r"(\d+):(\d{2}):(\d{2})[.,](\d{3})"
_SBV_TIMING = re.compile(rf"^\s*{_SBV_TIME}\s*,\s*{_SBV_TIME}\s*$")
_MICRODVD_FPS = re.compile(r"^\{[01]\}\{[01]\}\s*(\d+(?:\.\d+)?)\s*$")
_MICRODVD_LINE = re.compile(r"^\{\d+\}\{\d*\}")
_TIMING_STAMP = re.compile(r"(?<![\w:.,])(\d{1,4}:)?(\d{1,3}):(\d{2})(?:[.,](\d+))?(?![\d:])")
_INLINE_TIMESTAMP = re.compile(r"<\d{1,4}(?::\d{2}){1,2}[.,]\d{1,3}>")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_TT_START = re.compile(r"<(tt)(?=[\s>/])[^>]*>")
_TT_ANY = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?tt[\s>/]")
_TTML_NAMESPACE = "http://www.w3.org/ns/ttml"
_OLD_TTML_NAMESPACE = re.compile(r"http://www\.w3\.org/2006/(?:02|04|10)/ttaf1")
_TTML_TIME_ATTRIBUTE = re.compile(r"\b(begin|end|dur)=\"([^\"]*)\"")
_TTML_FRAME_TIME = re.compile(r"(\d+):(\d{2}):(\d{2}):(\d+)(?:\.\d+)?")
_TTML_TICK_TIME = re.compile(r"(\d+(?:\.\d+)?)t")
_TTML_PARAGRAPH = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?p[\s>/]")
# Formats pysubs2 recognises from content so loosely that only the extension may ask.
_EXTENSION_ONLY = {"tmp": frozenset({"tmp", "txt"})}


def _sbv_ms(hours: str, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _parse_sbv(text: str) -> tuple[list[_RawCue], int]:
    """YouTube SBV: "H:MM:SS.mmm,H:MM:SS.mmm" then text lines, blocks split by blank lines."""
    cues, skipped = [], 0
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.split("\n")
        timing = _SBV_TIMING.match(lines[0])
        if timing is None:
            skipped += 1
            continue
        values = timing.groups()
        start, end = _sbv_ms(*values[:4]), _sbv_ms(*values[4:])
        cues.append(_RawCue(start, end, "\\N".join(lines[1:])))
    return cues, skipped


def _microdvd_fps(text: str, fps: float | None) -> tuple[str, float]:
    """Text without a leading "{1}{1}25.0" rate line, and the rate to use."""
    first, _, rest = text.lstrip().partition("\n")
    declared = _MICRODVD_FPS.match(first)
    if declared is None:
        return text, fps or DEFAULT_FPS
    return rest, fps or float(declared.group(1))


def _split_glued_blocks(cue: _RawCue) -> tuple[_RawCue, int]:
    """Undo pysubs2 gluing a following block onto an SRT/VTT cue after a blank line.

    A cue cannot hold a blank line, so what follows one is a block whose timing line was
    broken or missing (counted as skipped), a VTT NOTE/STYLE block, or a lone cue
    identifier (both dropped silently).
    """
    first, *rest = cue.text.split("\\N\\N")
    skipped = 0
    for block in rest:
        lines = [line for line in block.split("\\N") if line.strip()]
        if not lines or lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        if len(lines) > 1 or "-->" in lines[0]:
            skipped += 1
    return cue._replace(text=first), skipped


def _padded_stamp(match: re.Match[str]) -> str:
    hours, minutes, seconds, fraction = match.groups()
    millis = (fraction or "0")[:3].ljust(3, "0")
    if hours is None and int(minutes) > 59:
        # "120:10.000": a first field over 59 is hours (WebVTT; vtt.js reads it as h:mm).
        return f"{int(minutes):02d}:{seconds}:00.{millis}"
    return f"{hours or '00:'}{int(minutes):02d}:{seconds}.{millis}"


def _tidy_timing(text: str) -> str:
    """SRT/VTT with timing lines pysubs2 reads as meant, and no inline karaoke times.

    "00:01:39" gains ".000" and "00:02:04.08" means 80 ms, not 8 (pysubs2 reads WebVTT
    fractions as milliseconds); inline "<00:17.500>" tags go before parsing because a
    text line holding two of them would be taken for a timing line.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if "-->" in line:
            lines[number] = _TIMING_STAMP.sub(_padded_stamp, line)
        else:
            lines[number] = _INLINE_TIMESTAMP.sub("", line)
    return "\n".join(lines)


def _parse_with_pysubs2(text: str, format_: str, fps: float | None) -> tuple[list[_RawCue], int]:
    """Events read by pysubs2 as raw cues, plus blocks it glued on that must be skipped."""
    kwargs: dict[str, float] = {}
    if format_ == "microdvd":
        text, kwargs["fps"] = _microdvd_fps(text, fps)
    with warnings.catch_warnings():
        # pysubs2 warns about every odd style field; the cues are what matter here.
        warnings.simplefilter("ignore", RuntimeWarning)
        subs = pysubs2.SSAFile.from_string(text, format_=format_, **kwargs)
    cues, skipped = [], 0
    for event in subs.events:
        cue = _RawCue(event.start, event.end, event.text, event.is_comment or event.is_drawing)
        if format_ in _BLOCK_FORMATS:
            cue, extra = _split_glued_blocks(cue)
            skipped += extra
        cues.append(cue)
    return cues, skipped


def _ttml_rate(root: str, name: str, default: float) -> float:
    """A numeric ttp: parameter of the <tt> element, or the default."""
    found = re.search(rf"\b{name}=\"([^\"]+)\"", root)
    if found is None:
        return default
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", found.group(1))]
    if name == "frameRateMultiplier" and len(numbers) == 2 and numbers[1]:
        return numbers[0] / numbers[1]
    return numbers[0] if numbers and numbers[0] > 0 else default


def _clock(ms: float) -> str:
    total = max(0, round(ms))
    return f"{total // 3_600_000:02d}:{total // 60_000 % 60:02d}:{total % 60_000 / 1000:06.3f}"


def _ttml_plain_times(text: str) -> str:
    """Rewrite frame and tick times as clock times, the only kinds pysubs2 reads.

    "00:02:33:11" (SMPTE frames) and "1234567t" (ticks, common in DFXP) are converted
    with the file's ttp:frameRate, ttp:frameRateMultiplier and ttp:tickRate; "dur" is
    renamed to the "duration" pysubs2 looks for.
    """
    start = _TT_ANY.search(text)
    root = text[start.start() : text.find(">", start.start())] if start else ""
    fps = _ttml_rate(root, "frameRate", 30.0) * _ttml_rate(root, "frameRateMultiplier", 1.0)
    ticks = _ttml_rate(root, "tickRate", fps if "frameRate" in root else 1.0)

    def convert(match: re.Match[str]) -> str:
        value = match.group(2)
        frames = _TTML_FRAME_TIME.fullmatch(value)
        tick = _TTML_TICK_TIME.fullmatch(value)
        if frames:
            h, m, sec, f = (int(x) for x in frames.groups())
            value = _clock(((h * 60 + m) * 60 + sec) * 1000 + f * 1000 / fps)
        elif tick:
            value = _clock(float(tick.group(1)) * 1000 / ticks)
        name = "duration" if match.group(1) == "dur" else match.group(1)
        return f'{name}="{value}"'

    return _TTML_TIME_ATTRIBUTE.sub(convert, text)


def _prepare_ttml(text: str) -> str:
    """TTML ready for pysubs2: no XML declaration, and the TTML namespace on <tt>.

    The text is already decoded, so a declared encoding would only mislead the XML
    parser; and pysubs2 finds elements only in the TTML namespace, which old DFXP
    files spell differently (ttaf1) and some hand-written files leave out.
    """
    text = _XML_DECLARATION.sub("", text, count=1)
    text = _ttml_plain_times(_OLD_TTML_NAMESPACE.sub(_TTML_NAMESPACE, text))
    root = _TT_START.search(text)
    if root is not None and "xmlns=" not in root.group(0):
        text = f'{text[: root.end(1)]} xmlns="{_TTML_NAMESPACE}"{text[root.end(1) :]}'
    return text


def _parse_json_cues(text: str) -> tuple[list[_RawCue], int]:
    """A JSON list of {"start", "end", "text"} in seconds (subaligner, Whisper's "segments")."""
    data = json.loads(text)
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError("not a list of cues")
    cues, skipped = [], 0
    for item in items:
        try:
            start, end = round(float(item["start"]) * 1000), round(float(item["end"]) * 1000)
            cues.append(_RawCue(start, end, str(item["text"]).replace("\n", "\\N")))
        except (KeyError, TypeError, ValueError):
            skipped += 1
    return cues, skipped


_YTT_TEXT = re.compile(r"<text\b([^>]*)>(.*?)</text>", re.DOTALL)
_YTT_P = re.compile(r"<p\b([^>]*)>(.*?)</p>", re.DOTALL)
_XML_ATTRIBUTE = re.compile(r"([\w:]+)=\"([^\"]*)\"")


def _parse_ytt(text: str) -> tuple[list[_RawCue], int]:
    """YouTube timed text: srv1 ``<text start dur>`` in seconds, srv3 ``<p t d>`` in ms.

    A srv1 file whose every ``dur`` is at least its ``start`` and which, read as
    durations, would make most cues cover the next ones holds end times instead
    (subaligner writes them so); those are read as ends.
    """
    rows: list[tuple[float, float, str]] = []
    for attributes, body in _YTT_TEXT.findall(text):
        values = dict(_XML_ATTRIBUTE.findall(attributes))
        rows.append((float(values["start"]), float(values.get("dur", "0")), body))
    scale = 1.0
    if not rows:
        scale = 0.001
        for attributes, body in _YTT_P.findall(text):
            values = dict(_XML_ATTRIBUTE.findall(attributes))
            rows.append((float(values["t"]), float(values.get("d", "0")), body))
    ends_given = bool(rows) and all(d >= s for s, d, _ in rows)
    if ends_given:
        covering = sum(1 for (s, d, _), (nxt, _, _) in pairwise(rows) if s + d > nxt)
        ends_given = covering > len(rows) // 2
    cues = []
    for start, amount, body in rows:
        end = amount if ends_given else start + amount
        cues.append(_RawCue(round(start * 1000 * scale), round(end * 1000 * scale), body.replace("\n", " ")))
    return cues, 0


def _parse(text: str, format_: str, fps: float | None) -> tuple[list[_RawCue], int]:
    """Raw cues and the count of untimed blocks, in one format; parsers may raise."""
    if format_ == "sbv":
        return _parse_sbv(text)
    if format_ == "json-cues":
        return _parse_json_cues(text)
    if format_ == "ytt":
        return _parse_ytt(text)
    if format_ == "scc":
        scc, skipped = read_scc(text)
        return [_RawCue(start, end, body) for start, end, body in scc], skipped
    if format_ == "ttml":
        text = _prepare_ttml(text)
    elif format_ in _BLOCK_FORMATS:
        text = _tidy_timing(text)
    return _parse_with_pysubs2(text, format_, fps)


def _sniff_format(text: str) -> str | None:
    """The format the content itself shows, or None when it is unclear."""
    head = text.lstrip()[:2000]
    first_line = head.partition("\n")[0]
    if is_scc(first_line):
        return "scc"
    if _SBV_TIMING.match(first_line):
        return "sbv"
    if _MICRODVD_LINE.match(first_line):
        return "microdvd"
    if head.startswith(("[", "{")) and '"start"' in head and '"text"' in head:
        return "json-cues"
    if "<transcript>" in head or "<timedtext" in head:
        return "ytt"
    if _TT_ANY.search(head):
        return "ttml"
    try:
        return pysubs2.formats.autodetect_format(head)
    except pysubs2.exceptions.FormatAutodetectionError:
        return None


def _candidate_formats(path: str, text: str) -> list[str]:
    """Formats to try, content's guess first (names lie more often than contents)."""
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    sniffed = _sniff_format(text)
    if sniffed in _EXTENSION_ONLY and extension not in _EXTENSION_ONLY[sniffed]:
        sniffed = None
    candidates = [sniffed, _EXTENSION_FORMATS.get(extension)]
    return list(dict.fromkeys(c for c in candidates if c is not None))


def _is_empty_file_of(text: str, format_: str) -> bool:
    """True when a file with no cues is still plainly a file of that format (a header)."""
    head = text.lstrip()[:4000]
    if format_ == "vtt":
        return head.startswith("WEBVTT")
    if format_ in ("ass", "ssa"):
        return "[Script Info]" in head or "[Events]" in head
    if format_ == "ttml":
        return _TT_ANY.search(head) is not None and not _TTML_PARAGRAPH.search(text)
    return False


def _parse_any(path: str, text: str, fps: float | None) -> _Parsed:
    """Parse with the first candidate format that yields cues; raise if none does."""
    tried = []
    for format_ in _candidate_formats(path, text):
        try:
            cues, skipped = _parse(text, format_, fps)
        except Exception as exc:  # third-party parsers raise many kinds of error
            tried.append(f"{format_} ({type(exc).__name__}: {exc})")
            continue
        if cues or _is_empty_file_of(text, format_):
            return _Parsed(format_, cues, skipped)
        tried.append(f"{format_} (no cues)")
    detail = "; ".join(tried) if tried else "the content matched no known format"
    raise SubtitleError(path, f"no subtitle cues could be read: tried {detail}")


# ------------------------------------------------------------------------------ results


def _cues_from(parsed: _Parsed, media_id: str, track: str, language: str | None) -> tuple[list[Cue], int]:
    """Checked, cleaned, de-duplicated cues sorted by time, and how many were skipped."""
    ass = parsed.format in ("ass", "ssa")
    cues: dict[tuple[int, int, str], Cue] = {}
    skipped = parsed.skipped
    for raw in parsed.cues:
        if raw.hidden:
            continue
        if raw.start_ms < 0 or raw.end_ms < raw.start_ms:
            skipped += 1
            continue
        text = clean_cue_text(raw.text, ass=ass)
        if text:
            key = (raw.start_ms, raw.end_ms, text)
            cues.setdefault(key, Cue(media_id, track, raw.start_ms, raw.end_ms, text, language))
    return [cues[key] for key in sorted(cues)], skipped


def _read_bytes(path: str, max_bytes: int = 0) -> bytes:
    """The file's bytes; a file larger than ``max_bytes`` (when set) is refused unread."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # opening a named pipe would block forever
            raise SubtitleError(path, "not a regular file (a folder, pipe or device); not read")
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if max_bytes and size > max_bytes:
                limit = f"{format_bytes(max_bytes)} (raise it with {FLAGS['max_file_bytes']})"
                raise SubtitleError(path, f"subtitle file is {format_bytes(size)}; the limit is {limit}")
            return handle.read()
    except OSError as exc:
        raise SubtitleError(path, f"cannot read the file: {exc.strerror or exc}") from exc


# Lines that open one cue in each text format: a cheap count taken before parsing, so a
# file with millions of cues is refused in milliseconds instead of parsed for minutes.
_CUE_OPENERS = re.compile(r"-->|^Dialogue:|<(?:[A-Za-z_][\w.-]*:)?p[\s>]|^\{\d+\}\{", re.MULTILINE)


def _too_many_cues(path: str, count: int, max_cues: int, counted: str) -> SubtitleError:
    flag = FLAGS["max_cues_per_track"]
    problem = f"{count:,} {counted}; the limit is {max_cues:,} per track (raise it with {flag})"
    return SubtitleError(path, problem)


def read_subtitle_file(
    path: str,
    media_id: str,
    track: str,
    language: str | None = None,
    *,
    fps: float | None = None,
    max_cues: int = 0,
    max_bytes: int = 0,
) -> tuple[list[Cue], int]:
    """Plain-text cues of a subtitle file, sorted by time, and the count of skipped cues.

    Skipped cues are those with a negative time, an end before the start, or a timing
    line that could not be read. Comments, drawings, empty cues and exact duplicates
    (ASS often repeats a line on several layers) are dropped without counting. ``fps``
    is for MicroDVD files that do not declare a rate (default 25). An empty file gives
    no cues; SubtitleError is raised when the file cannot be read, holds nothing
    recognisable as subtitles, is larger than ``max_bytes`` or has more than
    ``max_cues`` cues (0: no limit).
    """
    data = _read_bytes(path, max_bytes)
    if is_ebu_stl(data):  # binary: read before any text decoding
        stl, skipped = read_ebu_stl(path, data)
        parsed = _Parsed("stl", [_RawCue(start, end, body) for start, end, body in stl], skipped)
        if max_cues and len(parsed.cues) > max_cues:
            raise _too_many_cues(path, len(parsed.cues), max_cues, "cues")
        return _cues_from(parsed, media_id, track, language)
    text, encoding = decode_subtitle_bytes(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        return [], 0
    if _looks_binary(text):
        raise SubtitleError(path, f"binary data, not a subtitle file (read as {encoding})")
    if max_cues:
        openers = len(_CUE_OPENERS.findall(text))
        if openers > max_cues:
            raise _too_many_cues(path, openers, max_cues, "cue timings")
    parsed = _parse_any(path, text, fps)
    if max_cues and len(parsed.cues) > max_cues:  # a format the quick count misses
        raise _too_many_cues(path, len(parsed.cues), max_cues, "cues")
    return _cues_from(parsed, media_id, track, language)
