"""Scrub, then scan: remove every known secret from run artifacts, then search them again for
more than the scrub removes, and fail closed if anything survived.

Papermill writes parameters into notebooks, saved widget state keeps Password values, tracebacks
and error bodies quote whatever they saw, a proxy may echo a credential back HTML-escaped or
base64-encoded: every artifact of a run passes through here before anyone reads it. The scrub
removes the forms a secret takes in text (raw, JSON-, HTML-, repr-escaped, URL-encoded, any run of
12 of its characters) and every token-shaped string, in values and keys. The scan also decodes
what it reads (HTML entities, backslash escapes, URL encoding, lines joined, whitespace removed)
and looks for base64 at every alignment: whatever the scrub missed, the scan names.
"""

from __future__ import annotations

import base64
import codecs
import html
import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from helpers.errors import TOKEN_SHAPED
from helpers.safety.secrets import MIN_SECRET_LENGTH

REDACTED = "[REDACTED]"
RUN = 12  # a run of this many characters of a secret counts as the secret (error bodies cut it short)
WITHHELD = "withheld: a secret survived scrubbing in this file, so its content was replaced"
# base64 pictures are left alone (their payload is long runs of letters and digits); SVG is text and is read.
BINARY_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")


def _secrets(values: Iterable[str]) -> list[str]:
    found = {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH}
    return sorted(found, key=len, reverse=True)


def text_forms(secret: str) -> set[str]:
    """The secret as text may carry it: raw, JSON-escaped, HTML-escaped, repr-escaped, URL-encoded."""
    return {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, quote=False),
            repr(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


def runs(secret: str, length: int = RUN) -> set[str]:
    return {secret[i:i + length] for i in range(len(secret) - length + 1)} if len(secret) > length else set()


def base64_forms(secret: str) -> set[str]:
    """The part of base64 that stays the same wherever the secret starts (alignment 0, 1 or 2 bytes),
    standard and URL-safe alphabets."""
    forms = set()
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode().rstrip("=")
        stable = encoded[4 if shift else 0:len(encoded) - 4]
        if len(stable) >= RUN:
            forms |= {stable, stable.replace("+", "-").replace("/", "_")}
    return forms


def _alternation(needles: Iterable[str]) -> re.Pattern | None:
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, needles))) if needles else None


