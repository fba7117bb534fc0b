"""The closing page (notebooks/done.ipynb) from what the lab's pages recorded: done, left, verified later."""

from __future__ import annotations

from pathlib import Path

from helpers.notebook.closing import as_html, as_text, session
from helpers.steps import STEPS, findings
from helpers.steps.params import validate
from helpers.steps.results import StepResult


def record(step: str, status: str, environ: dict, params, at: float, **observed) -> None:
    result = StepResult(step, STEPS[step].title, observed=observed).finish(status, f"{step} said {status}")
    findings.record_in_lab(result, params, environ, now=at)


def test_the_closing_page_counts_a_step_verified_later_as_done_and_lists_what_is_left(tmp_path):
    environ, params = {"BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}, validate({})
    record("00_preflight", "ok", environ, params, 100)
    record("01_grant_privilege", "action-required", environ, params, 101)
    record("02_define_user", "changed", environ, params, 102)
    record("04_access_token", "ok", environ, params, 104, verifies={"01_grant_privilege": "its token is accepted"})
    rows = {r["step"]: r for r in session(params, environ, now=200)}
    assert rows["01_grant_privilege"]["verified by"] == "04_access_token" and rows["01_grant_privilege"]["done"]
    assert [s for s, r in rows.items() if not r["done"]] == ["03_api_secret", "05_chat_service", "06_smoke_test"]
    assert rows["03_api_secret"]["status"] is None and rows["02_define_user"]["summary"] == "02_define_user said changed"
    text = as_text(list(rows.values()), params.effective_scope)
    assert text.startswith("Not finished for example.brightpattern.com: left 03, 05, 06")
    page = as_html(list(rows.values()), params.effective_scope, Path("/practice"))
    assert "3 of 7 steps are done" not in page and "4 of 7 steps are done" in page
    assert "<a href='03_api_secret.ipynb'>03 " in page and "Verified later by step 04" in page
    # A step that verified nothing it did not itself pass: 04 action-required verifies nothing.
    record("04_access_token", "action-required", environ, params, 105, verifies={"01_grant_privilege": "x"})
    assert not {r["step"]: r for r in session(params, environ, now=200)}["01_grant_privilege"]["done"]


def test_every_step_done_says_done_and_stale_findings_are_forgotten(tmp_path):
    environ, params = {"BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}, validate({})
    for i, step in enumerate(STEPS):
        record(step, "ok", environ, params, 1000 + i)
    rows = session(params, environ, now=2000)
    assert as_text(rows, params.effective_scope).startswith("Done: every step is done for example.brightpattern.com")
    assert "<b style='color:#1a7f37'>Done.</b>" in as_html(rows, params.effective_scope, Path("/practice"))
    later = session(params, environ, now=1000 + findings.LAB_HOURS * 3600 + 10)  # a day later: nothing is known
    assert all(r["status"] is None and not r["done"] for r in later)
