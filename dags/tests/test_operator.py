"""helpers/airflow/ on its own, in .venv-airflow (`make airflow-test`): the operator runs the real
runner against the embedded emulator, its to-do task answers as a person would, and the runner's
process is stopped as Airflow stops a task. No scheduler here (test_scheduler.py has one)."""

from __future__ import annotations

import json
import signal
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
import yaml
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException, AirflowTaskTimeout
from filelock import FileLock

from emulator import EmulatorServer
from helpers.airflow import outcome, settings
from helpers.airflow.operator import ReportLink, RunbookOperator
from helpers.airflow.runner import RunnerCall
from helpers.airflow.tenants import conn_id, connection_secrets, runner_environment, tenant_key
from helpers.airflow.todo import DONE, SKIP, TodoOperator
from helpers.run import exit_codes

SECRET = "CANARYconn" + "K1l2M3n4" * 6 + "kkkk"


def write_params(folder: Path, name: str, **values) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"tenant_url": "emulator", **values}), encoding="utf-8")
    return path


@pytest.fixture
def emulator(monkeypatch):
    with EmulatorServer() as server:
        monkeypatch.setenv("BP_EMULATOR_URL", server.url)
        yield server


@pytest.fixture(autouse=True)
def airflow_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))
    monkeypatch.setenv("BP_RUNBOOK_PENDING_SENDS", str(tmp_path / "pending-sends"))
    for name in ("BP_ADMIN_SECRET", "BP_API_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_names_and_the_exit_codes_are_the_runners():
    assert tenant_key("/srv/params/Acme-EU.yaml") == "acme_eu"
    assert conn_id("acme-eu.yaml") == "bp_runbook_acme_eu" and conn_id("acme-eu.yaml", "api") == "bp_runbook_acme_eu__api"
    assert outcome.EXIT_MEANINGS == exit_codes.EXIT_MEANINGS


def test_secrets_come_from_connection_passwords_only(tmp_path, monkeypatch):
    params = write_params(tmp_path, "acme", admin_user="admin")
    monkeypatch.setenv("AIRFLOW_CONN_BP_RUNBOOK_ACME",
                       json.dumps({"conn_type": "generic", "login": "admin", "password": SECRET}))
    assert connection_secrets(params) == {"BP_ADMIN_SECRET": SECRET}
    env = runner_environment({"PATH": "/bin", "BP_API_SECRET__X": "w" * 40, "AIRFLOW_CONN_ZULU": "z"},
                             connection_secrets(params))
    assert env == {"PATH": "/bin", "BP_RUNBOOK_HANDOFF": "/dev/null", "BP_ADMIN_SECRET": SECRET,
                   "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    monkeypatch.setenv("AIRFLOW_CONN_BP_RUNBOOK_ACME", '{"conn_type": "generic", "login": "root", "password": "x"}')
    with pytest.raises(AirflowFailException, match="its login 'root' is not the parameter file's admin_user 'admin'"):
        connection_secrets(params)
    monkeypatch.setenv("AIRFLOW_CONN_BP_RUNBOOK_ACME", json.dumps({"conn_type": "generic", "extra": {"api_secret": SECRET}}))
    with pytest.raises(AirflowFailException, match="a secret is in its extra"):
        connection_secrets(params)


def test_exit_3_for_a_missing_secret_names_the_connection_first(tmp_path):
    """The real runner, a real tenant's parameter file and no Connection: exit 3 before any request."""
    params = write_params(tmp_path, "acme-eu", tenant_url="https://acme.brightpattern.com", admin_user="boss")
    operator = RunbookOperator(task_id="t", params_file=str(params))
    with pytest.raises(AirflowFailException) as failed:
        operator.execute({"params": {"out_dir": str(tmp_path / "out")}})
    message = str(failed.value)
    assert message.startswith("Connection bp_runbook_acme_eu has no password: add it with `airflow connections add "
                              "bp_runbook_acme_eu --conn-type generic --conn-login boss --conn-password <the API secret"
                              " of boss>`"), message
    assert "(runner: parameter 'BP_ADMIN_SECRET': no secret for the admin user 'boss'" in message
    assert message.endswith("a retry cannot help")

    bad = write_params(tmp_path, "bad", access_number=5)
    with pytest.raises(AirflowFailException, match=r"^parameter file .*bad.yaml: parameter 'access_number': was read"):
        RunbookOperator(task_id="t", params_file=str(bad)).execute({"params": {"out_dir": str(tmp_path / "out")}})


def test_exit_0_and_2_with_the_report_link_and_the_to_do_list_last(tmp_path, emulator, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("AIRFLOW_VAR_BP_RUNBOOK_REPORT_URL", "https://records.example.com/bp/")
    practice = write_params(tmp_path, "practice", practice_mode=True)
    operator = RunbookOperator(task_id="t", params_file=str(practice))
    result = operator.execute({"params": {"out_dir": str(out)}})
    assert result["exit_code"] == 0 and result["todo"] == [], result
    assert Path(result["report"]).is_file() and Path(result["report"]).name == "summary.html"
    relative = Path(result["report"]).relative_to(out)
    assert result["report_url"] == f"https://records.example.com/bp/{relative}"
    assert ReportLink().get_link(operator, ti_key=None) == result["report_url"]

    guided = write_params(tmp_path, "guided", admin_user="")  # the admin steps become a person's to-do list
    operator = RunbookOperator(task_id="t", params_file=str(guided))
    monkeypatch.setattr(RunbookOperator, "log", log := Log())  # the operator's lines (the runner's: the hook's logger)
    result = operator.execute({"params": {"out_dir": str(out)}})
    assert result["exit_code"] == 2 and "01_grant_privilege" in [t["step"] for t in result["todo"]]
    todo = outcome.todo_lines(result["todo"])
    assert log.lines[-len(todo):] == todo, log.lines[-5:]
    assert any("Users & Teams > Roles" in line for line in todo)
    body = outcome.todo_markdown(result)
    assert "### 01_grant_privilege" in body and result["report_url"] in body


def test_the_to_do_task_runs_the_tenant_again_on_done(tmp_path, emulator):
    out = tmp_path / "out"
    guided = write_params(tmp_path, "guided", admin_user="")
    first = RunbookOperator(task_id="t", params_file=str(guided)).execute({"params": {"out_dir": str(out)}})
    tenant = first | {"out_dir": str(out), "dry_run": False, "todo_timeout_h": 0.5}
    todo = TodoOperator(task_id="to_do", tenant=tenant)
    now = time.time()
    event = {"chosen_options": [SKIP], "params_input": {}, "responded_at": _utc(now),
             "responded_by_user": {"id": "1", "name": "ops"}}
    assert todo.execute_complete({}, event) == {"tenant": "guided", "answer": [SKIP], "by": "ops"}
    assert len(list((out).rglob("summary.json"))) == 1  # skip runs nothing

    # done, but nobody granted the privilege: still action-required, the task fails with what is left
    with pytest.raises(AirflowFailException, match=r"still action-required after 'done': to do \(01_grant_privilege\)"):
        todo.execute_complete({}, event | {"chosen_options": [DONE]})
    assert len(list((out).rglob("summary.json"))) == 2

    with pytest.raises(AirflowFailException, match="nobody answered within 0.5 h; still to do: to do"):
        todo.execute_complete({}, {"error": "timeout", "error_type": "timeout"})


def test_a_record_at_an_fsspec_url_is_read_there():
    """With out_dir an fsspec URL (s3://… on a deployment) the runner prints the report's URL; the
    to-do list is read beside it, through fsspec (here its in-memory file system)."""
    import fsspec

    step = {"step": "01_grant_privilege", "title": "Grant", "summary": "grant it", "actions": ["Open Roles"]}
    summary = {"steps": [{"result": step | {"status": "action-required"}},
                         {"result": {**step, "step": "00_preflight", "status": "ok"}}]}
    with fsspec.open("memory://records/acme/20260101T000000Z/summary.json", "w") as file:
        json.dump(summary, file)
    result = outcome.outcome(2, "acme", Path("acme.yaml"), "memory://records/acme/20260101T000000Z/summary.html", "")
    assert result["todo"] == [step]


def test_a_locked_tenant_is_skipped_and_exit_1_retries(tmp_path, emulator):
    out = tmp_path / "out"
    params = write_params(tmp_path, "echo", scope="echo.brightpattern.com", practice_mode=True)
    (out / "emulator_echo.brightpattern.com").mkdir(parents=True)
    with FileLock(str(out / "emulator_echo.brightpattern.com" / ".run.lock")), pytest.raises(AirflowSkipException):
        RunbookOperator(task_id="t", params_file=str(params)).execute({"params": {"out_dir": str(out)}})
    unreachable = write_params(tmp_path, "foxtrot", tenant_url="http://127.0.0.1:9", scope="foxtrot.brightpattern.com",
                               admin_user="")
    with pytest.raises(AirflowException) as failed:
        RunbookOperator(task_id="t", params_file=str(unreachable)).execute({"params": {"out_dir": str(out)}})
    assert type(failed.value) is AirflowException and "exit 1" in str(failed.value)  # retries apply


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message, *args):
        self.lines.append(message % args)

    warning = info


@pytest.mark.parametrize("handler,exit_code,killed", [
    ("signal.signal(signal.SIGTERM, lambda *_: (print('Report: /r/summary.html', flush=True), sys.exit(5)))", 5, False),
    ("signal.signal(signal.SIGTERM, signal.SIG_IGN)", -9, True),
])
def test_a_timeout_sends_sigterm_then_kills_the_group_after_the_grace(tmp_path, handler, exit_code, killed):
    """As on the task's execution_timeout (Airflow raises AirflowTaskTimeout from SIGALRM): SIGTERM, the runner's last lines reach the log; a runner
    that ignores it is killed with its process group once the grace period is over."""
    script = f"import signal, sys, time\n{handler}\nprint('started', flush=True)\ntime.sleep(60)\n"
    log = Log()
    call = RunnerCall([sys.executable, "-c", script], str(tmp_path), {"PATH": "/usr/bin"}, grace_s=2, log=log)
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(AirflowTaskTimeout()))
    signal.alarm(2)
    started = time.monotonic()
    try:
        with pytest.raises(AirflowTaskTimeout):
            call.run()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert call.hook.sub_process.returncode == exit_code
    assert (time.monotonic() - started >= 4) is killed  # 2 s to the alarm, then 2 s of grace
    assert call.lines[0] == "started"
    assert log.lines[-1].startswith(f"the runner was stopped, exit {exit_code}")
    assert call.report() == (None if killed else "/r/summary.html")


def _utc(seconds: float):
    from datetime import datetime
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_settings_from_variables(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_BP_RUNBOOK_RETRY_DELAY_S", "0.5")
    monkeypatch.setenv("AIRFLOW_VAR_BP_RUNBOOK_RETRIES", "1")
    args = settings.default_args()
    assert args["retries"] == 1 and args["retry_delay"].total_seconds() == 0.5
    monkeypatch.setenv("AIRFLOW_VAR_BP_RUNBOOK_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="Airflow Variable bp_runbook_timeout_s: 'soon' is not a number"):
        settings.default_args()
