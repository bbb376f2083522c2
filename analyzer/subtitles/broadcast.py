"""Broadcast caption formats: EBU STL (binary) and Scenarist SCC (CEA-608 byte pairs).

Both come from television workflows and turn up next to re-posted broadcast clips.
EBU STL (EBU Tech 3264) is read here: a 1024-byte GSI header block, then 128-byte TTI
blocks, each holding a subtitle number, in/out timecodes in frames and up to 112 bytes
of teletext-coded text. SCC holds CEA-608 control and character codes, one byte pair per
frame at 29.97 fps; a caption's time is when CEA-608 displays it (for pop-on captions,
the frame of its End Of Caption command), not when its line starts.

Readers return plain (start_ms, end_ms, text) tuples and a count of skipped cues; the
caller cleans and checks them like any other format.
"""

from __future__ import annotations

import re
import unicodedata

from analyzer.errors import SubtitleError

GSI_SIZE = 1024
TTI_SIZE = 128
SCC_HEADER = "Scenarist_SCC V1.0"
# Disk format code -> frames per second of the timecodes (STL30 is NTSC, counted at 30).
_STL_FRAME_RATES = {b"STL25.01": 25, b"STL30.01": 30, b"STL24.01": 24, b"STL50.01": 50}
# Character code table (GSI CCT) -> the codec for bytes 0x20-0x7F and 0xA0-0xFF.
STL_CODE_TABLES = {
    b"00": "iso6937",
    b"01": "iso8859_5",
    b"02": "iso8859_6",
    b"03": "iso8859_7",
    b"04": "iso8859_8",
}
_EBN_LAST = 0xFF
_EBN_USER_DATA = 0xFE
_CR_LF = 0x8A
_UNUSED = 0x8F
_MAX_STL_BLOCKS = 99_999  # TNB has five digits

# ISO 6937 upper half: spacing characters, and the non-spacing diacritics (0xC1-0xCF)
# that combine with the letter after them.
_ISO6937_SPACING = {
    0xA0: "\u00a0", 0xA1: "¡", 0xA2: "¢", 0xA3: "£", 0xA4: "$", 0xA5: "¥", 0xA6: "#", 0xA7: "§",
    0xA8: "¤", 0xA9: "‘", 0xAA: "“", 0xAB: "«", 0xAC: "←", 0xAD: "↑", 0xAE: "→", 0xAF: "↓",
    0xB0: "°", 0xB1: "±", 0xB2: "²", 0xB3: "³", 0xB4: "×", 0xB5: "µ", 0xB6: "¶", 0xB7: "·",
    0xB8: "÷", 0xB9: "’", 0xBA: "”", 0xBB: "»", 0xBC: "¼", 0xBD: "½", 0xBE: "¾", 0xBF: "¿",
    0xD0: "―", 0xD1: "¹", 0xD2: "®", 0xD3: "©", 0xD4: "™", 0xD5: "♪", 0xD6: "¬", 0xD7: "¦",
    0xDC: "⅛", 0xDD: "⅜", 0xDE: "⅝", 0xDF: "⅞",
    0xE0: "Ω", 0xE1: "Æ", 0xE2: "Đ", 0xE3: "ª", 0xE4: "Ħ", 0xE6: "Ĳ", 0xE7: "Ŀ",
    0xE8: "Ł", 0xE9: "Ø", 0xEA: "Œ", 0xEB: "º", 0xEC: "Þ", 0xED: "Ŧ", 0xEE: "Ŋ", 0xEF: "ŉ",
    0xF0: "ĸ", 0xF1: "æ", 0xF2: "đ", 0xF3: "ð", 0xF4: "ħ", 0xF5: "ı", 0xF6: "ĳ", 0xF7: "ŀ",
    0xF8: "ł", 0xF9: "ø", 0xFA: "œ", 0xFB: "ß", 0xFC: "þ", 0xFD: "ŧ", 0xFE: "ŋ", 0xFF: "\u00ad",
}  # fmt: skip
_ISO6937_DIACRITICS = {
    0xC1: "\u0300", 0xC2: "\u0301", 0xC3: "\u0302", 0xC4: "\u0303", 0xC5: "\u0304", 0xC6: "\u0306",
    0xC7: "\u0307", 0xC8: "\u0308", 0xCA: "\u030a", 0xCB: "\u0327", 0xCD: "\u030b", 0xCE: "\u0328",
    0xCF: "\u030c",
}  # fmt: skip


def is_ebu_stl(data: bytes) -> bool:
    """True when the bytes start like an EBU STL file (a known disk format code)."""
    return len(data) >= GSI_SIZE and data[3:11] in _STL_FRAME_RATES


