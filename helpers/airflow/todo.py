"""TodoOperator: a tenant left action-required waits for a person, who answers "done" (the runbook
runs again for the tenant and verifies) or "skip"; and the DAG's two small tasks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from helpers.airflow import settings
from helpers.airflow.operator import ReportLink, finish, run_runner
from helpers.airflow.outcome import todo_lines, todo_markdown
from helpers.airflow.tenants import parameter_files

DONE, SKIP = "done", "skip"


@task
def list_tenants() -> list[str]:
    """The parameter files of the folder the DAG param `params_dir` names: paths only."""
    return parameter_files(settings.params_dir(get_current_context()["params"]))


@task(trigger_rule="all_done")
def needing_people(results) -> list[dict]:
    """The tenants whose task ended action-required (exit 2), with what their to-do task needs from
    the DAG's params (a human-in-the-loop task sees only its own params). Runs whatever the other
    tenants' tasks ended with: a failed tenant does not hide another's to-do list."""
    params = get_current_context()["params"]
    run = {"out_dir": settings.out_dir(params), "dry_run": bool(params.get("dry_run")),
           "todo_timeout_h": float(params.get("todo_timeout_h") or settings.TODO_TIMEOUT_H)}
    return [result | run for result in results if result and result.get("exit_code") == 2]


class TodoOperator(HITLOperator):
    """One tenant's to-do list as a human-in-the-loop task (the Required Actions page; the task waits
    in the awaiting_input state). "done": the runner runs again for the tenant; its exit code sets
    the task's state as for the tenant's own task, and exit 2 again fails it with what is still to
    do. "skip": success, nothing runs. No answer within the DAG param todo_timeout_h: failed, the
    to-do list in the log (Airflow's scheduler enforces the timeout; there is no default answer)."""

    template_fields = ()  # the to-do list is text, never a template
    ui_color = "#fbe8c8"
    operator_extra_links = (ReportLink(),)

    def __init__(self, *, tenant: dict, **kwargs):
        super().__init__(subject="To do", options=[DONE, SKIP], multiple=False, **kwargs)
        self.tenant = tenant
        self.call = None
        self.report_url = ""

    def execute(self, context):
        result = self.tenant
        self.subject = f"Tenant {result['tenant']}: {len(result['todo'])} step(s) need a person"
        self.body = todo_markdown(result)
        self.response_timeout = timedelta(hours=float(result["todo_timeout_h"]))
        self.report_url = result.get("report_url", "")
        self.log.info("%s; answer within %s h: done (verify again) or skip", self.subject, result["todo_timeout_h"])
        for line in todo_lines(result["todo"]):
            self.log.warning("%s", line)
        return super().execute(context)

    def process_trigger_event_error(self, event: dict) -> None:
        if event.get("error_type") == "timeout":
            lines = "; ".join(todo_lines(self.tenant["todo"]))
            raise AirflowFailException(f"tenant {self.tenant['tenant']}: nobody answered within "
                                       f"{self.tenant['todo_timeout_h']} h; still to do: {lines}")
        super().process_trigger_event_error(event)

    def execute_complete(self, context, event):
        answer = super().execute_complete(context, event)
        user = answer.get("responded_by_user")
        who = (user.get("name") or user.get("id")) if isinstance(user, dict) else (user or "nobody (the timeout)")
        tenant, chosen = self.tenant["tenant"], answer["chosen_options"]
        if chosen != [DONE]:
            self.log.info("tenant %s: %s answered %s; nothing runs", tenant, who, chosen)
            return {"tenant": tenant, "answer": chosen, "by": who}
        self.log.info("tenant %s: %s answered done; the runbook runs again to verify", tenant, who)
        params_file, out = Path(self.tenant["params_file"]), self.tenant["out_dir"]
        exit_code, call = run_runner(self, params_file, out, self.tenant["dry_run"])
        result = finish(self, params_file, out, exit_code, call)
        if exit_code == 2:
            raise AirflowFailException(f"tenant {tenant}: still action-required after '{DONE}': "
                                       f"{'; '.join(todo_lines(result['todo']))}. Fix: act, then clear the tenant's "
                                       "run_tenant task with its downstream tasks")
        return {"tenant": tenant, "answer": chosen, "by": who, "exit_code": exit_code, "report": result["report"]}

    def on_kill(self) -> None:
        if self.call is not None:
            self.call.signal()
