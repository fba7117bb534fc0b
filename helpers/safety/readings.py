"""Readings of a text, for the scrub and the scan: the text as escapes, entities and percent-encoding
would decode it, with its lines joined, and its hex and base64 blobs decoded (helpers/safety/blobs.py);
each character of a reading traced back to the characters of the text it came from
(helpers/safety/origin.py), so the scrub can redact the original.

Decoding is piece by piece: every well-formed escape is decoded wherever it is, and a malformed or
cut one (an error body cut at 300 characters in the middle of `\\u00`) is left as written, so one
bad piece never hides the rest. What stays undecided is what helpers/safety/fragments.UNDECIDED
matches; the scan suspects a piece of a secret next to it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from helpers.safety.blobs import Encodings, base64_readings, hex_readings
from helpers.safety.origin import Mapped, Reading, Removed

# A backslash escape (a \\u surrogate pair first, so it becomes one character), a run of escaped bytes
# (\\xXX, octal, %XX: read together, as UTF-8 where they form it), an HTML entity.
# (The lookahead lets the regex engine skip to the next \\, % or & at C speed.)
_ESCAPE = re.compile(
    r"(?=[\\%&])(?:\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}"
    r"|(?:\\x[0-9a-fA-F]{2}|\\[0-7]{1,3}|%[0-9a-fA-F]{2})+"
    r"|\\[nrtbfva\"'\\/]"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)")
_BYTE = re.compile(r"\\x([0-9a-fA-F]{2})|\\([0-7]{1,3})|%([0-9a-fA-F]{2})")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
           '"': '"', "'": "'", "\\": "\\", "/": "/"}
# Lines joined: at a line start, quote marks (`> `, `>> `, `# `, `// `, ` * `, `-- `), maybe after a
# timestamp, a line number or a log level and logger name; HTML tags; line breaks and spaces.
_PREFIX = (r"^[ \t]*(?:(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?\]?"
           r"|\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?|\d{1,6}[:|])[ \t]+)?"
           r"(?:(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)[ \t]+(?:[\w.]+:[ \t]+)?)?"
           r"(?:(?:>[ \t]?)+|#+[ \t]|//+[ \t]|\*[ \t]|--[ \t])?")
_PREFIXES = re.compile(_PREFIX, re.M)
_TAGS = re.compile(r"<[^<>\n]{0,200}>")
_SPACE = re.compile(r"\s+")


def _bytes_as_text(run: str) -> list[tuple[str, int, int]]:
    """(character, start, end in the run) for a run of escaped bytes: UTF-8 where they form it, else
    each byte as its code point (what \\xe9 means in a Python string)."""
    pieces = [(int(m.group(1) or m.group(3), 16) if m.group(2) is None else int(m.group(2), 8), m.start(), m.end())
              for m in _BYTE.finditer(run)]
    out, i = [], 0
    while i < len(pieces):
        b = pieces[i][0]
        n = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 1
        if n > 1 and i + n <= len(pieces) and all(p[0] <= 0xFF for p in pieces[i:i + n]):
            try:
                out.append((bytes(p[0] for p in pieces[i:i + n]).decode("utf-8"), pieces[i][1], pieces[i + n - 1][2]))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append((chr(b), pieces[i][1], pieces[i][2]))
        i += 1
    return out


@lru_cache(maxsize=4096)
def _decoded(token: str) -> str | None:
    """What one escape (or run of escaped bytes) stands for, or None where it stands for nothing
    decidable (a lone surrogate, an entity html does not know)."""
    if token[0] == "&":
        decoded = html.unescape(token)
        return None if decoded == token else decoded
    if token[0] == "%" or token[1] in "x01234567":
        return "".join(char for char, _, _ in _bytes_as_text(token))
    kind = token[1]
    if kind == "u" and len(token) == 12:
        high, low = int(token[2:6], 16), int(token[8:12], 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    if kind in "uU":
        code = int(token[2:], 16)
        return None if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF else chr(code)
    return _SIMPLE[kind]


def unescaped(reading: Reading) -> Mapped | None:
    """Every well-formed escape decoded, the rest left as written; None when nothing decodes."""
    text, marks, shift = reading.text, [], 0

    def decode(m: re.Match) -> str:
        nonlocal shift
        token = m.group()
        value = _decoded(token)
        if value is None:
            return token
        marks.append((m.start() - shift, m.start(), token, value))
        shift += len(token) - len(value)
        return value

    decoded = _ESCAPE.sub(decode, text)
    return Mapped(decoded, reading, lambda: _escape_segments(marks, len(text))) if marks else None


def _escape_segments(marks: list, length: int) -> list:
    segments, pos, here = [], 0, 0
    for at, start, token, value in marks:
        if start > pos:
            segments.append((here, at, pos, start, True))
        if token[0] == "%" or token[1] in "x01234567":  # each character to the bytes it came from
            d = at
            for char, a, b in _bytes_as_text(token):
                segments.append((d, d + len(char), start + a, start + b, False))
                d += len(char)
        else:
            segments.append((at, at + len(value), start, start + len(token), False))
        pos, here = start + len(token), at + len(value)
    if length > pos:
        segments.append((here, here + length - pos, pos, length, True))
    return segments


def _without(reading: Reading, pattern: re.Pattern, fast: Callable[[str], str] | None = None) -> Reading | None:
    """The reading with every match of `pattern` removed (`fast` does the same, faster, character by
    character); None when nothing is."""
    removed = Removed(reading, pattern, fast or (lambda text: pattern.sub("", text)), anywhere=fast is not None)
    return None if removed.text == reading.text else removed


def spaceless(reading: Reading) -> Reading | None:
    """Whitespace and line breaks removed."""
    return _without(reading, _SPACE, lambda text: "".join(text.split()))  # str.split: the same whitespace as \\s


def lines_joined(reading: Reading) -> Reading | None:
    """Lines joined with their quote, log and line-number prefixes, HTML tags and spaces removed: a
    secret cut into short pieces on consecutive lines reads whole again."""
    out = _without(reading, _PREFIXES) or reading
    if "<" in out.text:
        out = _without(out, _TAGS) or out
    out = spaceless(out) or out
    return None if out is reading else out


def readings(text: str, enc: Encodings, *, plus: bool = False) -> Iterator[tuple[str, Reading]]:
    """(kind, reading) for every reading of `text`: "text" (as written, and decoded once, twice, three
    times over, for escapes of escapes), "joined" (each of these with whitespace removed, and with
    lines joined), "hex" and "base64" (blobs of the lines joined). `plus`: also read '+' as a space
    (URL form encoding), for secrets that hold a space."""
    seen: set[str] = set()

    def new(reading):
        if reading is None or reading.text in seen:
            return False
        seen.add(reading.text)
        return True

    root = Reading(text)
    written = [root] + ([Reading(text.replace("+", " "))] if plus and "+" in text else [])
    decoded = []
    for reading in written:
        for depth in range(4):  # as written, then decoded up to three times over
            if not new(reading):
                break
            decoded.append(reading)
            reading = unescaped(reading) if depth < 3 else None
    for reading in decoded:
        yield "text", reading
    sources = {}
    for reading in decoded:
        joined = lines_joined(reading)
        for other in (spaceless(reading), joined):
            if new(other):
                yield "joined", other
        # Blobs are read where lines are joined (hex or base64 cut into lines reads whole there).
        sources.setdefault((joined or reading).text, joined or reading)
    for source in sources.values():
        yield from (("hex", blob) for blob in hex_readings(source, enc))
        yield from (("base64", blob) for blob in base64_readings(source, enc))
