"""Readings trace every character back to the text as written, however the text is chunked: the scrub
redacts exactly the characters a reading showed a secret in."""

from __future__ import annotations

import base64

import pytest

from helpers.safety.blobs import Encodings
from helpers.safety.origin import Reading, Removed
from helpers.safety.readings import lines_joined, readings, spaceless, unescaped
from helpers.safety.scrub import REDACTED, RUN, Scanner, Scrubber

SECRET = "Tq4Lm9Xw2Zr7Kp3Vn8Bc5Hd1Jf6Gs0YaUe5Wi2Ox7Qc4Rb9Nt1Mv3Ls8Kd6Pj0Hg"
TEXTS = [
    "".join(f"> {SECRET[i:i + 6]}\n" for i in range(0, 64, 6)),
    "2026-01-02 03:04:05,678 INFO helpers.run: a b\n  # c d\n// e\n <p>f</p>\n12: g\n" * 3,
    "\\u0054\\u0071 \\ud83d\\ude00 %C3%A9 &amp; &#x41; \\x41\\xc3\\xa9 \\101 \\n \\u00 %4 &#x;",
    "dump " + SECRET.encode().hex(":") + " b64 " + base64.b64encode(b"." + SECRET.encode()).decode(),
]


@pytest.mark.parametrize("chunk", [1 << 15, 7])
@pytest.mark.parametrize("text", TEXTS, ids=["quoted", "prefixes", "escapes", "blobs"])
def test_each_character_of_a_removal_reading_comes_from_the_same_character(monkeypatch, text, chunk):
    monkeypatch.setattr(Removed, "CHUNK", chunk)
    root = Reading(text)
    for reading in (spaceless(root), lines_joined(root)):
        for k, char in enumerate(reading.text):
            (a, b), = reading.origin(k, k + 1)
            assert b == a + 1 and text[a] == char


@pytest.mark.parametrize("text", TEXTS, ids=["quoted", "prefixes", "escapes", "blobs"])
def test_each_character_of_every_reading_comes_from_inside_the_text(text):
    for kind, reading in readings(text, Encodings([SECRET], RUN)):
        for k in range(len(reading.text)):
            if kind in ("hex", "base64") and reading.text[k] == "\0":  # the separator between blobs
                continue
            spans = reading.origin(k, k + 1)
            assert spans and all(0 <= a < b <= len(text) for a, b in spans), (kind, k)


def test_an_escape_maps_to_the_whole_escape():
    text = "x \\ud83d\\ude00 %C3%A9 y"
    reading = unescaped(Reading(text))
    assert reading.text == "x \U0001F600 é y"
    assert reading.origin(2, 3) == [(2, 14)] and reading.origin(4, 5) == [(15, 21)]


@pytest.mark.parametrize("chunk", [1 << 15, 50])
def test_a_secret_far_into_a_large_text_is_redacted_where_it_is(monkeypatch, chunk):
    monkeypatch.setattr(Removed, "CHUNK", chunk)
    filler = "".join(f"line {i} of ordinary output, nothing to see\n" for i in range(3000))
    quoted = "".join(f"> {SECRET[i:i + 6]}\n" for i in range(0, 64, 6))
    text = filler + quoted + filler
    scrubbed = Scrubber([SECRET]).text(text)
    assert scrubbed == filler + f"> {REDACTED}\n" * len(quoted.splitlines()) + filler
    assert Scanner([SECRET]).text_leaks(scrubbed) == []
