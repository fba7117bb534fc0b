"""A run's evidence is shared through the runner (issue 15): the run-context file carries each step's
status and shared findings to the later steps, and the record marks a step that a later step
verified. The runner in-process, against a seeded emulator whose SMS/MMS API refuses the probe
while it would deliver a text (a consistent stand-in)."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from emulator import EmulatorServer
from helpers.run.summary import write_html
from helpers.steps import findings
from tests.support import CANARY_ADMIN, CANARY_API, Console, go, ready_seed, write_params

PROBE = "/clientweb/smsapi/v1/Messages/runbook-probe"


@pytest.mark.notebooks
@pytest.mark.parametrize("status", [403, 401])
def test_a_run_whose_probe_is_refused_never_ends_with_a_text_sent(tmp_path, status):
    with EmulatorServer(seed=str(ready_seed(tmp_path))) as server:
        console = Console(server.url)
        console.fault(kind="answer", status=status, body={"error": "refused"}, path_prefix=PROBE, count=100)
        env = {"BP_EMULATOR_URL": server.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": CANARY_API}
        with mock.patch.dict(os.environ, env):
            outcome, printed = go(tmp_path, write_params(tmp_path, smoke_test=True), keep_going=True)
        messages = console.tenant_state()["messages"]
    results = {s["result"]["step"]: s["result"] for s in outcome.summary["steps"]}
    assert results["01_grant_privilege"]["status"] == results["04_access_token"]["status"] == "action-required"
    r06 = results["06_smoke_test"]
    assert r06["status"] == "action-required", printed
    assert r06["summary"].startswith("not sent: step 04 found the SMS/MMS API refusing the API user's token (")
    assert r06["evidence"]["step 04's probe"] == f"HTTP {status} (application/json) to Get Message of a made-up id"
    assert messages == []
    assert outcome.exit_code == 2


def test_the_record_marks_a_step_verified_later_and_by_which_evidence(tmp_path):
    def entry(step, status, observed=None):
        return {"result": {"step": step, "title": step, "status": status, "summary": f"{step} said", "actions": [],
                           "evidence": {}, "changed": [], "notes": [], "observed": observed or {}},
                "notebook": None, "seconds": 0.0}

    proof = "a role of the API user holds 'Use SMS/MMS API': HTTP 404 (application/json) to Get Message of a made-up id"
    entries = findings.mark_verified_later([
        entry("01_grant_privilege", "action-required"), entry("03_api_secret", "ok"),
        entry("04_access_token", "ok", {"verifies": {"01_grant_privilege": proof, "03_api_secret": "works"}})])
    assert entries[0]["verified_later"] == {"by": "04_access_token", "evidence": proof}
    assert "verified_later" not in entries[1]  # it ended ok by itself
    summary = {"steps": entries, "exit_code": 2, "exit_meaning": "a person must act", "parameters": {}, "tenant": "t",
               "run_id": "r", "target": {"address": "https://t", "emulator": False}, "duration_s": 1.0,
               "run_by": {"user": "u", "host": "h"}, "versions": {}}
    write_html(tmp_path / "summary.html", summary)
    assert f"verified later by step 04: {proof}" in (tmp_path / "summary.html").read_text().replace("&#x27;", "'")
