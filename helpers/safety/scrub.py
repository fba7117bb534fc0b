"""Scrub, then scan: remove every known secret from run artifacts, then search them again for
more than the scrub removes, and fail closed if anything survived.

Papermill writes parameters into notebooks, saved widget state keeps Password values, tracebacks
and error bodies quote whatever they saw, a proxy may echo a credential back escaped, hex- or
base64-encoded, cut short or cut into quoted lines: every artifact of a run passes through here
before anyone reads it.

Both read each text the same ways (helpers/safety/readings.py): as written; decoded piece by piece
(backslash escapes, surrogate pairs, HTML entities, percent-encoding, up to three times over), where a
cut or malformed escape stays as written and the rest is still decoded; with whitespace removed;
with lines joined after their quote, log and line-number prefixes and HTML tags are removed; and the
hex and base64 blobs of these decoded (every alignment, both base64 alphabets). The scrub redacts,
in the text as written, whatever any reading shows of a secret, and every token-shaped string, in
values and keys (a JSON file's strings as lines of one text, so a secret cut across them is found).
The scan looks again in the same readings, a notebook's outputs read last, output after output (a
secret cut across two outputs reads whole), and a file where anything survives is withheld.

The smallest fragment that counts as a leak: RUN (12) characters of a secret in a row, or the
whole secret if it is shorter, in any reading. In hex and base64 it is RUN bytes of the secret's
UTF-8 (the same for ASCII secrets). A piece of at least NEAR (8, two thirds of RUN) characters right
next to an escape that no decoder could decide (cut, malformed, a surrogate with no pair) is
suspected: the scan cannot know how much of the secret the escape hid, so the file is withheld.
Shorter pieces are not flagged on their own: ordinary text would match them by chance.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

from helpers.errors import TOKEN_SHAPED
from helpers.safety.fragments import Fragments, next_to_undecided
from helpers.safety.readings import Encodings, readings
from helpers.safety.secrets import MIN_SECRET_LENGTH

REDACTED = "[REDACTED]"
RUN = 12  # the smallest fragment that counts as a leak: this many characters of a secret in a row, in any reading
NEAR = RUN * 2 // 3  # a shorter piece, next to an escape no decoder could decide, is suspected (derived, not tuned apart)
WITHHELD = "withheld: a secret survived scrubbing in this file, so its content was replaced"
# base64 pictures are left alone (their payload is long runs of letters and digits); SVG is text and is read.
BINARY_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
KINDS = ("widget state", "known secret", "part of a known secret", "base64 of a known secret", "token-shaped string")
# Between two redacted pieces on one line, what is redacted with them: spaces, hex separators, tags.
_GLUE = re.compile(r"(?:[^\S\n]|[:,.\-]|0[xX]|<[^<>\n]*>)*")
_SHOWN = ("text", "data", "traceback")  # what a notebook output shows


def _secrets(values: Iterable[str]) -> list[str]:
    found = {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH}
    return sorted(found, key=len, reverse=True)


def text_forms(secret: str) -> set[str]:
    """The secret as text may carry it: raw, JSON-escaped, HTML-escaped, repr-escaped, URL-encoded."""
    return {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, quote=False),
            repr(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


class _Finder:
    """What the scrub and the scan share: the secrets, their runs in characters and in bytes, and the
    readings of a text. `keep`: values the parameter file gave, never taken for token-shaped strings
    (a known secret among them is still one)."""

    def __init__(self, secrets: Iterable[str], keep: Iterable[str] = ()):
        self.secrets = _secrets(secrets)
        self.kept = {k for k in keep if isinstance(k, str)} - set(self.secrets)
        as_bytes = [s.encode().decode("latin-1") for s in self.secrets]
        self._chars, self._bytes = Fragments(self.secrets, RUN), Fragments(as_bytes, RUN)
        self._encodings, self._plus = Encodings(as_bytes, RUN), any(" " in s for s in self.secrets)

    def _readings(self, text: str):
        for kind, reading in readings(text, self._encodings, plus=self._plus):
            yield kind, reading, self._bytes if kind in ("hex", "base64") else self._chars


class Scrubber(_Finder):
    """Redacts every known secret as any reading shows it (its text forms, any run of RUN of its
    characters, decoded or joined), and token-shaped strings, from string values and keys alike
    (images are left alone)."""

    def __init__(self, secrets: Iterable[str], keep: Iterable[str] = ()):
        super().__init__(secrets, keep)
        forms = set().union(*(text_forms(s) for s in self.secrets)) if self.secrets else set()
        self.values = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        return self._texts([text])[0]

    def _texts(self, texts: list[str]) -> list[str]:
        """Scrubbed as one text, a line break between each: a secret cut across the strings of a list
        (the lines of a notebook output) is found as if they were lines of one text."""
        whole = "\n".join(texts)
        spans = self._glued(whole, self._spans(whole))
        out, start, first = [], 0, 0
        for text in texts:
            end = start + len(text)
            while first < len(spans) and spans[first][1] <= start:
                first += 1
            pieces, pos, i = [], start, first
            while i < len(spans) and spans[i][0] < end:
                a, b = max(spans[i][0], start), min(spans[i][1], end)
                if a < b:
                    pieces += [whole[pos:a], REDACTED]
                    pos = b
                i += 1
            out.append("".join(pieces) + whole[pos:end] if pieces else text)
            start = end + 1
        return out

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where, in the text as written, a token-shaped string or any reading of a secret is."""
        spans = [m.span() for m in TOKEN_SHAPED.finditer(text) if m.group() not in self.kept]
        if not self.secrets:
            return spans
        for form in self.values:
            at = text.find(form)
            while at != -1:
                spans.append((at, at + len(form)))
                at = text.find(form, at + 1)
        for _, reading, fragments in self._readings(text):
            for start, end, _ in fragments.find(reading.text):
                spans += reading.origin(start, end)
        return spans

    @staticmethod
    def _glued(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Overlapping spans merged, and spans apart only by spaces, separators or tags on one line."""
        out: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if out and (a <= out[-1][1] or (a - out[-1][1] <= 8 and _GLUE.fullmatch(text, out[-1][1], a))):
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        return out

    def data(self, node, key: str = ""):
        """A JSON structure with every string value and key scrubbed; image/* payloads untouched. The
        strings are scrubbed together, in order, so a secret cut across them is found."""
        return _rebuild(node, key, iter(self._texts(list(_strings(node, key)))))

    def notebook(self, path: Path) -> None:
        nb = json.loads(path.read_text(encoding="utf-8"))
        # Saved widget state is not part of the audit record, and it is where Password values live.
        nb.get("metadata", {}).pop("widgets", None)
        path.write_text(json.dumps(self.data(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def file(self, path: Path) -> None:
        if path.suffix == ".ipynb":
            self.notebook(path)
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            path.write_text(json.dumps(self.data(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            path.write_text(self.text(path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")


def _rebuild(node, key: str, clean):
    """`node` with each string `_strings` yields replaced by the next of `clean`, in the same order."""
    if isinstance(node, str):
        return node if key in BINARY_IMAGES else next(clean)
    if isinstance(node, list):
        return [_rebuild(item, key, clean) for item in node]
    if isinstance(node, dict):
        rebuilt = {}
        for k, v in node.items():
            new_key = next(clean)
            rebuilt[new_key] = _rebuild(v, k, clean)
        return rebuilt
    return node


class Scanner(_Finder):
    """Searches artifacts for every form of a known secret the scrub removes and more, in every reading
    of each file, and suspects what it cannot decode. It never says which value it found, only which
    kind."""

    def __init__(self, secrets: Iterable[str], keep: Iterable[str] = ()):
        super().__init__(secrets, keep)
        self._forms = sorted(set().union(*(text_forms(s) for s in self.secrets)) if self.secrets else ())
        self._near = Fragments(self.secrets, NEAR)

    def _found(self, texts: list[str], widgets: bool) -> list[str]:
        found = {"widget state"} if widgets else set()
        for base in texts:
            if any(form in base for form in self._forms):
                found.add("known secret")
            for kind, reading, fragments in self._readings(base):
                if kind == "text" and any(m.group() not in self.kept for m in TOKEN_SHAPED.finditer(reading.text)):
                    found.add("token-shaped string")
                if not self.secrets:
                    continue
                for start, end, length in fragments.find(reading.text):
                    whole = end - start == length
                    if kind == "base64":
                        found.add("base64 of a known secret")
                    if kind != "base64" and whole:
                        found.add("known secret")
                    if kind != "base64" and (not whole or length > RUN):  # a secret of RUN or fewer has no part
                        found.add("part of a known secret")
                if kind in ("text", "joined") and next_to_undecided(reading.text, self._near):
                    found.add("part of a known secret")
        return [kind for kind in KINDS if kind in found]

    def leaks(self, path: Path) -> list[str]:
        """What survives in a file, described without the value."""
        return self._found(*_bases(path))

    def text_leaks(self, text: str) -> list[str]:
        return self._found([text], False)


def _bases(path: Path) -> tuple[list[str], bool]:
    """The texts a file is read as (a JSON file: its strings and keys, escapes decoded, image payloads
    left out; a notebook: each cell's outputs last, see `_notebook_text`), and whether saved widget
    state is present."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix not in (".ipynb", ".json"):
        return [raw], False
    try:
        data = json.loads(raw)
    except ValueError:
        return [raw], False
    if isinstance(data, dict) and path.suffix == ".ipynb":
        return [_notebook_text(data)], bool(data.get("metadata", {}).get("widgets"))
    return ["\n".join(_strings(data))], False


def _notebook_text(nb: dict) -> str:
    """Every string of a notebook, keys included, images left out, a line each; what the outputs show
    comes last, cell by cell, output after output, so the joined readings read a secret cut across
    two outputs whole (in the order of `_strings` the keys and types of outputs stand between)."""
    cells, shown = nb.get("cells"), []
    if isinstance(cells, list):
        kept = []
        for cell in cells:
            if isinstance(cell, dict) and isinstance(cell.get("outputs"), list):
                cell = dict(cell, outputs=[_shown(output, shown) for output in cell["outputs"]])
            kept.append(cell)
        nb = dict(nb, cells=kept)
    return "\n".join([*_strings(nb), *shown])


def _shown(output, pieces: list[str]):
    """The output without what it shows, which goes to `pieces`."""
    if not isinstance(output, dict):
        return output
    for key in _SHOWN:
        value = output.get(key)
        if key == "data" and isinstance(value, dict):
            for mime, payload in value.items():
                pieces.extend(_strings(payload, mime))
        elif value is not None:
            pieces.extend(_strings(value, key))
    return {k: v for k, v in output.items() if k not in _SHOWN}


def _strings(node, key: str = ""):
    """Every string of a JSON structure, keys included, except image payloads."""
    if isinstance(node, str):
        if key not in BINARY_IMAGES:
            yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v, k)


def withhold(path: Path) -> None:
    """Replace an artifact that still holds a secret: the record must never keep one."""
    if path.suffix == ".ipynb":
        stub = {"cells": [{"cell_type": "markdown", "id": "withheld", "metadata": {}, "source": WITHHELD}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path.write_text(json.dumps(stub, indent=1) + "\n", encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps({"withheld": WITHHELD}) + "\n", encoding="utf-8")
    else:
        path.write_text(WITHHELD + "\n", encoding="utf-8")


def scrub_and_scan(paths: Iterable[Path], secrets: Iterable[str], *, scrubber: Scrubber | None = None,
                   keep: Iterable[str] = ()) -> dict[str, list[str]]:
    """Scrub every file, then scan it; a file where anything survived is withheld. Returns
    {file name: [what survived]} (empty when clean). Each file is handled on its own: one that cannot
    be parsed (a notebook cut short) is scrubbed as plain text, and one that cannot be read or written
    is reported, never taken for clean."""
    secrets = list(secrets)
    keep = set(keep) | getattr(scrubber, "kept", set())
    scrubber = scrubber or Scrubber(secrets, keep)
    scanner = Scanner(secrets, keep)
    problems: dict[str, list[str]] = {}
    for path in paths:
        try:
            try:
                scrubber.file(path)
            except ValueError:  # not the JSON its name promises: its text is scrubbed all the same
                path.write_text(scrubber.text(path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
            leaks = scanner.leaks(path)
        except OSError as exc:
            leaks = [f"not scrubbed: {exc.strerror or type(exc).__name__}"]
        if leaks:
            problems[path.name] = leaks
            try:
                withhold(path)
            except OSError:
                pass
    return problems


__all__ = ["REDACTED", "Scanner", "Scrubber", "scrub_and_scan", "withhold"]
