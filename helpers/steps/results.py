"""StepResult: what one runbook step found, changed, and needs a person to do."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

OK, CHANGED, ACTION_REQUIRED, FAILED, SKIPPED = "ok", "changed", "action-required", "failed", "skipped"
INTERRUPTED = "interrupted"  # only the runner sets it: the step was stopped by a signal
STATUSES = (OK, CHANGED, ACTION_REQUIRED, FAILED, SKIPPED, INTERRUPTED)
MIME_TYPE = "application/vnd.bp-runbook.step-result+json"


@dataclass
class StepResult:
    step: str                       # e.g. "01_grant_privilege"
    title: str
    status: str = OK
    summary: str = ""
    observed: dict = field(default_factory=dict)    # what the step saw before acting
    changed: list = field(default_factory=list)     # what the runbook changed (and verified)
    actions: list = field(default_factory=list)     # what a person must do (action-required)
    evidence: dict = field(default_factory=dict)    # non-secret facts observed, proving the outcome
    inferred: list = field(default_factory=list)    # conclusions drawn from the evidence, not observed
    notes: list = field(default_factory=list)       # e.g. practice-mode labels, deferred checks
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def finish(self, status: str, summary: str) -> StepResult:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        self.status, self.summary = status, summary
        self.duration_s = round(time.time() - self.started_at, 3)
        return self

    def headline(self) -> str:
        """One deterministic line (no times, ids or tokens): what nbval compares."""
        return f"{self.step}: {self.status} - {self.summary}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StepResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
