"""What a runner's exit code means in Airflow, the to-do list people read, and the messages."""

from __future__ import annotations

import json
from pathlib import Path

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from helpers.airflow.tenants import SECRET_VARIABLES, USER_FIELDS, conn_id, users_of

# The runner's exit codes (helpers/run/exit_codes.py; a unit test keeps the two equal). Not imported:
# Airflow's environment imports nothing of the runner.
EXIT_MEANINGS = {0: "all steps ok, changed or skipped", 1: "a step failed (or the record could not be completed)",
                 2: "a person must act (action-required)", 3: "bad parameters or missing secrets: no step ran",
                 4: "another run for this tenant holds the lock: nothing was done",
                 5: "interrupted by a signal (SIGTERM, SIGINT or SIGHUP): the record covers what ran"}


def meaning(exit_code: int | None) -> str:
    return EXIT_MEANINGS.get(exit_code, "unexpected exit code")


def todo_list(summary: dict) -> list[dict]:
    """What people must do, step by step: the action-required steps' instructions (no secret: the
    runner scrubbed and scanned summary.json)."""
    return [{"step": s["result"]["step"], "title": s["result"]["title"], "summary": s["result"]["summary"],
             "actions": s["result"]["actions"]}
            for s in summary.get("steps", []) if s["result"]["status"] == "action-required"]


def todo_lines(todo: list[dict]) -> list[str]:
    """The to-do list as log lines, one action each."""
    return [f"to do ({step['step']}): {action}" for step in todo for action in step["actions"]]


def todo_markdown(result: dict) -> str:
    """The body of the tenant's human-in-the-loop task (Markdown)."""
    lines = [f"**Tenant `{result['tenant']}`** ({result['params_file']}) ended *action-required*: "
             "the runbook cannot finish these steps for you.", ""]
    for step in result["todo"]:
        lines += [f"### {step['step']}: {step['title']}", "", step["summary"], ""]
        lines += [f"1. {action}" for action in step["actions"]] + [""]
    report = result.get("report_url") or result.get("report")
    lines += [f"Report: {report}", "", "Answer **done** once you have acted: the runbook runs again for this tenant "
              "and verifies. **skip** leaves it for later (the next run asks again)."]
    return "\n".join(lines)


def secret_problem(line: str, params_file: Path) -> str | None:
    """The runner's exit-3 line, led by the Connection to fix when it is about a secret (in Airflow
    the secrets come only from the tenant's Connections), else None."""
    for role, variable in SECRET_VARIABLES.items():
        if variable not in line:
            continue
        cid, users = conn_id(params_file, role), users_of(params_file) or {}
        user = users.get(role, USER_FIELDS[role])
        if "no secret" in line:
            return (f"Connection {cid} has no password: add it with `airflow connections add {cid} --conn-type generic "
                    f"--conn-login {user} --conn-password <the API secret of {user}>` (docs/airflow.md) "
                    f"(runner: {line})")
        return f"Connection {cid}: its password is refused (runner: {line})"
    return None


def read_summary(report: str) -> dict:
    """summary.json beside the report: a local file, or at its URL when out_dir is an fsspec URL
    (s3://…: the runner then publishes the record there and prints the report's URL)."""
    if "://" in report:
        import fsspec  # Airflow's own dependency

        with fsspec.open(report.rsplit("/", 1)[0] + "/summary.json", "r", encoding="utf-8") as file:
            return json.load(file)
    return json.loads(Path(report).with_name("summary.json").read_text(encoding="utf-8"))


def outcome(exit_code: int, key: str, params_file: Path, report: str | None, last_line: str) -> dict:
    """The task's XCom for exit 0 and 2; the exception that sets the task's state otherwise."""
    where = f"tenant {key} ({params_file})"
    if exit_code in (0, 2):
        if not report:
            raise AirflowException(f"{where}: exit {exit_code} but the runner printed no report path")
        summary = read_summary(report)
        return {"tenant": key, "params_file": str(params_file), "exit_code": exit_code,
                "meaning": meaning(exit_code), "report": report, "todo": todo_list(summary)}
    if exit_code == 4:
        raise AirflowSkipException(f"{where}: {meaning(4)}")
    if exit_code == 3:
        line = last_line.removeprefix("error: ")
        lead = secret_problem(line, params_file) or f"parameter file {params_file}: {line}"
        raise AirflowFailException(f"{lead}; exit 3, {meaning(3)}, a retry cannot help")
    raise AirflowException(f"{where}: exit {exit_code}, {meaning(exit_code)}" + (f"; report: {report}" if report else ""))
