"""The kernel pool's error, under the runbook's one hierarchy (helpers/errors.py)."""

from __future__ import annotations

from ..errors import RunbookError


class KernelPoolError(RunbookError):
    """A pooled kernel could not be started, handed over, or the pool was used wrongly; says the fix."""
