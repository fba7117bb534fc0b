"""The exit code of a run, as a table: one pure function of the steps' statuses, the interruption, the
scan's leaks and the record's problems."""

from __future__ import annotations

import pytest

from helpers.run.exit_codes import (
    EXIT_ACTION,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_OK,
    SCAN_FAILED,
    exit_code,
    exit_meaning,
)

LEAK = {"06_smoke_test.ipynb": ["part of a known secret"]}
FULL = ["history.csv: No space left on device"]

TABLE = [
    # statuses                              interrupted leaks problems expected
    (["ok", "changed", "skipped"],           None,       {},   [],      EXIT_OK),
    ([],                                     None,       {},   [],      EXIT_OK),
    (["ok", "action-required", "skipped"],   None,       {},   [],      EXIT_ACTION),
    (["ok", "failed", "skipped"],            None,       {},   [],      EXIT_FAILED),
    (["action-required", "failed"],          None,       {},   [],      EXIT_FAILED),
    (["ok", "interrupted", "skipped"],       "SIGTERM",  {},   [],      EXIT_INTERRUPTED),
    (["failed", "interrupted", "skipped"],   "SIGINT",   {},   [],      EXIT_INTERRUPTED),
    (["ok", "ok"],                           "SIGHUP",   {},   [],      EXIT_INTERRUPTED),  # noted while recording
    (["ok", "changed"],                      None,       LEAK, [],      EXIT_FAILED),
    (["action-required"],                    None,       LEAK, [],      EXIT_FAILED),
    (["ok", "interrupted", "skipped"],       "SIGTERM",  LEAK, [],      EXIT_FAILED),
    (["ok", "changed"],                      None,       {},   FULL,    EXIT_FAILED),
    (["action-required"],                    None,       {},   FULL,    EXIT_FAILED),
    (["ok", "interrupted", "skipped"],       "SIGTERM",  {},   FULL,    EXIT_FAILED),
    (["ok"],                                 None,       LEAK, FULL,    EXIT_FAILED),
]
IDS = ["all ok", "no step", "a person must act", "a step failed", "failed beats action-required", "interrupted",
       "interrupted beats a failed step", "a signal noted after the steps", "a leak fails a clean run",
       "a leak beats action-required", "a leak beats an interruption", "an incomplete record fails a clean run",
       "an incomplete record beats action-required", "an incomplete record beats an interruption",
       "a leak and an incomplete record"]


@pytest.mark.parametrize(("statuses", "interrupted", "leaks", "problems", "expected"), TABLE, ids=IDS)
def test_the_exit_code_of_a_run(statuses, interrupted, leaks, problems, expected):
    assert exit_code(statuses, interrupted, leaks, problems) == expected


@pytest.mark.parametrize(("statuses", "interrupted", "leaks", "problems", "expected"), TABLE, ids=IDS)
def test_the_exit_code_depends_on_nothing_else(statuses, interrupted, leaks, problems, expected):
    """Pure: the same facts, given again or as other iterables, give the same code, and none is changed."""
    before = (list(statuses), interrupted, dict(leaks), list(problems))
    assert exit_code(iter(statuses), interrupted, dict(leaks), tuple(problems)) == expected
    assert exit_code(statuses, interrupted, leaks, problems) == expected
    assert (statuses, interrupted, leaks, problems) == before


def test_the_meaning_names_the_secret_scan_when_a_secret_survived():
    assert exit_meaning(EXIT_FAILED, LEAK) == SCAN_FAILED
    for code, meaning in EXIT_MEANINGS.items():
        assert exit_meaning(code, {}) == meaning


def test_every_exit_code_has_its_meaning():
    assert sorted(EXIT_MEANINGS) == [0, 1, 2, 3, 4, 5]
