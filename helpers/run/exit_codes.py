"""A run's exit code, decided in one place from what happened.

    code = exit_code(statuses, interrupted, leaks, problems)

Most severe first:

    a secret survived scrubbing (leaks)       1  (its meaning names the secret scan)
    the record could not be completed         1  (a full disk, a folder removed, the scrub not run)
    interrupted by a signal                   5
    a step failed                             1
    a step needs a person (action-required)   2
    otherwise (ok, changed, skipped)          0

A record that is incomplete or holds a leak fails the run even when it was interrupted: nobody may
take it for a clean record of an interruption. Exit 3 (bad input) and 4 (locked) end a run before
any step ran, so no record is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from helpers.steps.results import ACTION_REQUIRED, FAILED

EXIT_OK, EXIT_FAILED, EXIT_ACTION, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5
EXIT_MEANINGS = {EXIT_OK: "all steps ok, changed or skipped",
                 EXIT_FAILED: "a step failed (or the record could not be completed)",
                 EXIT_ACTION: "a person must act (action-required)",
                 EXIT_BAD_INPUT: "bad parameters or missing secrets: no step ran",
                 EXIT_LOCKED: "another run for this tenant holds the lock: nothing was done",
                 EXIT_INTERRUPTED: "interrupted by a signal (SIGTERM, SIGINT or SIGHUP): the record covers what ran"}
SCAN_FAILED = "secret scan failed: a secret survived scrubbing (the file was withheld)"


def exit_code(statuses: Iterable[str], interrupted: str | None, leaks: Mapping[str, list[str]] | None,
              problems: Iterable[str]) -> int:
    """The exit code of a run whose steps ended with `statuses`, interrupted by the signal named
    `interrupted` (or None), whose scan found `leaks` ({file: what survived}) and whose record met
    `problems` (what could not be written, one line each)."""
    statuses = list(statuses)
    if leaks or list(problems):
        return EXIT_FAILED
    if interrupted:
        return EXIT_INTERRUPTED
    if FAILED in statuses:
        return EXIT_FAILED
    if ACTION_REQUIRED in statuses:
        return EXIT_ACTION
    return EXIT_OK


def exit_meaning(code: int, leaks: Mapping[str, list[str]] | None) -> str:
    """What summary.json and history.csv say about the exit code: a leak is named as such."""
    return SCAN_FAILED if leaks else EXIT_MEANINGS[code]
