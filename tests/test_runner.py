"""Layer 5: the runner end to end: exit codes, the lock, records, and canary secrets that must
appear in no artifact of a successful or a failing run."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from emulator import EmulatorServer
from helpers.run.record import verify
from helpers.run.runner import Collaborators, RunOptions, run, tenant_folder
from helpers.safety.scrub import Scrubber, scrub_and_scan
from helpers.safety.secrets import write_private_json
from tests.support import (
    CANARY_ADMIN,
    CANARY_API,
    ROOT,
    go,
    private,
    ready_seed,
    write_params,
)

TOKEN_SHAPED = re.compile(r"\b[0-9A-Za-z]{32,}\b")

pytestmark = pytest.mark.notebooks


def artifacts(outcome) -> list[Path]:
    files = [p for p in outcome.run_dir.rglob("*") if p.is_file()]
    return files + [outcome.run_dir.parent / "history.csv"]


def assert_no_secret_anywhere(outcome, printed: str, *secrets: str):
    for path in artifacts(outcome):
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, f"a canary secret leaked into {path.name}"
        if path.suffix == ".ipynb":
            nb = json.loads(text)
            assert "widgets" not in nb["metadata"]
            assert not TOKEN_SHAPED.search(json.dumps(nb)), f"token-shaped string in {path.name}"
    for secret in secrets:
        assert secret not in printed


@pytest.fixture
def seeded_emulator(tmp_path):
    with EmulatorServer(seed=str(ready_seed(tmp_path))) as server:
        yield server


def test_demo_run_exit_0_with_a_readable_report(tmp_path):
    params = ROOT / "params" / "demo.yaml"
    outcome, printed = go(tmp_path, params, emulator=True)
    assert outcome.exit_code == 0, printed
    assert [s["result"]["status"] for s in outcome.summary["steps"]] == ["ok", "changed", "changed", "changed", "ok",
                                                                          "changed", "ok"]
    run_dir = outcome.run_dir
    assert run_dir.parent.name == "emulator_example.brightpattern.com"
    steps = ["00_preflight", "01_grant_privilege", "02_define_user", "03_api_secret", "04_access_token",
             "05_chat_service", "06_smoke_test"]
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [f"{s}.ipynb" for s in steps] + [f"{s}.html" for s in steps]  # each notebook, and its page to read
        + ["run.log", "summary.html", "summary.json", "manifest.json"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["exit_code"] == 0 and summary["secret_scan"] == "clean"
    assert summary["versions"]["papermill"] == "2.7.0" and summary["run_by"]["user"]
    assert summary["parameters"]["practice_mode"] is True
    html = (run_dir / "summary.html").read_text()
    assert "exit 0: all steps ok, changed or skipped" in html and "href=\"04_access_token.html\"" in html
    assert f"Report: {run_dir / 'summary.html'}" in printed
    assert "[7/7] 06_smoke_test" in printed
    history = (run_dir.parent / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith(run_dir.name + ",")
    assert history[0].endswith("manifest_sha256,prev_hash,row_hash")
    assert verify(run_dir.parent) == []
    # The generated secrets went through a private handoff file that is gone after the run.
    assert list((tmp_path / "private").iterdir()) == []


def test_untouched_tenant_exit_2_with_instructions(tmp_path):
    outcome, printed = go(tmp_path, write_params(tmp_path, admin_user=""), emulator=True, only=["1,3,5"])
    assert outcome.exit_code == 2, printed
    assert [s["result"]["step"] for s in outcome.summary["steps"]] == ["01_grant_privilege", "03_api_secret", "05_chat_service"]
    html = (outcome.run_dir / "summary.html").read_text()
    assert "What a person must do" in html and "Users &amp; Teams &gt; Roles" in html and "Outbound chat accounts" in html


def test_canaries_reach_no_artifact_of_a_successful_run(tmp_path, seeded_emulator):
    handoff = tmp_path / "private" / "handoff.json"
    key = f"{seeded_emulator.url} example.brightpattern.com api.sms"
    write_private_json(handoff, {key: CANARY_API})  # the API secret planted in the handoff file
    env = {"BP_EMULATOR_URL": seeded_emulator.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_RUNBOOK_HANDOFF": str(handoff)}
    with mock.patch.dict(os.environ, env):
        outcome, printed = go(tmp_path, write_params(tmp_path, smoke_test=True))
    assert outcome.exit_code == 0, printed
    assert {s["result"]["status"] for s in outcome.summary["steps"]} == {"ok"}
    assert_no_secret_anywhere(outcome, printed, CANARY_API, CANARY_ADMIN)
    assert handoff.exists()  # the caller's handoff file is the caller's: not removed


def test_failing_run_exit_1_keeps_the_failed_notebook_and_says_which_cell(tmp_path, seeded_emulator):
    env = {"BP_EMULATOR_URL": seeded_emulator.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": CANARY_API}
    with mock.patch.dict(os.environ, env):
        outcome, printed = go(tmp_path, write_params(tmp_path, smoke_test=True, test_destination="+15005550001"),
                              from_step="4")
    assert outcome.exit_code == 1, printed
    failed = outcome.summary["steps"][-1]
    assert failed["result"]["status"] == "failed" and failed["notebook"] == "06_smoke_test.ipynb"
    assert (outcome.run_dir / "06_smoke_test.ipynb").exists()
    assert re.fullmatch(r"cell \[\d+\] \(cell \d+ of the notebook\) raised StepFailed: 06_smoke_test: failed - "
                        r"test message failed: 30003 Unreachable destination handset \(queued -> failed\)", failed["failure"])
    assert "06_smoke_test failed" in (outcome.run_dir / "summary.html").read_text()
    assert_no_secret_anywhere(outcome, printed, CANARY_API, CANARY_ADMIN)


def test_stops_at_first_failure_unless_keep_going(tmp_path):
    env = {"BP_EMULATOR_URL": "http://127.0.0.1:9"}  # nothing listens: preflight fails
    with mock.patch.dict(os.environ, env):
        params = write_params(tmp_path, admin_user="", connect_timeout=0.2)
        stopped, _ = go(tmp_path, params, only=["0,4"])
        going, _ = go(tmp_path, params, only=["0,4"], keep_going=True)
    assert stopped.exit_code == going.exit_code == 1
    assert stopped.summary["steps"][1]["result"]["summary"].startswith("not run: stopped after 00_preflight failed")
    assert stopped.summary["steps"][1]["notebook"] is None
    assert going.summary["steps"][1]["result"]["status"] == "action-required"


@pytest.mark.parametrize("content,message", [
    ("access_number: 16502505674\n", "parameter 'access_number': was read as a number, not text"),
    ("client_secret: abc\n", "parameter 'client_secret': secrets are never parameters"),
    ("tenant_url: http://example.com\n", "parameter 'tenant_url': uses plain http for a host that is not loopback"),
    ("scope: ..\n", "parameter 'scope': is not a host name"),
    ("connect_timeout: .nan\n", "parameter 'connect_timeout': is not a finite number"),
    ("", "parameter '--params': "),
    ("colour: blue\n", "parameter 'colour': is not a runbook parameter"),
    ("role: [unclosed\n", "parameter '--params'"),
])
def test_bad_parameters_exit_3_before_any_step(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    outcome, printed = go(tmp_path, path)
    assert outcome.exit_code == 3
    assert message in printed and "Fix:" in printed
    assert not (tmp_path / "outputs").exists()


def test_parameter_holding_a_secret_value_exit_3(tmp_path):
    secret = "canary-api-secret-with-dashes-0123"  # not token-shaped: only the value check can see it
    with mock.patch.dict(os.environ, {"BP_API_SECRET": secret}):
        outcome, printed = go(tmp_path, write_params(tmp_path, smoke_message=f"hi {secret}"), emulator=True)
    assert outcome.exit_code == 3
    assert "parameter 'smoke_message': holds the value of a secret" in printed and secret not in printed


def test_parameter_holding_a_token_shaped_value_exit_3(tmp_path):
    with mock.patch.dict(os.environ, {"BP_API_SECRET": CANARY_API}):
        outcome, printed = go(tmp_path, write_params(tmp_path, smoke_message=f"hi {CANARY_API}"), emulator=True)
    assert outcome.exit_code == 3
    assert "parameter 'smoke_message': holds a value shaped like an API secret or token" in printed
    assert CANARY_API not in printed


def test_missing_admin_secret_exit_3(tmp_path):
    with mock.patch.dict(os.environ, {"BP_ADMIN_SECRET": ""}):
        outcome, printed = go(tmp_path, write_params(tmp_path), emulator=True)
    assert outcome.exit_code == 3
    assert "no secret for the admin user 'admin'" in printed and "BP_ADMIN_SECRET" in printed


def test_unknown_step_and_emulator_mismatch_exit_3(tmp_path):
    assert go(tmp_path, write_params(tmp_path), only=["9"])[0].exit_code == 3
    outcome, printed = go(tmp_path, write_params(tmp_path, tenant_url="https://example.brightpattern.com"), emulator=True)
    assert outcome.exit_code == 3 and "--emulator" in printed


def test_second_run_for_the_same_tenant_exits_4_at_once(tmp_path):
    from filelock import FileLock

    params = write_params(tmp_path, admin_user="")
    tenant_dir = tmp_path / "outputs" / "emulator_example.brightpattern.com"
    tenant_dir.mkdir(parents=True)
    with FileLock(str(tenant_dir / ".run.lock")):
        outcome, printed = go(tmp_path, params, emulator=True)
    assert outcome.exit_code == 4
    assert "another runbook run for emulator_example.brightpattern.com is in progress" in printed
    assert [p.name for p in tenant_dir.iterdir()] == [".run.lock"]


class MissesEverything(Scrubber):
    """A scrubber that leaves every file as it is."""

    def file(self, path):
        return None


def test_a_secret_that_survives_scrubbing_fails_the_run_and_names_the_file(tmp_path, seeded_emulator):
    env = {"BP_EMULATOR_URL": seeded_emulator.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": CANARY_API}
    # Simulate a leak path the runbook does not have: a secret inside a parameter, and a scrubber
    # that misses everything. The scan must still catch it.
    using = Collaborators(refuse_secret_values=lambda params, secrets: None,
                          scrub_and_scan=lambda paths, secrets: scrub_and_scan(paths, secrets,
                                                                               scrubber=MissesEverything(secrets)))
    with mock.patch.dict(os.environ, env):
        # The secret cut in three (no part token-shaped, so the parameter checks let it through).
        pieces = f"oops {CANARY_API[:20]}-{CANARY_API[20:40]}-{CANARY_API[40:]}"
        outcome, printed = go(tmp_path, write_params(tmp_path, smoke_message=pieces, smoke_test=True), only=["6"],
                              collaborators=using)
    assert outcome.exit_code == 1
    assert re.search(r"error: secret scan: part of a known secret survived in "
                     r".*06_smoke_test\.ipynb; the file was withheld", printed)
    assert CANARY_API not in printed
    assert CANARY_API not in (outcome.run_dir / "06_smoke_test.ipynb").read_text()


def test_dry_run_changes_nothing_on_the_tenant(tmp_path):
    outcome, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True, dry_run=True)
    assert outcome.exit_code == 2, printed
    assert outcome.summary["parameters"]["dry_run"] is True
    assert all(s["result"]["changed"] == [] for s in outcome.summary["steps"])


def test_history_command_shows_latest_runs(tmp_path):
    go(tmp_path, write_params(tmp_path, admin_user=""), emulator=True, only=["1"])
    proc = subprocess.run([sys.executable, "-m", "helpers", "history", "--out", str(tmp_path / "outputs")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["tenant", "run_id", "exit_code", "00", "01", "02", "03", "04", "05", "06", "duration_s",
                                "changed", "since", "last", "run"]
    assert lines[1].split()[:4] == ["emulator_example.brightpattern.com", lines[1].split()[1], "2", "action-required"]


def test_forget_deletes_the_handoff_file(tmp_path):
    handoff = tmp_path / "handoff.json"
    write_private_json(handoff, {"k": CANARY_API})
    lab = tmp_path / "lab-findings.json"
    lab.write_text("{}", encoding="utf-8")
    env = {**os.environ, "BP_RUNBOOK_HANDOFF": str(handoff), "TMPDIR": str(private(tmp_path))}
    proc = subprocess.run([sys.executable, "-m", "helpers", "forget"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0 and f"Deleted {handoff}" in proc.stdout
    assert not handoff.exists() and not lab.exists()
    again = subprocess.run([sys.executable, "-m", "helpers", "forget"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert "Nothing to delete" in again.stdout


def test_cli_help_explains_every_option():
    proc = subprocess.run([sys.executable, "-m", "helpers", "run", "--help"], capture_output=True, text=True, cwd=ROOT)
    for option in ("--params", "--emulator", "--only", "--from", "--dry-run", "--out", "--keep-going", "--log-level"):
        assert option in proc.stdout
    assert "exit codes:" in proc.stdout and "python -m helpers run --params params/demo.yaml --emulator" in proc.stdout


def test_one_notebook_by_hand_with_papermill(tmp_path, emulator):
    env = {**os.environ, "BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "h.json")}
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", "notebooks/00_preflight.ipynb", str(out),
                           "-p", "admin_user", "", "--no-progress-bar"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Result of step 00: ok - the local emulator answers" in out.read_text()


def test_unwritable_out_folder_exit_3(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    outcome = run(RunOptions(params_path=write_params(tmp_path, admin_user=""), out_dir=blocker), io.StringIO())
    assert outcome.exit_code == 3


def test_log_records_are_masked_as_they_are_written(tmp_path):
    import logging

    from helpers.run.runner import MaskSecrets
    record = logging.LogRecord("helpers", logging.INFO, __file__, 1, "token %s and %s", (CANARY_API, "D" * 64), None)
    MaskSecrets([CANARY_API]).filter(record)
    assert record.getMessage() == "token [REDACTED] and [REDACTED]"


def test_tenant_folder_names():
    from helpers.steps.params import validate
    assert tenant_folder(validate({"tenant_url": "https://acme.brightpattern.com"}), False) == "acme.brightpattern.com"
    assert tenant_folder(validate({}), True) == "emulator_example.brightpattern.com"


def test_a_loopback_target_that_is_not_the_emulator_is_recorded_under_its_scope(tmp_path):
    """An SSH tunnel to a real tenant is on loopback too: only an answer as the emulator counts."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Tenant(BaseHTTPRequestHandler):
        def do_GET(self):  # no console: a tenant answers 404 to /_emulator/
            self.send_response(404)
            self.end_headers()

        def do_POST(self):
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "invalid_request"}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tenant)
    import threading
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        params = write_params(tmp_path, tenant_url=f"http://127.0.0.1:{server.server_port}", scope="acme.example.com",
                              admin_user="")
        outcome, printed = go(tmp_path, params, only=["0"])
    finally:
        server.shutdown()
    assert outcome.exit_code == 0, printed
    assert outcome.run_dir.parent.name == "acme.example.com"
    assert outcome.summary["target"]["emulator"] is False
    assert outcome.summary["steps"][0]["result"]["observed"]["target"]["answers as"] == "a tenant (not the emulator)"


