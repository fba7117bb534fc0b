"""Safeguards that had no test of their own; each test fails when its safeguard is removed:
the record stage's final scrub of run.log, token-shaped strings redacted in an ApiError, the late scan
of summary.json and summary.html, the pooled kernels' environment, `verify` naming an added file, and
an unreadable pending-send ledger blocking the next text."""

from __future__ import annotations

import io
import json
import os
from unittest import mock

import pytest

from helpers.errors import ApiError
from helpers.run.kernels.environ import sanitized_environ
from helpers.run.record import verify
from helpers.run.runner import Collaborators, RunOptions, run
from helpers.run.summary import write_json
from helpers.safety.scrub import WITHHELD, Scanner
from helpers.steps import STEPS, run_step
from helpers.steps.params import validate
from helpers.steps.results import StepResult
from tests.support import API_USER, CANARY_API, SCOPE, SMS_NUMBER, SMS_ROLE, private, write_params


class LentPool:
    closed = False

    def close(self):
        self.closed = True


def steps_ok(before=None):
    """Steps that end ok without a kernel; `before(run_dir)` acts first, as a notebook might."""
    def execute(*, step_id, params, run_dir, cell_timeout, pool, kernel_env, clock):
        if before:
            before(run_dir)
        result = StepResult(step_id, STEPS[step_id].title).finish("ok", "scripted")
        return {"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0}
    return execute


def drive(tmp_path, before=None, **collaborators):
    options = RunOptions(params_path=write_params(tmp_path, admin_user=""), emulator=True, only=["0"],
                         out_dir=tmp_path / "outputs", private_root=private(tmp_path), kernel_pool=LentPool(),
                         collaborators=Collaborators(execute_notebook=steps_ok(before), **collaborators))
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"BP_API_SECRET": CANARY_API}):
        return run(options, out), out.getvalue()


def test_the_record_stage_scrubs_run_log_once_more_at_the_end(tmp_path):
    """Safeguard: recording.py seals run.log (a writer that went around its handler, e.g. a library
    writing to the file, is caught by the final scrub)."""
    def raw(run_dir):
        with (run_dir / "run.log").open("a", encoding="utf-8") as handle:
            handle.write(f"a library wrote this raw: {CANARY_API}\n")

    outcome, printed = drive(tmp_path, raw)
    text = (outcome.run_dir / "run.log").read_text()
    assert "a library wrote this raw: [REDACTED]" in text and CANARY_API not in text
    assert outcome.exit_code == 0, printed


def test_the_late_scan_withholds_summaries_where_a_secret_survived(tmp_path):
    """Safeguard: recording.py scans summary.json and summary.html after writing them. A piece of the
    secret next to an escape no decoder can decide is not scrubbed, only suspected by the scan."""
    piece = CANARY_API[:10] + "\\ud83d"

    def json_with_piece(path, summary):
        write_json(path, summary | {"note": piece})

    def html_with_piece(path, summary):
        path.write_text(f"<p>{piece}</p>", encoding="utf-8")

    outcome, printed = drive(tmp_path, write_summary_json=json_with_piece, write_summary_html=html_with_piece)
    assert json.loads((outcome.run_dir / "summary.json").read_text()) == {"withheld": WITHHELD}
    assert (outcome.run_dir / "summary.html").read_text() == WITHHELD + "\n"
    assert outcome.exit_code == 1
    assert f"survived in {outcome.run_dir / 'summary.json'}" in printed
    assert f"survived in {outcome.run_dir / 'summary.html'}" in printed


def test_an_api_error_redacts_token_shaped_strings_in_its_body_and_detail():
    token = "eyJ" + "a1B2c3D4" * 5
    exc = ApiError(f"refused with {token}", method="POST", path="/configapi/v2/oauth/token", status=401,
                   body=f'{{"error": "invalid", "echo": "{token}"}}')
    assert token not in exc.detail and "[redacted]" in exc.detail
    assert token not in exc.body and "[redacted]" in exc.body
    assert token not in str(exc) and token not in repr(exc)


def test_a_pooled_kernel_never_inherits_a_tenants_or_a_lower_case_secret():
    environ = {"BP_ADMIN_SECRET__ACME_BRIGHTPATTERN_COM": "a", "BP_API_SECRET__ACME_BRIGHTPATTERN_COM": "b",
               "bp_api_secret": "c", "my_client_secret": "d", "github_token": "e", "db_password": "f",
               "HOME": "/home/x", "PATH": "/bin"}
    assert sanitized_environ(environ=environ) == {"HOME": "/home/x", "PATH": "/bin"}
    assert sanitized_environ(["ACME_*"], environ={"ACME_KEY": "g", "LANG": "C"}) == {"LANG": "C"}


def test_verify_names_a_file_added_to_a_run_folder(tmp_path):
    outcome, _ = drive(tmp_path)
    assert verify(outcome.run_dir.parent) == []
    (outcome.run_dir / "notes.txt").write_text("added later")
    problems = verify(outcome.run_dir.parent)
    assert problems == [f"{outcome.run_dir.name}/notes.txt was added after the run"]


# ------------------------------------------------------------------ the pending-send ledger
@pytest.fixture
def sending(emulator, console, admin, admin_secret, tmp_path):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.grant(SMS_ROLE)
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    return {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json"),
            "BP_API_SECRET": console.generate_secret(API_USER), "BP_ADMIN_SECRET": admin_secret,
            "BP_RUNBOOK_PENDING_SENDS": str(tmp_path / "pending-sends")}


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage"], ids=["not JSON", "not text"])
def test_an_unreadable_pending_send_ledger_blocks_the_next_text(sending, console, content):
    from helpers.steps.sends import ledger_path

    ledger = ledger_path(SCOPE, sending["BP_EMULATOR_URL"], sending)
    ledger.parent.mkdir(parents=True)
    ledger.write_bytes(content)
    with mock.patch.dict(os.environ, sending):
        r = run_step("06_smoke_test", validate({"smoke_test": True}), sleep=lambda s: None, clock=lambda: 0.0)
    assert r.status == "action-required", r.summary
    assert "no new text was sent" in r.summary
    assert console.tenant_state()["messages"] == []
    assert Scanner([sending["BP_API_SECRET"], sending["BP_ADMIN_SECRET"]]).text_leaks(json.dumps(r.to_dict())) == []
