"""Scrub, then scan: remove every known secret value and token-shaped string from run artifacts,
then check again and fail closed if anything survived.

Papermill writes parameters into notebooks, saved widget state keeps Password values, tracebacks
quote whatever they saw: every artifact of a run passes through here before anyone reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

from .errors import TOKEN_SHAPED

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter "secrets" would redact ordinary words


class Scrubber:
    def __init__(self, secrets: Iterable[str]):
        forms = set()
        for value in secrets:
            if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
                continue
            value = value.strip()
            # the value as it may appear in JSON text, a URL-encoded form body, or a Python repr
            forms.update({value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)})
        self.values = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        return TOKEN_SHAPED.sub(REDACTED, text)

    def _walk(self, node, key: str = ""):
        if isinstance(node, str):
            return node if key.startswith("image/") else self.text(node)
        if isinstance(node, list):
            return [self._walk(item, key) for item in node]
        if isinstance(node, dict):
            return {k: self._walk(v, k) for k, v in node.items()}
        return node

    def notebook(self, path: Path) -> None:
        nb = json.loads(path.read_text(encoding="utf-8"))
        # Saved widget state is not part of the audit record, and it is where Password values live.
        nb.get("metadata", {}).pop("widgets", None)
        path.write_text(json.dumps(self._walk(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def file(self, path: Path) -> None:
        if path.suffix == ".ipynb":
            self.notebook(path)
        else:
            path.write_text(self.text(path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")

    def leaks(self, path: Path) -> list[str]:
        """What survives in a file, described without the value: ["known secret", "token-shaped string"]."""
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            nb = json.loads(text)
            if nb.get("metadata", {}).get("widgets"):
                return ["widget state"]
            text = _text_outside_images(nb)
        found = []
        if any(value in text for value in self.values):
            found.append("known secret")
        if TOKEN_SHAPED.search(text):
            found.append("token-shaped string")
        return found


def _text_outside_images(node, key: str = "") -> str:
    if isinstance(node, str):
        return "" if key.startswith("image/") else node + "\n"
    if isinstance(node, list):
        return "".join(_text_outside_images(item, key) for item in node)
    if isinstance(node, dict):
        return "".join(_text_outside_images(v, k) for k, v in node.items())
    return ""


def scrub_and_scan(paths: Iterable[Path], secrets: Iterable[str]) -> dict[str, list[str]]:
    """Scrub every file, then scan it; returns {file name: [what survived]} (empty when clean)."""
    scrubber = Scrubber(secrets)
    problems: dict[str, list[str]] = {}
    for path in paths:
        scrubber.file(path)
        leaks = scrubber.leaks(path)
        if leaks:
            problems[path.name] = leaks
    return problems


__all__ = ["REDACTED", "Scrubber", "scrub_and_scan"]
