"""The scan must catch what the scrub missed: every form a secret can take in an artifact, given a
scrubber that misses it, fails closed (named, withheld); the real scrubber removes what it can."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import pytest

from helpers.errors import BODY_LIMIT
from helpers.safety.scrub import REDACTED, WITHHELD, Scanner, Scrubber, scrub_and_scan

SECRET = "k3Y\"w<a&b'c\\d/e+f=g%h9Z2xQ7mP4vL8nR1tS6"  # characters every escaping changes
PLAIN = "Tq4Lm9Xw2Zr7Kp3Vn8Bc5Hd1Jf6Gs0Ya"


class MissesEverything(Scrubber):
    def file(self, path):
        pass


def notebook(text_lines) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": "x", "metadata": {}, "execution_count": 1,
                                  "outputs": [{"output_type": "stream", "name": "stdout", "text": text_lines}]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def b64_at(secret: str, shift: int) -> str:
    return base64.b64encode(b"." * shift + secret.encode()).decode()


FORMS = {
    "raw": ("run.log", lambda s: f"body {s} end"),
    "json-escaped": ("summary.json", lambda s: json.dumps({"detail": f"got {s}"})),
    "html-escaped": ("summary.html", lambda s: f"<td>{html.escape(s)}</td>"),
    "html numeric entities": ("summary.html", lambda s: "<td>" + "".join(f"&#{ord(c)};" for c in s) + "</td>"),
    "repr-escaped": ("run.log", lambda s: f"ApiError(detail={s!r})"),
    "backslash-escaped": ("run.log", lambda s: "".join(f"\\x{ord(c):02x}" for c in s)),
    "url-encoded": ("run.log", lambda s: f"client_secret={quote(s, safe='')}"),
    "base64, aligned": ("run.log", lambda s: b64_at(s, 0)),
    "base64, shifted 1": ("run.log", lambda s: b64_at(s, 1)),
    "base64, shifted 2": ("run.log", lambda s: b64_at(s, 2)),
    "split over two output lines": ("04.ipynb", lambda s: notebook([f"x {s[:17]}\n", f"{s[17:]} y\n"])),
    "a 12-character run": ("run.log", lambda s: f"…{s[3:15]}…"),
    "in a JSON key": ("summary.json", lambda s: json.dumps({f"k {s}": 1})),
}


@pytest.mark.parametrize("secret", [SECRET, PLAIN], ids=["special characters", "alphanumeric"])
@pytest.mark.parametrize("form", FORMS)
def test_a_scrubber_that_misses_a_form_fails_closed(tmp_path, secret, form):
    name, write = FORMS[form]
    path = tmp_path / name
    path.write_text(write(secret), encoding="utf-8")
    problems = scrub_and_scan([path], [secret], scrubber=MissesEverything([secret]))
    assert problems and problems[name], form
    assert WITHHELD in path.read_text()  # the record never keeps it
    assert secret not in path.read_text() and secret[3:15] not in path.read_text()


@pytest.mark.parametrize("form", ["raw", "json-escaped", "html-escaped", "repr-escaped", "url-encoded",
                                  "a 12-character run", "in a JSON key"])
def test_the_scrubber_removes_the_text_forms(tmp_path, form):
    name, write = FORMS[form]
    path = tmp_path / name
    path.write_text(write(SECRET), encoding="utf-8")
    assert scrub_and_scan([path], [SECRET]) == {}, form
    assert REDACTED in path.read_text()


@pytest.mark.parametrize("secret", [SECRET, PLAIN], ids=["special characters", "alphanumeric"])
@pytest.mark.parametrize("form", FORMS)
def test_with_the_real_scrubber_no_form_survives_unflagged(tmp_path, secret, form):
    """Removed (as a text form, a run, or a token-shaped string), or caught by the scan and withheld."""
    name, write = FORMS[form]
    path = tmp_path / name
    path.write_text(write(secret), encoding="utf-8")
    problems = scrub_and_scan([path], [secret])
    assert Scanner([secret]).leaks(path) == [], form
    assert bool(problems) == (WITHHELD in path.read_text()), form


def test_a_secret_cut_short_is_redacted_as_far_as_it_goes():
    text = "error body: invalid client_secret " + PLAIN[:20]
    assert Scrubber([PLAIN]).text(text) == "error body: invalid client_secret " + REDACTED


def test_ordinary_text_is_not_a_leak(tmp_path):
    path = tmp_path / "summary.html"
    path.write_text("<p>the local emulator answers at http://127.0.0.1:8765 (scope example.brightpattern.com)</p>"
                    " a Bearer token valid 3600 s was issued and the SMS/MMS API accepts it", encoding="utf-8")
    assert Scanner([PLAIN, SECRET]).leaks(path) == []


def test_image_payloads_are_not_read_as_tokens(tmp_path):
    path = tmp_path / "n.ipynb"
    nb = json.loads(notebook(["ok\n"]))
    nb["cells"][0]["outputs"].append({"output_type": "display_data", "metadata": {},
                                      "data": {"image/png": "iVBORw0KGgo" + "A" * 200}})
    path.write_text(json.dumps(nb))
    assert Scanner([PLAIN]).leaks(path) == []


def test_a_file_that_cannot_be_parsed_is_scrubbed_as_text_and_the_rest_still_are(tmp_path):
    cut = tmp_path / "00_a.ipynb"
    cut.write_text('{"cells": [{"source": "' + PLAIN + '"', encoding="utf-8")  # a notebook cut short
    whole = tmp_path / "01_b.ipynb"
    whole.write_text(notebook([f"{PLAIN}\n"]), encoding="utf-8")
    assert scrub_and_scan([cut, whole], [PLAIN]) == {}
    assert PLAIN not in cut.read_text() and PLAIN not in whole.read_text()


def test_a_file_that_cannot_be_read_is_never_called_clean(tmp_path):
    folder = tmp_path / "run.log"
    folder.mkdir()  # not a file: neither readable nor writable as one
    problems = scrub_and_scan([folder], [PLAIN])
    assert problems["run.log"][0].startswith("not scrubbed: ")


# What a tester with canary secrets found leaking while the scan said clean; each test below fails
# when the safeguard it names is taken out.

SECRET64 = "Tq4Lm9Xw2Zr7Kp3Vn8Bc5Hd1Jf6Gs0YaUe5Wi2Ox7Qc4Rb9Nt1Mv3Ls8Kd6Pj0Hg"
EMOJI = "Tq4Lm9Xw2Z\U0001F600r7Kp3Vn8Bc"  # no run of 12 without the character outside the BMP


def u_escaped(secret: str) -> str:
    """Every character as \\uXXXX (UTF-16: a surrogate pair outside the Basic Multilingual Plane)."""
    units = secret.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def scrubbed_or_withheld(tmp_path, name: str, text: str, secret: str, scrubber=None):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return scrub_and_scan([path], [secret], scrubber=scrubber), path.read_text(encoding="utf-8")


@pytest.mark.parametrize("into_escape", range(6))  # the cut falls 0..5 characters into an escape
def test_an_escaped_secret_cut_mid_escape_is_decoded_up_to_the_cut(tmp_path, into_escape):
    """Safeguard: escapes decoded piece by piece (a cut one is no reason to give up on the rest)."""
    prefix = "proxy: invalid client_secret "
    prefix += "x" * ((BODY_LIMIT - len(prefix) - into_escape) % 6)
    body = (prefix + u_escaped(SECRET64))[:BODY_LIMIT]  # what ApiError keeps of a body
    whole = (BODY_LIMIT - len(prefix)) // 6  # 44 or 45 escapes, then the cut
    assert (BODY_LIMIT - len(prefix)) % 6 == into_escape and whole >= 44
    text = body + "…"
    problems, _ = scrubbed_or_withheld(tmp_path, "run.log", text, SECRET64, MissesEverything([SECRET64]))
    assert "part of a known secret" in problems["run.log"]
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, SECRET64)
    assert problems == {}
    assert kept == prefix + REDACTED + body[len(prefix) + 6 * whole:] + "…"  # the cut escape stays, alone


def test_a_secret_outside_the_bmp_escaped_as_a_surrogate_pair(tmp_path):
    """Safeguard: \\ud83d\\ude00 decoded as one character (neither half means anything alone)."""
    text = f"echo: {u_escaped(EMOJI)} (end)"
    problems, _ = scrubbed_or_withheld(tmp_path, "run.log", text, EMOJI, MissesEverything([EMOJI]))
    assert problems["run.log"] == ["known secret", "part of a known secret"]
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, EMOJI)
    assert problems == {} and kept == f"echo: {REDACTED} (end)"


@pytest.mark.parametrize("escaped", [json.dumps, u_escaped], ids=["json, ascii", "every character"])
def test_a_surrogate_pair_cut_in_half_is_suspected(tmp_path, escaped):
    """Safeguard: suspicion. Ten characters (under RUN) next to a high surrogate whose low half was
    cut off: how much of the secret follows cannot be decided, so the file is withheld."""
    text = escaped(EMOJI).strip('"').split("\\ud83d")[0] + "\\ud83d"
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, EMOJI)
    assert problems["run.log"] == ["part of a known secret"] and kept == WITHHELD + "\n"


QUOTED = {
    "the secret": lambda s: s,
    "its hex": lambda s: s.encode().hex(),
    "its HEX": lambda s: s.encode().hex().upper(),
}


@pytest.mark.parametrize("form", QUOTED)
@pytest.mark.parametrize("prefix", ["> ", ">> ", "# ", "// ", " * ", "    "])
def test_short_pieces_on_quoted_lines_are_read_back(tmp_path, form, prefix):
    """Safeguard: lines joined after their quote prefixes are removed (6 characters a line)."""
    shown = QUOTED[form](SECRET64)
    text = "".join(f"{prefix}{shown[i:i + 6]}\n" for i in range(0, len(shown), 6))
    problems, _ = scrubbed_or_withheld(tmp_path, "run.log", text, SECRET64, MissesEverything([SECRET64]))
    assert problems["run.log"], form
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, SECRET64)
    assert problems == {} and set(kept.splitlines()) == {prefix + REDACTED}


HEX = {
    "lower": lambda b: b.hex(),
    "upper": lambda b: b.hex().upper(),
    "colons": lambda b: b.hex(":"),
    "spaces, upper": lambda b: b.hex(" ").upper(),
    "dashes": lambda b: b.hex("-"),
    "0x, commas": lambda b: ", ".join(f"0x{x:02x}" for x in b),
    "odd digit before": lambda b: "f" + b.hex(),
}


@pytest.mark.parametrize("secret", [SECRET, SECRET64, EMOJI], ids=["special characters", "64", "outside the BMP"])
@pytest.mark.parametrize("form", HEX)
def test_the_hex_of_a_secret_is_scrubbed_and_scanned(tmp_path, form, secret):
    """Safeguard: hex blobs decoded (both digit alignments, separators and 0x allowed)."""
    text = f"dump: {HEX[form](secret.encode())} end"
    problems, _ = scrubbed_or_withheld(tmp_path, "run.log", text, secret, MissesEverything([secret]))
    assert "part of a known secret" in problems["run.log"]
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, secret)
    assert problems == {} and kept.startswith(f"dump: {REDACTED}")


@pytest.mark.parametrize("secret", [SECRET, SECRET64, EMOJI], ids=["special characters", "64", "outside the BMP"])
@pytest.mark.parametrize("urlsafe", [False, True], ids=["standard", "URL-safe"])
@pytest.mark.parametrize("shift", [0, 1, 2])
def test_base64_of_a_secret_is_found_at_every_alignment(tmp_path, secret, shift, urlsafe):
    """Safeguard: base64 decoded at every alignment, both alphabets (the kind is named, whatever a
    token-shaped match would say)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = "Authorization: Basic " + encode(b"u:" [:shift] + secret.encode()).decode()
    problems, _ = scrubbed_or_withheld(tmp_path, "run.log", text, secret, MissesEverything([secret]))
    assert "base64 of a known secret" in problems["run.log"]
    problems, kept = scrubbed_or_withheld(tmp_path, "run.log", text, secret)
    assert problems == {} and REDACTED in kept


