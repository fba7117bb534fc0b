"""Where a secret shows in a text: runs of its characters, and pieces of it next to what no decoder
could decide. The sizes are the scrub's (helpers/safety/scrub.py: RUN, NEAR)."""

from __future__ import annotations

import re

# What a decoder had to leave as written: an escape cut short or malformed, a surrogate with no pair.
UNDECIDED = re.compile(
    r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{0,3}(?![0-9a-fA-F])|\\U[0-9a-fA-F]{0,7}(?![0-9a-fA-F])"
    r"|\\x[0-9a-fA-F]?(?![0-9a-fA-F])|%[0-9a-fA-F]?(?![0-9a-fA-F])|&#[xX]?[0-9a-fA-F]{0,6}(?![0-9a-fA-F;])|\\$")
_LONGEST_UNDECIDED = 10


class Fragments:
    """Where a text shows `size` or more characters of a secret in a row (the whole secret, if it is
    shorter; or, per secret, the sizes `least` gives). Each secret is cut into blocks of about half that
    size at fixed places: any run of that size holds one whole block, so a few str.find calls per text find
    every candidate, and each is widened both ways as far as the text goes on matching the secret."""

    def __init__(self, secrets: list[str], size: int, least: list[int] | None = None):
        self.plan = []
        for i, secret in enumerate(secrets):
            smallest = least[i] if least is not None else min(size, len(secret))
            block = max((smallest + 1) // 2, 1)  # a run of `smallest` holds a whole block however it falls
            blocks = [(k, secret[k:k + block]) for k in range(0, len(secret) - block + 1, block)]
            self.plan.append((secret, smallest, blocks))

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, the secret's length) of each run: the whole secret where end - start is that length."""
        found = set()
        for secret, smallest, blocks in self.plan:
            runs: dict[int, list[tuple[int, int]]] = {}  # where the secret would start -> runs found there
            for k, block in blocks:
                at = text.find(block)
                while at != -1:
                    if not any(a <= at < b for a, b in runs.get(at - k, ())):
                        start, end = _widened(text, secret, at, k, len(block))
                        runs.setdefault(at - k, []).append((start, end))
                        if end - start >= smallest:
                            found.add((start, end, len(secret)))
                    at = text.find(block, at + 1)
        return sorted(found)


def _widened(text: str, secret: str, at: int, k: int, length: int) -> tuple[int, int]:
    start, s = at, k
    while start > 0 and s > 0 and text[start - 1] == secret[s - 1]:
        start, s = start - 1, s - 1
    end, s = at + length, k + length
    while end < len(text) and s < len(secret) and text[end] == secret[s]:
        end, s = end + 1, s + 1
    return start, end


def next_to_undecided(text: str, near: Fragments) -> bool:
    """Whether a piece of a secret `near` finds stands right before or after something a decoder had
    to leave as written: what the escape hid cannot be known, so the piece may be more of the secret
    than it shows."""
    for start, end, _ in near.find(text):
        if UNDECIDED.match(text, end):
            return True
        # Before it, touching it or taking its first characters as hex digits ("\\x5" + "Hd1…").
        if any(m.start() < start <= m.end()
               for m in UNDECIDED.finditer(text, max(start - _LONGEST_UNDECIDED, 0), start + _LONGEST_UNDECIDED)):
            return True
    return False
