"""The runner's stages composed (prepare, execute, record) with collaborators of the test's own: steps
that play a script instead of running notebooks, writers that fail, a scan that finds a leak, clocks
that say what time it is. No kernel starts: the run borrows a pool, as a fleet's worker lends its own."""

from __future__ import annotations

import csv
import errno
import io
import json
from datetime import UTC, datetime

import pytest

from helpers.run.exit_codes import EXIT_MEANINGS, SCAN_FAILED
from helpers.run.interrupt import Interrupted
from helpers.run.record import verify
from helpers.run.runner import Collaborators, RunOptions, run
from helpers.run.summary import write_json
from helpers.steps import STEPS
from helpers.steps.results import StepResult
from tests.support import private, write_params

STEP_IDS = ["00_preflight", "01_grant_privilege", "02_define_user"]


class LentPool:
    """Stands for a warm kernel pool lent to the run: the scripted steps need no kernel."""

    closed = False

    def close(self):
        self.closed = True


def scripted(script: dict[str, str]):
    """Steps that end as the script says ({step: status}, or a signal's name to be interrupted there;
    the others: ok). Each call is noted in `.calls`."""
    def execute(*, step_id, params, run_dir, cell_timeout, pool, kernel_env, clock):
        execute.calls.append(step_id)
        outcome = script.get(step_id, "ok")
        if outcome.startswith("SIG"):
            raise Interrupted(outcome)
        result = StepResult(step_id, STEPS[step_id].title).finish(outcome, f"scripted: {outcome}")
        return {"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0}

    execute.calls = []
    return execute


def full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")


def drive(tmp_path, **collaborators):
    options = RunOptions(params_path=write_params(tmp_path, admin_user=""), emulator=True, only=["0,1,2"],
                         out_dir=tmp_path / "outputs", private_root=private(tmp_path), kernel_pool=LentPool(),
                         collaborators=Collaborators(**{"execute_notebook": scripted({}), **collaborators}))
    out = io.StringIO()
    return run(options, out), out.getvalue(), options


def history_rows(outcome) -> list[dict]:
    path = outcome.run_dir.parent / "history.csv"
    if not path.exists():
        return []
    with path.open(newline="") as history:
        return list(csv.DictReader(history))


ROWS = {
    # what happens                              collaborators                                             exit
    "every step ok":                            ({}, 0),
    "a person must act":                        ({"script": {"01_grant_privilege": "action-required"}}, 2),
    "a step failed":                            ({"script": {"01_grant_privilege": "failed"}}, 1),
    "interrupted":                              ({"script": {"01_grant_privilege": "SIGTERM"}}, 5),
    "a secret survived the scrub":              ({"leak": True}, 1),
    "summary.json not written":                 ({"write_summary_json": full}, 1),
    "the manifest not written":                 ({"write_manifest": full}, 1),
    "the history not written":                  ({"append_history": full}, 1),
    "interrupted, the manifest not written":    ({"script": {"01_grant_privilege": "SIGTERM"},
                                                  "write_manifest": full}, 1),
    "action-required, a secret survived":       ({"script": {"02_define_user": "action-required"}, "leak": True}, 1),
}


@pytest.mark.parametrize(("case", "expected"), [(case, code) for case, (_, code) in ROWS.items()], ids=list(ROWS))
def test_the_run_ends_with_the_exit_code_its_record_says(tmp_path, case, expected):
    given = dict(ROWS[case][0])
    using = {"execute_notebook": scripted(given.pop("script", {}))}
    if given.pop("leak", False):
        using["scrub_and_scan"] = lambda paths, secrets: {p.name: ["part of a known secret"] for p in paths
                                                          if p.name == "run.log"}
    outcome, printed, options = drive(tmp_path, **using, **given)

    assert outcome.exit_code == expected == outcome.summary["exit_code"], printed
    assert printed.splitlines()[-2 if "append_history" in given else -3] == f"Exit {expected}: {EXIT_MEANINGS[expected]}"
    assert outcome.summary["exit_meaning"] == (SCAN_FAILED if "leak" in ROWS[case][0] else EXIT_MEANINGS[expected])
    assert [s["result"]["step"] for s in outcome.summary["steps"]] == STEP_IDS  # every step has its entry
    rows = history_rows(outcome)
    if "append_history" in given:
        assert rows == [] and "is incomplete: history.csv: No space left on device" in printed
    else:
        assert [row["exit_code"] for row in rows] == [str(expected)]  # the history row says what the run exits with
    if not given:  # a complete record: what summary.json says is the exit code too
        assert json.loads((outcome.run_dir / "summary.json").read_text())["exit_code"] == expected
        assert verify(outcome.run_dir.parent) == []
    assert "Traceback" not in printed and list(private(tmp_path).iterdir()) == []


def test_an_interrupted_step_passes_over_the_rest_and_closes_the_lent_pool(tmp_path):
    steps = scripted({"01_grant_privilege": "SIGINT"})
    outcome, printed, options = drive(tmp_path, execute_notebook=steps)
    assert steps.calls == ["00_preflight", "01_grant_privilege"]
    assert [s["result"]["status"] for s in outcome.summary["steps"]] == ["ok", "interrupted", "skipped"]
    assert outcome.summary["steps"][2]["result"]["summary"] == "not run: the run was interrupted by SIGINT"
    assert options.kernel_pool.closed  # this run's kernel goes with the lent pool
    marked = json.loads((outcome.run_dir / "01_grant_privilege.ipynb").read_text())
    assert marked["metadata"]["bp_runbook"] == {"interrupted": "SIGINT"}
    assert "Interrupted by SIGINT: the steps not run are recorded as skipped." in printed


def test_a_failed_step_stops_the_run(tmp_path):
    steps = scripted({"00_preflight": "failed"})
    outcome, printed, _ = drive(tmp_path, execute_notebook=steps)
    assert steps.calls == ["00_preflight"]
    assert [s["result"]["summary"] for s in outcome.summary["steps"][1:]] == [
        "not run: stopped after 00_preflight failed (use --keep-going to run the rest)"] * 2


def test_an_error_in_a_step_is_recorded_as_a_failed_step_and_the_rest_as_not_run(tmp_path):
    def broken(**step):
        raise LookupError("the step's machinery broke")

    outcome, printed, _ = drive(tmp_path, execute_notebook=broken)
    assert outcome.exit_code == 1
    assert [(s["result"]["status"], s["result"]["summary"]) for s in outcome.summary["steps"]] == [
        ("failed", "not run: unexpected LookupError: the step's machinery broke"),
        ("skipped", "not run: 00_preflight could not run"), ("skipped", "not run: 00_preflight could not run")]
    assert "error: unexpected LookupError: the step's machinery broke (recorded as a failed step)" in printed


def test_the_run_takes_its_times_from_the_clocks_it_is_given(tmp_path):
    start, end = 1_735_787_045.0, 1_735_787_087.5  # 2025-01-02 03:04:05 UTC, and 42.5 s later
    stamp = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    written = []

    def write_summary_json(path, summary):
        written.append(summary)
        write_json(path, summary)

    first, _, _ = drive(tmp_path, clock=iter([start, end]).__next__, utc_now=lambda: stamp,
                        write_summary_json=write_summary_json)
    again, _, _ = drive(tmp_path, clock=iter([start, end]).__next__, utc_now=lambda: stamp)
    assert (first.run_dir.name, again.run_dir.name) == ("20250102T030405Z", "20250102T030405Z-2")
    assert first.summary["started_at"] == "2025-01-02T03:04:05+00:00" and first.summary["duration_s"] == 42.5
    assert written[0]["started_at"] == "2025-01-02T03:04:05+00:00" and written[0]["duration_s"] == 42.5
    assert [row["run_id"] for row in history_rows(again)] == ["20250102T030405Z", "20250102T030405Z-2"]
    assert verify(first.run_dir.parent) == []
