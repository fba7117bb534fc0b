"""A masked Secret type: its repr, str and format never show the value.

The value leaves the object only through `reveal()`, which the HTTP layer calls when it builds a
form body or an Authorization header. Nothing else should.
"""

from __future__ import annotations

import hashlib

MASK = "********"


class Secret:
    __slots__ = ("_value", "name", "source")

    def __init__(self, value: str, *, name: str = "secret", source: str = "unknown"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"secret {name!r} from {source} is empty")
        self._value = value.strip()
        self.name, self.source = name, source

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """A short, non-reversible tag to tell two secrets apart in a record."""
        return "sha256:" + hashlib.sha256(self._value.encode()).hexdigest()[:10]

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, source={self.source!r}, value={MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        # Pickling would write the value somewhere we do not control.
        raise TypeError("Secret cannot be pickled")
