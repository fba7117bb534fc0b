"""Where things are and how the DAG is scheduled: Airflow Variables (read where the DAG is parsed or
the task runs) and the DAG's params (per run). Nothing here is a secret.

Variables (`airflow variables set NAME VALUE`, or AIRFLOW_VAR_<NAME> in the environment):

    bp_runbook_root            the project's checkout on the workers (default: the checkout this package is in)
    bp_runbook_python          the python with the project's requirements (default: the worker's)
    bp_runbook_report_url      base URL under which out_dir is served; the tenant's task links to its report
    bp_runbook_schedule        cron expression or preset (default: none, triggered)       [read at parse]
    bp_runbook_retries         retries of a tenant's task (default 2)                     [read at parse]
    bp_runbook_retry_delay_s   seconds between them (default 300)                         [read at parse]
    bp_runbook_timeout_s       a tenant's task's execution_timeout (default 3600)         [read at parse]
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Param, Variable
from airflow.sdk.exceptions import AirflowFailException

CHECKOUT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 60  # how long the runner gets to record an interrupted run before it is killed
TODO_TIMEOUT_H = 24.0

DAG_PARAMS = {
    "params_dir": Param("", type="string", description="folder of the tenants' parameter files (default: "
                                                       "params/tenants/ of the project)"),
    "out_dir": Param("", type="string", description="where the records go (the runner's --out; default: outputs/ "
                                                    "of the project)"),
    "dry_run": Param(False, type="boolean", description="observe and report, change nothing (--dry-run)"),
    "todo_timeout_h": Param(TODO_TIMEOUT_H, type="number", exclusiveMinimum=0,
                            description="hours a tenant's to-do task waits for a person's answer; then it fails"),
}


def variable(name: str, default: str = "") -> str:
    value = Variable.get(name, default=None)
    return default if value is None or not str(value).strip() else str(value).strip()


def number(name: str, default: float) -> float:
    raw = variable(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError(f"Airflow Variable {name}: '{raw}' is not a number of 0 or more. Fix: "
                         f"airflow variables set {name} {default}")
    return value


def project_root() -> Path:
    root = Path(variable("bp_runbook_root", str(CHECKOUT)))
    if not (root / "helpers").is_dir():
        raise AirflowFailException(f"Airflow Variable bp_runbook_root: {root} holds no project (no helpers/ folder). "
                                   "Fix: airflow variables set bp_runbook_root <the project's checkout on the workers>")
    return root


def runner_python() -> str:
    return variable("bp_runbook_python", sys.executable)


def params_dir(params: dict) -> Path:
    configured = str(params.get("params_dir") or "").strip()
    return Path(configured) if configured else project_root() / "params" / "tenants"


def out_dir(params: dict) -> str:
    configured = str(params.get("out_dir") or "").strip()
    return configured or str(project_root() / "outputs")


def report_url(out: str, report: str | None) -> str:
    """The report's URL under bp_runbook_report_url (which serves out_dir), or "" when none is set
    or the report is not under out_dir."""
    base = variable("bp_runbook_report_url")
    if not base or not report:
        return ""
    prefix = out.rstrip("/") + "/"
    if not report.startswith(prefix):
        return ""
    return base.rstrip("/") + "/" + report.removeprefix(prefix)


# ------------------------------------------------------------------ read when the DAG file is parsed
def schedule() -> str | None:
    return variable("bp_runbook_schedule") or None


def default_args() -> dict:
    return {"retries": int(number("bp_runbook_retries", 2)),
            "retry_delay": timedelta(seconds=number("bp_runbook_retry_delay_s", 300)),
            "execution_timeout": timedelta(seconds=number("bp_runbook_timeout_s", 3600))}
