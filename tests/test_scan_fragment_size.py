"""The smallest fragment that counts as a leak, tested at that size: RUN characters of a secret in a
row (the whole secret, if shorter), in any reading of a text, are caught and redacted; one character
fewer is not flagged on its own. NEAR characters next to an escape no decoder could decide are
suspected; one fewer is not."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

import pytest

from helpers.safety.scrub import NEAR, REDACTED, RUN, Scanner, Scrubber

SECRET = "Tq4Lm9Xw2Zr7Kp3Vn8Bc5Hd1Jf6Gs0YaUe5Wi2Ox7Qc4Rb9Nt1Mv3Ls8Kd6Pj0Hg"
SHORT = "Wq7Zp3Kx9"  # shorter than RUN: only the whole of it counts


def u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


FORMS = {  # each writes a piece of a secret in context that extends no run of it
    "as written": lambda p: f"error body: {p} (end)",
    "\\u-escaped": lambda p: f"echo: {u_escaped(p)}",
    "\\x-escaped": lambda p: "b'" + "".join(f"\\x{ord(c):02x}" for c in p) + "'",
    "HTML entities": lambda p: "<td>" + "".join(f"&#{ord(c)};" for c in p) + "</td>",
    "URL-encoded": lambda p: "q=" + "".join(f"%{ord(c):02X}" for c in p),
    "URL-encoded, as quote() writes it": lambda p: "q=" + quote(p + "/", safe="")[:-3],
    "hex": lambda p: f"dump {p.encode().hex()} end",
    "hex with colons": lambda p: f"dump {p.encode().hex(':')} end",
    "base64": lambda p: "b64 " + base64.b64encode(p.encode()).decode(),
    "base64, 1 byte before": lambda p: "b64 " + base64.b64encode(b"." + p.encode()).decode(),
    "base64, 2 bytes before": lambda p: "b64 " + base64.urlsafe_b64encode(b".." + p.encode()).decode(),
    "quoted lines": lambda p: "".join(f"> {p[i:i + 4]}\n" for i in range(0, len(p), 4)),
    "log lines": lambda p: "".join(f"12:00:01 INFO x: {p[i:i + 3]}\n" for i in range(0, len(p), 3)),
    "HTML lines": lambda p: "<br>".join(p[i:i + 5] for i in range(0, len(p), 5)),
    "escaped twice": lambda p: html.escape(u_escaped(p).replace("\\", "\\\\")),
}


def test_the_sizes():
    assert (RUN, NEAR) == (12, 8)


@pytest.mark.parametrize("form", FORMS)
def test_a_fragment_of_the_smallest_size_is_caught_and_redacted(form):
    piece = SECRET[7:7 + RUN]
    text = FORMS[form](piece)
    assert Scanner([SECRET]).text_leaks(text), form
    scrubbed = Scrubber([SECRET]).text(text)
    assert REDACTED in scrubbed and Scanner([SECRET]).text_leaks(scrubbed) == [], form


@pytest.mark.parametrize("form", FORMS)
def test_one_character_fewer_is_not_flagged_by_itself(form):
    piece = SECRET[7:7 + RUN - 1]
    text = FORMS[form](piece)
    assert Scanner([SECRET]).text_leaks(text) == [], form
    assert Scrubber([SECRET]).text(text) == text, form


@pytest.mark.parametrize("form", ["as written", "\\u-escaped", "hex", "base64, 1 byte before", "quoted lines"])
def test_a_secret_shorter_than_the_smallest_fragment_counts_whole(form):
    assert Scanner([SHORT]).text_leaks(FORMS[form](SHORT)), form
    assert Scanner([SHORT]).text_leaks(FORMS[form](SHORT[:-1])) == [], form


CUT = {  # a piece of the secret, then an escape cut short or a surrogate with no pair
    "\\u00 after": lambda p: u_escaped(p) + "\\u00",
    "\\u0 after, then the cut mark": lambda p: u_escaped(p) + "\\u0…",
    "lone high surrogate after": lambda p: p + "\\ud83d",
    "%4 after": lambda p: "".join(f"%{ord(c):02X}" for c in p) + "%4",
    "\\x before": lambda p: "\\x" + p,
}


@pytest.mark.parametrize("cut", CUT)
def test_a_piece_next_to_an_undecided_escape_is_suspected_from_near_characters(cut):
    assert Scanner([SECRET]).text_leaks("echo: " + CUT[cut](SECRET[20:20 + NEAR]) + " (end)") == [
        "part of a known secret"], cut
    assert Scanner([SECRET]).text_leaks("echo: " + CUT[cut](SECRET[20:20 + NEAR - 1]) + " (end)") == [], cut


def test_ordinary_text_with_undecided_escapes_and_blobs_is_not_a_leak():
    """No secret in it: cut escapes, percent signs, digests, base64 and hex of other data, quoted
    lines and log prefixes are not suspected on their own (long runs stay token-shaped, as before)."""
    text = "\n".join([
        "> progress 100% \\u00 \\x \\ud83d %4 &#x; C:\\Users\\api\\d",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Basic " + base64.b64encode(b"api.sms:not-the-secret-at-all-123").decode(),
        "2026-01-02 03:04:05,678 INFO helpers.run: " + bytes(range(40)).hex(":"),
        "# Tq4Lm9X", "# w-other", "// Kp3Vn8B",
    ])
    assert Scanner([SECRET, SHORT]).text_leaks(text) == ["token-shaped string"]  # the digest and the base64