def test_day_two_a_kept_practice_secret_refused_by_a_fresh_emulator_names_the_file_to_delete(tmp_path, emulator):
    """Yesterday's practice secret, kept in the engineer's handoff file, is refused by today's fresh emulator:
    the to-do names that file (not the runner's temporary copy of it) and `python -m helpers forget`."""
    handoff = tmp_path / "home" / "handoff.json"
    write_private_json(handoff, {f"{emulator.url} example.brightpattern.com admin": "Y" * 64})
    env = {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(handoff)}
    with mock.patch.dict(os.environ, env):
        for name in ("BP_ADMIN_SECRET", "BP_API_SECRET"):
            os.environ.pop(name, None)
        outcome, printed = go(tmp_path, write_params(tmp_path), only=["0"])
    assert outcome.exit_code == 2, printed
    r00 = outcome.summary["steps"][0]["result"]
    assert r00["status"] == "action-required" and r00["summary"].endswith("but the admin's secret is refused")
    assert r00["actions"][0] == (
        "This emulator does not know that secret: an emulator forgets the secrets it generated when it stops, so one "
        f"kept from an earlier session is refused. Delete the kept secret: `python -m helpers forget` deletes the "
        f"handoff file {handoff} (or delete that file yourself); then generate a new secret and hand it over.")
    assert r00["evidence"]["admin's secret"].startswith(f"refused for 'admin' (from the handoff file {handoff}): HTTP 401")
    assert str(private(tmp_path)) not in json.dumps(r00)  # never the runner's temporary copy
    assert handoff.exists()  # the run deletes nothing of the caller's