def lines(secret: str, width: int) -> list[str]:
    return [secret[i:i + width] for i in range(0, len(secret), width)]


SPLIT = {  # a secret over three or more lines, each under 12 characters
    "plain lines": ("run.log", lambda s: "\n".join(lines(s, 11)), True),
    "log lines": ("run.log", lambda s: "\n".join(f"2026-01-02 03:04:05,678 INFO helpers.tenant.transport: {p}"
                                                 for p in lines(s, 11)), True),
    "HTML breaks": ("summary.html", lambda s: "<td>" + "<br>".join(lines(s, 11)) + "</td>", True),
    "HTML paragraphs": ("summary.html", lambda s: "\n".join(f"<p>{p}</p>" for p in lines(s, 11)), True),
    "a JSON list": ("summary.json", lambda s: json.dumps({"detail": lines(s, 11)}), True),
    "a notebook output's lines": ("04.ipynb", lambda s: notebook([p + "\n" for p in lines(s, 11)]), True),
    "one notebook output a piece": ("04.ipynb", lambda s: json.dumps({
        "cells": [{"cell_type": "code", "source": "x", "metadata": {}, "execution_count": 1, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": p} for p in lines(s, 11)]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), False),
}


@pytest.mark.parametrize("secret", [SECRET64, PLAIN], ids=["64", "32"])
@pytest.mark.parametrize("form", SPLIT)
def test_a_secret_split_over_short_lines(tmp_path, form, secret):
    """Safeguards: lines joined (log, quote and line-number prefixes and tags removed), the strings of
    a list scrubbed together, a notebook cell's outputs joined as shown. Where the scrub cannot cut
    the pieces out, the scan withholds the file."""
    name, write, scrubbed = SPLIT[form]
    problems, _ = scrubbed_or_withheld(tmp_path, name, write(secret), secret, MissesEverything([secret]))
    assert problems[name], form
    problems, kept = scrubbed_or_withheld(tmp_path, name, write(secret), secret)
    assert (problems == {}) == scrubbed and all(p not in kept for p in lines(secret, 11)), form
