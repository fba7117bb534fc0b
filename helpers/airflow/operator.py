"""RunbookOperator: the runbook for one tenant's parameter file, and the link to its report."""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import BaseOperator, BaseOperatorLink

from helpers.airflow import settings
from helpers.airflow.outcome import meaning, outcome, todo_lines
from helpers.airflow.runner import RunnerCall
from helpers.airflow.tenants import connection_secrets, runner_environment, tenant_key


class ReportLink(BaseOperatorLink):
    """The tenant's report (summary.html) where the Variable bp_runbook_report_url serves out_dir.
    Airflow asks on the worker when the task ends and keeps the answer in XCom for the UI."""

    name = "Report"

    def get_link(self, operator, *, ti_key) -> str:
        return getattr(operator, "report_url", "") or ""


def run_runner(operator: BaseOperator, params_file: Path, out: str, dry_run: bool) -> tuple[int, RunnerCall]:
    """The runner for one tenant, its secrets only from the tenant's Connections. `operator.call` is
    the running call (for on_kill)."""
    secrets = connection_secrets(params_file)
    # --log-level ERROR: the task log gets the runner's progress lines and errors; run.log in the
    # record keeps everything from INFO up.
    command = [settings.runner_python(), "-m", "helpers", "run", "--params", str(params_file), "--out", out,
               "--log-level", "ERROR"] + (["--dry-run"] if dry_run else [])
    operator.log.info("tenant %s: %s", tenant_key(params_file), " ".join(command))
    operator.call = RunnerCall(command, str(settings.project_root()), runner_environment(dict(os.environ), secrets),
                               settings.STOP_GRACE_S, operator.log)
    exit_code = operator.call.run()
    operator.log.info("tenant %s: exit %s (%s)", tenant_key(params_file), exit_code, meaning(exit_code))
    return exit_code, operator.call


def finish(operator: BaseOperator, params_file: Path, out: str, exit_code: int, call: RunnerCall) -> dict:
    """The task's state and XCom from the exit code; the log ends with the report and the to-do list."""
    report = call.report()
    operator.report_url = settings.report_url(out, report)
    result = outcome(exit_code, tenant_key(params_file), params_file, report, call.last_line())
    result["report_url"] = operator.report_url
    if operator.report_url:
        operator.log.info("report: %s", operator.report_url)
    for line in todo_lines(result["todo"]):
        operator.log.warning("%s", line)
    return result


class RunbookOperator(BaseOperator):
    """`python -m helpers run` for one tenant's parameter file. Nothing is templated: the parameter
    file is a path, and the secrets never pass through a field Airflow renders or stores.

    Exit 0 and 2: success, XCom {tenant, params_file, exit_code, meaning, report, report_url, todo};
    4 skipped; 3 failed without retry; 1 and 5 failed, Airflow's retries apply."""

    template_fields = ()
    ui_color = "#e8f1fb"
    operator_extra_links = (ReportLink(),)

    def __init__(self, *, params_file: str, **kwargs):
        super().__init__(**kwargs)
        self.params_file = params_file
        self.call: RunnerCall | None = None
        self.report_url = ""

    def execute(self, context):
        params, params_file = context["params"], Path(self.params_file)
        out = settings.out_dir(params)
        exit_code, call = run_runner(self, params_file, out, bool(params.get("dry_run")))
        return finish(self, params_file, out, exit_code, call)

    def on_kill(self) -> None:
        # Airflow calls this on SIGTERM (a person marked the task failed, the worker stops) and after a
        # timeout; only the signal is sent here, execute() waits for the runner's record.
        if self.call is not None:
            self.call.signal()