def _iso6937(data: bytes) -> str:
    """ISO 6937 text (EBU STL's Latin table): ASCII below 0x80, the table above."""
    out: list[str] = []
    accent: str | None = None
    for byte in data:
        if byte in _ISO6937_DIACRITICS:
            accent = _ISO6937_DIACRITICS[byte]
            continue
        char = chr(byte) if byte < 0x80 else _ISO6937_SPACING.get(byte, " ")
        if accent is not None:
            char = unicodedata.normalize("NFC", char + accent)
            accent = None
        out.append(char)
    return "".join(out)


def _stl_text(field: bytes, codec: str) -> str:
    """Plain text of a TTI text field: teletext controls become spaces, line breaks too."""
    printable = bytearray()
    for byte in field:
        if byte == _UNUSED:
            break
        # 0x00-0x1F teletext colour/box/size codes and 0x80-0x9F italics/underline/CR-LF
        # are spacing attributes: shown as a space, never as a character.
        printable.append(0x20 if byte < 0x20 or 0x80 <= byte < 0xA0 else byte)
    data = bytes(printable)
    if codec == "iso6937":
        return _iso6937(data)
    return data.decode(codec, errors="replace")


def _stl_time(raw: bytes, fps: int) -> int | None:
    """A TTI timecode (hours, minutes, seconds, frames as bytes) in ms; None when invalid."""
    hours, minutes, seconds, frames = raw
    if minutes > 59 or seconds > 59 or frames >= fps:
        return None
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + round(frames * 1000 / fps)


def _gsi_timecode(raw: bytes, fps: int) -> int:
    """A GSI "HHMMSSFF" timecode in ms; 0 when it is blank or not digits."""
    text = raw.decode("ascii", errors="replace")
    if not text.isdigit() or len(text) != 8:
        return 0
    hours, minutes, seconds, frames = (int(text[i : i + 2]) for i in range(0, 8, 2))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + round(min(frames, fps - 1) * 1000 / fps)


def read_ebu_stl(path: str, data: bytes) -> tuple[list[tuple[int, int, str]], int]:
    """Cues of an EBU STL file and the count of subtitles skipped for bad timecodes.

    Extension blocks (same subtitle number, EBN below 0xFF) are joined; comment
    subtitles (CF=1) and user-data blocks are left out. Times are relative to the start
    of programme (GSI TCP) when every subtitle starts at or after it, as broadcast
    files written against a 10:00:00:00 clock do; otherwise they are taken as written.
    Raises SubtitleError for a file that is not STL or has an unknown character table.
    """
    if not is_ebu_stl(data):
        raise SubtitleError(path, "not an EBU STL file (no STL25.01/STL30.01 disk format code)")
    fps = _STL_FRAME_RATES[data[3:11]]
    codec = STL_CODE_TABLES.get(data[12:14])
    if codec is None:
        raise SubtitleError(path, f"EBU STL character code table {data[12:14]!r} is not one of 00-04")
    count = min((len(data) - GSI_SIZE) // TTI_SIZE, _MAX_STL_BLOCKS)
    subtitles: list[tuple[int, int, str]] = []
    skipped = 0
    parts: list[str] = []
    for index in range(count):
        block = data[GSI_SIZE + index * TTI_SIZE : GSI_SIZE + (index + 1) * TTI_SIZE]
        extension, comment = block[3], block[15]
        if extension == _EBN_USER_DATA:
            continue
        parts.append(_stl_text(block[16:], codec))
        if extension != _EBN_LAST:
            continue  # more text follows in the next block of this subtitle
        text, parts = " ".join(parts), []
        start, end = _stl_time(block[5:9], fps), _stl_time(block[9:13], fps)
        if comment == 1:
            continue
        if start is None or end is None:
            skipped += 1
            continue
        subtitles.append((start, end, text))
    programme = _gsi_timecode(data[256:264], fps)
    if programme and subtitles and min(start for start, _, _ in subtitles) >= programme:
        subtitles = [(start - programme, end - programme, text) for start, end, text in subtitles]
    return subtitles, skipped


# ------------------------------------------------------------------------------- SCC

# 29.97 fps: a timecode frame lasts 1001/30 ms, whatever the timecode labels say.
_SCC_FRAME_MS = 1001 / 30
_SCC_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2})\s+(.*)$")
_ROWS, _COLUMNS = 15, 32
# CEA-608 characters that differ from ASCII in the basic set.
_BASIC_CHANGES = {
    0x2A: "á", 0x5C: "é", 0x5E: "í", 0x5F: "ó", 0x60: "ú",
    0x7B: "ç", 0x7C: "÷", 0x7D: "Ñ", 0x7E: "ñ", 0x7F: "■",
}  # fmt: skip
# Special characters (0x11 0x30-0x3F); 0x39 is the transparent space.
_SPECIAL = "®°½¿™¢£♪à èâêîôû"
# Extended characters (0x12 and 0x13, 0x20-0x3F): each replaces the basic fallback
# character sent just before it.
_EXTENDED = {
    0x12: "ÁÉÓÚÜü‘¡*'—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»",
    0x13: "ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘",
}
# Preamble address codes: (first byte, second byte >= 0x60) -> row 1-15.
_PAC_ROWS = {
    (0x11, False): 1, (0x11, True): 2, (0x12, False): 3, (0x12, True): 4, (0x15, False): 5,
    (0x15, True): 6, (0x16, False): 7, (0x16, True): 8, (0x17, False): 9, (0x17, True): 10,
    (0x10, False): 11, (0x13, False): 12, (0x13, True): 13, (0x14, False): 14, (0x14, True): 15,
}  # fmt: skip
_RCL, _BS, _DER, _RU2, _RU4, _FON, _RDC, _TR, _RTD, _EDM, _CR, _ENM, _EOC = (
    0x20, 0x21, 0x24, 0x25, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
)  # fmt: skip


