"""Hex and base64 blobs of a text decoded, every alignment, each byte traced back to the characters
that encode it. Bytes are read as latin-1 characters and compared with a secret's UTF-8 read the same
way."""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from collections.abc import Callable

from helpers.safety.fragments import Fragments
from helpers.safety.origin import Reading

_B64_RUN = re.compile(r"[A-Za-z0-9+/]+")
_HEX_DIGIT = re.compile(r"0[xX](?=[0-9a-fA-F])|([0-9a-fA-F])")


class Blobs(Reading):
    """Encoded blobs of the parent decoded (bytes as latin-1 characters, one blob after another with a
    separator no secret contains): `table` holds (start here, where in the parent, digit positions or
    None for base64)."""

    def __init__(self, text: str, parent: Reading, table: list, offset: int):
        super().__init__(text, parent)
        self.table, self.offset, self._starts = table, offset, [t[0] for t in table]

    def _spans(self, start, end):
        spans = []
        for k in range(start, end):
            j = bisect_right(self._starts, k) - 1
            first, where, digits = self.table[j]
            i = k - first
            if digits is None:  # base64: byte i of a chunk uses characters 4(i//3) + i%3 and the next one
                c = where + 4 * (i // 3) + i % 3
                spans.append((c, c + 2))
            else:
                positions = digits()
                a = positions[self.offset + 2 * i]
                a -= 2 if self.parent.text[max(a - 2, 0):a] in ("0x", "0X") else 0
                spans.append((a, positions[self.offset + 2 * i + 1] + 1))
        return _merged(spans)


def _merged(spans):
    out = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class Encodings:
    """What blob readings need to know of the secrets (their UTF-8 as latin-1 characters), worked out
    once: the fewest bytes that count, a separator none of them holds (decoded blobs never join into
    one run), and the base64 characters a run of that many bytes of a secret always shows, at each
    alignment, to find where decoding is worth it."""

    def __init__(self, byte_secrets: list[str], size: int):
        self.min_bytes = min([size, *map(len, byte_secrets)])
        used = set("".join(byte_secrets))
        self.separator = next((chr(b) for b in range(256) if chr(b) not in used), "")
        needles, least = [], []
        for secret in byte_secrets:
            n = min(size, len(secret))
            # n bytes starting 0, 2 or 4 bits into a character: the characters wholly inside them.
            inside = min((r + 8 * n) // 6 - (r > 0) for r in (0, 2, 4))
            for pad in range(3):
                bits = 8 * (pad + len(secret))
                encoded = base64.b64encode(bytes(pad) + secret.encode("latin-1")).decode().rstrip("=")
                partial_last = 1 if bits % 6 else 0  # its last character also holds padding bits
                needles.append(encoded[-(-8 * pad // 6):len(encoded) - partial_last])
                least.append(inside)
        self.base64 = Fragments(needles, size, least)


def hex_readings(reading: Reading, enc: Encodings) -> list[Reading]:
    """Hex blobs decoded (lower or upper case; plain, or bytes apart by ':', '-', ' ', ', ', with or
    without 0x), at both digit alignments."""
    text, least = reading.text, enc.min_bytes
    blobs = []
    for region in re.finditer(rf"[0-9a-fA-FxX:, -]{{{2 * least},}}", text):
        for m in re.finditer(rf"[0-9a-fA-F]{{2}}(?:(?:[:\- ]|, ?)(?:0[xX])?[0-9a-fA-F]{{2}}){{{least - 1},}}"
                             rf"|[0-9a-fA-F]{{{2 * least},}}", region.group()):
            blobs.append((region.start() + m.start(), m.group()))
    out = []
    for offset in (0, 1):
        parts, table, here = [], [], 0
        for where, blob in blobs:
            digits = re.sub(r"0[xX](?=[0-9a-fA-F])|[^0-9a-fA-F]", "", blob)[offset:]
            digits = digits[:len(digits) // 2 * 2]
            if len(digits) // 2 < least:
                continue
            parts.append(bytes.fromhex(digits).decode("latin-1") + enc.separator)
            table.append((here, where, _digit_positions(where, blob)))
            here += len(parts[-1])
        if parts:
            out.append(Blobs("".join(parts), reading, table, offset))
    return out


def _digit_positions(where: int, blob: str) -> Callable[[], list[int]]:
    cache: list[int] = []

    def positions():
        if not cache:
            cache.extend(where + m.start() for m in _HEX_DIGIT.finditer(blob) if m.group(1))
        return cache

    return positions


def base64_readings(reading: Reading, enc: Encodings) -> list[Reading]:
    """Base64 (standard or URL-safe alphabet) decoded at each of the four character alignments, so
    whatever preceded the secret in the encoded data (0, 1 or 2 bytes of a group), it decodes: around
    each place that shows enough characters of a secret's base64 (elsewhere nothing would decode to it)."""
    text = reading.text.replace("-", "+").replace("_", "/")
    windows: list[tuple[int, int]] = []
    for start, end, _ in enc.base64.find(text):
        for m in _B64_RUN.finditer(text, max(start - 4, 0), end + 4):  # the run around it, 4 characters more
            if not m.start() <= start < m.end():
                continue
            if windows and m.start() <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], m.end()))
            else:
                windows.append(m.span())
    out = []
    for offset in range(4):
        chunks, table, here = [], [], 0
        for a, b in windows:
            n = b - a - offset
            n -= n % 4 == 1  # a last group of one character holds no whole byte; of two or three, one or two
            if n * 3 // 4 < enc.min_bytes:
                continue
            chunk = text[a + offset:a + offset + n]
            chunks.append(binascii.a2b_base64(chunk + "=" * (-n % 4)).decode("latin-1"))
            table.append((here, a + offset, None))
            here += len(chunks[-1]) + len(enc.separator)
        if chunks:
            out.append(Blobs(enc.separator.join(chunks) + enc.separator, reading, table, offset))
    return out
