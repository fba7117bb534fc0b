"""The scan must catch what the scrub missed: every form a secret can take in an artifact, given a
scrubber that misses it, fails closed (named, withheld); the real scrubber removes what it can."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import pytest

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