def is_scc(text: str) -> bool:
    """True when the text starts with the Scenarist SCC header line."""
    return text.lstrip().startswith(SCC_HEADER)


def _scc_frame(match: re.Match[str]) -> int:
    """Frame number of an SCC timecode: ";" marks drop-frame, ":" a plain 30-label count."""
    hours, minutes, seconds, separator, frames = match.groups()[:5]
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frames)
    count = ((h * 60 + m) * 60 + s) * 30 + f
    if separator in ";,":  # drop-frame: labels 0 and 1 skipped each minute but every tenth
        total_minutes = h * 60 + m
        count -= 2 * (total_minutes - total_minutes // 10)
    return count


class _Screen:
    """A caption memory: 15 rows of 32 cells, and a cursor."""

    def __init__(self) -> None:
        self.rows: dict[int, list[str | None]] = {}
        self.row, self.column = _ROWS, 0

    def put(self, char: str) -> None:
        cells = self.rows.setdefault(self.row, [None] * _COLUMNS)
        cells[self.column] = char
        self.column = min(self.column + 1, _COLUMNS - 1)

    def backspace(self) -> None:
        if self.column > 0:
            self.column -= 1
            self.rows.setdefault(self.row, [None] * _COLUMNS)[self.column] = None

    def delete_to_end(self) -> None:
        cells = self.rows.get(self.row)
        if cells is not None:
            cells[self.column :] = [None] * (_COLUMNS - self.column)

    def text(self) -> str:
        lines = ("".join(cell or " " for cell in self.rows[row]).strip() for row in sorted(self.rows))
        return "\n".join(line for line in lines if line)


class _Decoder:
    """CEA-608 caption channel 1 (CC1) of an SCC file, as timed cues.

    Pop-on captions are shown at End Of Caption and end at the next EOC or Erase
    Displayed Memory; paint-on captions are shown from their first character; roll-up
    lines each become a cue from their first character until they roll off the top
    (after as many carriage returns as the roll-up depth) or are erased.
    """

    def __init__(self) -> None:
        self.cues: list[tuple[int, int, str]] = []
        self.mode = "pop"
        self.depth = 2
        self.channel = 1
        self.last_control: tuple[int, int] | None = None
        self.loading = _Screen()  # pop-on: the non-displayed memory
        self.shown = _Screen()
        self.shown_since: int | None = None
        self.rolled: list[tuple[int, str]] = []  # roll-up lines still on screen
        self.line: list[str] = []
        self.line_since: int | None = None

    # -- what is on screen -------------------------------------------------------------

    def _end_shown(self, now: int) -> None:
        text = self.shown.text()
        if text and self.shown_since is not None:
            self.cues.append((self.shown_since, max(now, self.shown_since), text))
        self.shown_since = None

    def _end_rolled(self, now: int, keep: int = 0) -> None:
        while len(self.rolled) > keep:
            since, text = self.rolled.pop(0)
            self.cues.append((since, max(now, since), text))

    def _end_line(self, now: int) -> None:
        text = "".join(self.line).strip()
        if text and self.line_since is not None:
            self.rolled.append((self.line_since, text))
        self.line, self.line_since = [], None

    def _erase_all(self, now: int) -> None:
        self._end_shown(now)
        self.shown = _Screen()
        self._end_line(now)
        self._end_rolled(now)

    def finish(self, now: int) -> None:
        self._erase_all(now)

    # -- one code word -------------------------------------------------------------------

    def _char(self, char: str, now: int) -> None:
        if self.channel != 1 or self.mode == "text":
            return
        if self.mode == "roll":
            if len(self.line) < _COLUMNS:
                self.line_since = now if self.line_since is None else self.line_since
                self.line.append(char)
        elif self.mode == "paint":
            self.shown_since = now if self.shown_since is None else self.shown_since
            self.shown.put(char)
        else:
            self.loading.put(char)

    def _backspace(self) -> None:
        if self.mode == "roll":
            if self.line:
                self.line.pop()
        else:
            (self.shown if self.mode == "paint" else self.loading).backspace()

    def _control(self, code: int, now: int) -> None:
        if code == _RCL:
            self.mode = "pop"
        elif code == _RDC:
            self.mode = "paint"
        elif _RU2 <= code <= _RU4:
            if self.mode != "roll":
                self._erase_all(now)
                self.loading = _Screen()
            self.mode, self.depth = "roll", code - _RU2 + 2
        elif code in (_TR, _RTD):
            self.mode = "text"  # text service, not captions
        elif code == _BS:
            self._backspace()
        elif code == _DER:
            if self.mode == "roll":
                self.line = []
            else:
                (self.shown if self.mode == "paint" else self.loading).delete_to_end()
        elif code == _EDM:
            self._erase_all(now)
        elif code == _ENM:
            self.loading = _Screen()
        elif code == _CR and self.mode == "roll":
            self._end_line(now)
            self._end_rolled(now, keep=self.depth - 1)
        elif code == _EOC:
            self._erase_all(now)
            self.shown, self.loading = self.loading, self.shown
            self.shown_since = now
            self.mode = "pop"

    def word(self, first: int, second: int, now: int) -> None:
        """One parity-stripped byte pair, sent at ``now`` ms."""
        if 0x10 <= first <= 0x1F:
            pair = (first, second)
            if pair == self.last_control:  # control codes are sent twice: act once
                self.last_control = None
                return
            self.last_control = pair
            self.channel = 2 if first & 0x08 else 1
            self._command(first & 0xF7, second, now)
            return
        self.last_control = None
        if first < 0x20:
            return  # padding (0x00) and extended data services
        for byte in (first, second):
            if byte >= 0x20:
                self._char(_BASIC_CHANGES.get(byte, chr(byte)), now)

    def _command(self, base: int, second: int, now: int) -> None:
        if self.channel != 1:
            return
        if base in (0x14, 0x15) and 0x20 <= second <= 0x2F:
            self._control(second, now)
        elif base == 0x17 and 0x21 <= second <= 0x23:  # tab offsets 1-3
            for _ in range(second - 0x20):
                self._char(" ", now)
        elif base == 0x11 and 0x30 <= second <= 0x3F:
            self._char(_SPECIAL[second - 0x30], now)
        elif base == 0x11 and 0x20 <= second <= 0x2F:  # mid-row style: shown as a space
            self._char(" ", now)
        elif base in _EXTENDED and 0x20 <= second <= 0x3F:
            self._backspace()
            self._char(_EXTENDED[base][second - 0x20], now)
        elif second >= 0x40:
            self._address(base, second, now)

    def _address(self, base: int, second: int, now: int) -> None:
        """A preamble address code: move to a row (and an indent)."""
        row = _PAC_ROWS.get((base, second >= 0x60))
        if row is None:
            return
        indent = ((second & 0x0E) >> 1) * 4 if second & 0x10 else 0
        if self.mode == "roll":
            if self.line:
                self._char(" ", now)
            return
        screen = self.shown if self.mode == "paint" else self.loading
        screen.row, screen.column = row, indent


def _parity_stripped(word: str) -> tuple[int, int] | None:
    if len(word) != 4:
        return None
    try:
        value = int(word, 16)
    except ValueError:
        return None
    return (value >> 8) & 0x7F, value & 0x7F


def read_scc(text: str) -> tuple[list[tuple[int, int, str]], int]:
    """Cues of a Scenarist SCC file (caption channel CC1) and the count of bad lines.

    Each code word takes one frame at 29.97 fps, so a word's time is its line's
    timecode plus its place on the line. A line with an unreadable timecode or code
    word is skipped and counted; the rest of the file is still read.
    """
    decoder = _Decoder()
    skipped = 0
    now = 0
    for line in text.splitlines()[1:]:
        line = line.strip()
        if not line:
            continue
        match = _SCC_TIMECODE.match(line)
        words = [_parity_stripped(word) for word in match.group(6).split()] if match else [None]
        if match is None or any(word is None for word in words):
            skipped += 1
            continue
        frame = _scc_frame(match)
        for index, word in enumerate(words):
            if word is not None:
                now = round((frame + index) * _SCC_FRAME_MS)
                decoder.word(word[0], word[1], now)
    decoder.finish(now)
    return sorted(decoder.cues), skipped
