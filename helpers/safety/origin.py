"""Where each character of a reading of a text came from: a reading maps any of its spans back to
spans of the text as written, through every reading it was made from, so the scrub can redact the
original characters of whatever a reading shows."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from itertools import pairwise


class Reading:
    """A text as written (the root), or a reading of one: `text`, and `origin(start, end)`, the spans of
    the text as written that its characters start..end came from."""

    def __init__(self, text: str, parent: Reading | None = None):
        self.text, self.parent = text, parent

    def origin(self, start: int, end: int) -> list[tuple[int, int]]:
        spans = self._spans(start, end)
        return spans if self.parent is None else [s for a, b in spans for s in self.parent.origin(a, b)]

    def _spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """Characters start..end as spans of the parent (of the text itself, for the root)."""
        return [(start, end)]


class Mapped(Reading):
    """A reading whose characters come from segments of its parent: (start, end, parent_start,
    parent_end, literal). A literal segment maps character for character; any other maps each of its
    characters to the whole parent span (an escape). Segments may be built only when first needed."""

    def __init__(self, text: str, parent: Reading, segments: list | Callable[[], list]):
        super().__init__(text, parent)
        self._segments, self._starts = segments, None

    def _spans(self, start, end):
        if self._starts is None:
            if callable(self._segments):
                self._segments = self._segments()
            self._starts = [s[0] for s in self._segments]
        spans, segments = [], self._segments
        i = max(bisect_right(self._starts, start) - 1, 0)
        while i < len(segments) and segments[i][0] < end:
            s, e, ps, pe, literal = segments[i]
            lo, hi = max(start, s), min(end, e)
            if lo < hi:
                spans.append((ps + lo - s, ps + hi - s) if literal else (ps, pe))
            i += 1
        return spans


class Removed(Reading):
    """The parent with every match of `pattern` removed, chunk by chunk (a chunk starts at a line start,
    so no match spans two; anywhere, for a pattern removed character by character). Where each
    character came from is worked out only for the chunk it is in, from how many characters each chunk
    keeps: a hit in a large text costs little."""

    CHUNK = 1 << 15

    def __init__(self, parent: Reading, pattern: re.Pattern, remove: Callable[[str], str], anywhere: bool = False):
        text, bounds = parent.text, [0]
        while bounds[-1] + self.CHUNK < len(text):
            nl = -1 if anywhere else text.find("\n", bounds[-1] + self.CHUNK)
            if nl == -1 and not anywhere:
                break
            bounds.append(nl + 1 if nl != -1 else bounds[-1] + self.CHUNK)
        bounds.append(len(text))
        parts, kept = [remove(text[a:b]) for a, b in pairwise(bounds)], [0]
        for part in parts:
            kept.append(kept[-1] + len(part))
        super().__init__("".join(parts), parent)
        self.pattern, self._bounds, self._kept = pattern, bounds, kept
        self._maps: dict[int, Mapped] = {}

    def _spans(self, start, end):
        spans, j = [], max(bisect_right(self._kept, start) - 1, 0)
        while j < len(self._kept) - 1 and self._kept[j] < end:
            if j not in self._maps:
                self._maps[j] = self._chunk_map(j)
            lo, hi = max(start, self._kept[j]), min(end, self._kept[j + 1])
            if lo < hi:
                spans += self._maps[j]._spans(lo - self._kept[j], hi - self._kept[j])
            j += 1
        return spans

    def _chunk_map(self, j: int) -> Mapped:
        text, a, b = self.parent.text, self._bounds[j], self._bounds[j + 1]
        out, here, pos = [], 0, a
        for m in self.pattern.finditer(text, a, b):
            if m.start() > pos:
                out.append((here, here + m.start() - pos, pos, m.start(), True))
                here += m.start() - pos
            pos = max(pos, m.end())
        if pos < b:
            out.append((here, here + b - pos, pos, b, True))
        return Mapped(self.text[self._kept[j]:self._kept[j + 1]], self.parent, out)
