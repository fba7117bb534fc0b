"""The environment a pooled kernel starts with: the parent's, minus anything that looks secret.

A pooled kernel starts before anyone knows which notebook, and in a fleet which tenant, it will
serve; so it must not carry any tenant's secrets. What a notebook needs is applied at handover
(`KernelPool.acquire(env=...)`), for that notebook only.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping

# Name patterns, matched case-insensitively. *SECRET* is wider than the runbook's own BP_*SECRET*
# on purpose: AWS_SECRET_ACCESS_KEY or CLIENT_SECRET are no business of a notebook either.
SECRET_PATTERNS = ("*SECRET*", "*TOKEN*", "*PASSWORD*")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in (*SECRET_PATTERNS, *extra))


def sanitized_environ(hide: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `environ` (default: this process's) without secret-like variables and without the
    names or patterns in `hide` (e.g. ["BP_API_SECRET", "ACME_*"])."""
    environ = os.environ if environ is None else environ
    hide = tuple(hide)
    return {name: value for name, value in environ.items() if not is_secret_name(name, hide)}