class Scrubber:
    """Removes the text forms of known secrets, any run of 12 of their characters, and token-shaped
    strings, from string values and keys alike (images are left alone)."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = _secrets(secrets)
        forms = set().union(*(text_forms(s) for s in self.secrets)) if self.secrets else set()
        self.values = sorted(forms, key=len, reverse=True)
        self._pattern = _alternation(forms)
        self._runs = _alternation(set().union(*(runs(s) for s in self.secrets)) if self.secrets else ())

    def text(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if self._runs is not None:
            text = self._redact_runs(text)
        return TOKEN_SHAPED.sub(REDACTED, text)

    def _redact_runs(self, text: str) -> str:
        """Each place where 12 or more characters of a secret appear in a row (a secret cut short by a
        truncated error body, say) is redacted as far as it goes."""
        out, pos = [], 0
        for match in self._runs.finditer(text):
            if match.start() < pos:
                continue
            end = match.end()
            for secret in self.secrets:
                start = secret.find(match.group())
                while start != -1:
                    length = RUN
                    while (match.start() + length < len(text) and start + length < len(secret)
                           and text[match.start() + length] == secret[start + length]):
                        length += 1
                    end = max(end, match.start() + length)
                    start = secret.find(match.group(), start + 1)
            out += [text[pos:match.start()], REDACTED]
            pos = end
        return "".join(out) + text[pos:]

    def data(self, node, key: str = ""):
        """A JSON structure with every string value and key scrubbed; image/* payloads untouched."""
        if isinstance(node, str):
            return node if key in BINARY_IMAGES else self.text(node)
        if isinstance(node, list):
            return [self.data(item, key) for item in node]
        if isinstance(node, dict):
            return {self.text(k): self.data(v, k) for k, v in node.items()}
        return node

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


class Scanner:
    """Searches artifacts for every form of a known secret the scrub removes and more, in several
    decoded views of each file. It never says which value it found, only which kind."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = _secrets(secrets)
        self._whole = _alternation(set().union(*(text_forms(s) for s in self.secrets)) if self.secrets else ())
        self._part = _alternation(set().union(*(runs(s) for s in self.secrets)) if self.secrets else ())
        self._b64 = _alternation(set().union(*(base64_forms(s) for s in self.secrets)) if self.secrets else ())
        # One pass over each view decides whether any form is there at all (the usual answer: none).
        self._any = _alternation(set().union(*(text_forms(s) | runs(s) | base64_forms(s) for s in self.secrets))
                                 if self.secrets else ())

    @staticmethod
    def views(path: Path) -> tuple[list[str], list[str], bool]:
        """(texts as written and decoded, texts with whitespace and line breaks removed, whether saved
        widget state is present). Token shapes are only looked for in the first kind: removing
        whitespace joins ordinary words into long runs."""
        raw = path.read_text(encoding="utf-8", errors="replace")
        texts, widgets = [raw], False
        if path.suffix in (".ipynb", ".json"):
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if isinstance(data, dict) and path.suffix == ".ipynb":
                widgets = bool(data.get("metadata", {}).get("widgets"))
            if data is not None:
                # Every string and key, JSON escapes decoded; image payloads (base64 of pictures) left out.
                texts = ["\n".join(_strings(data))]
        texts = list(dict.fromkeys(texts + [view for text in texts for view in _decoded(text)]))
        return texts, list(dict.fromkeys(re.sub(r"\s+", "", t) for t in texts)), widgets

    def _found(self, texts: list[str], joined: list[str], widgets: bool) -> list[str]:
        found = ["widget state"] if widgets else []
        hits = [t for t in texts + joined if self._any is not None and self._any.search(t)]
        for kind, pattern in (("known secret", self._whole), ("part of a known secret", self._part),
                              ("base64 of a known secret", self._b64)):
            if pattern is not None and any(pattern.search(t) for t in hits):
                found.append(kind)
        if any(TOKEN_SHAPED.search(t) for t in texts):
            found.append("token-shaped string")
        return found

    def leaks(self, path: Path) -> list[str]:
        """What survives in a file, described without the value."""
        return self._found(*self.views(path))

    def text_leaks(self, text: str) -> list[str]:
        texts = list(dict.fromkeys([text, *_decoded(text)]))
        return self._found(texts, [re.sub(r"\s+", "", t) for t in texts], False)


def _decoded(text: str) -> list[str]:
    """The text as HTML entities, URL encoding and backslash escapes would decode it (only the
    decodings that can change it)."""
    views = []
    if "&" in text:
        views.append(html.unescape(text))
    if "%" in text or "+" in text:
        views += [unquote(text), unquote_plus(text)]
    if "\\" in text:
        views.append(_unescape(text))
    return views


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


def _unescape(text: str) -> str:
    """Backslash escapes decoded (\\x41, \\u0041, \\n): how repr() and logs may write a secret."""
    with warnings.catch_warnings():  # "\d" and the like are not escapes: left as they are, quietly
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
        except (UnicodeDecodeError, ValueError):
            return text


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


def scrub_and_scan(paths: Iterable[Path], secrets: Iterable[str], *, scrubber: Scrubber | None = None
                   ) -> dict[str, list[str]]:
    """Scrub every file, then scan it; a file where anything survived is withheld. Returns
    {file name: [what survived]} (empty when clean). Each file is handled on its own: one that cannot
    be parsed (a notebook cut short) is scrubbed as plain text, and one that cannot be read or written
    is reported, never taken for clean."""
    secrets = list(secrets)
    scrubber = scrubber or Scrubber(secrets)
    scanner = Scanner(secrets)
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
