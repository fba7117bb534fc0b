"""Airflow DAG: the Bright Pattern SMS/MMS API runbook for many tenants, one mapped task per tenant.

Wiring only; the operators and the tasks are in helpers/airflow/ (docs/airflow.md: settings as
Airflow Variables and DAG params, secrets as Connection passwords, exit codes -> task states):

    list_tenants -> run_tenant (mapped: one per parameter file, named by the tenant key)
                 -> needing_people -> to_do (mapped: one per tenant left action-required, a
                                             human-in-the-loop task: "done" verifies again, or "skip")
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from helpers.airflow import settings
from helpers.airflow.operator import RunbookOperator
from helpers.airflow.tenants import tenant_key
from helpers.airflow.todo import TodoOperator, list_tenants, needing_people

with DAG(
    dag_id="bp_sms_runbook",
    description="Bright Pattern SMS/MMS API runbook, one mapped task per tenant parameter file",
    schedule=settings.schedule(),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # one run of the runbook per tenant at a time; the runner's lock guards the rest
    params=settings.DAG_PARAMS,
    default_args=settings.default_args(),
    tags=["bright-pattern", "runbook"],
    user_defined_filters={"tenant_key": tenant_key},
):
    # The tenant key names each mapped task in the UI and the logs (rendered before it runs, so a task
    # stopped by its timeout is named too).
    runs = RunbookOperator.partial(task_id="run_tenant", map_index_template="{{ task.params_file | tenant_key }}"
                                   ).expand(params_file=list_tenants())
    # A person answers once: retrying would ask again; no execution_timeout races the wait.
    TodoOperator.partial(task_id="to_do", retries=0, execution_timeout=None,
                         map_index_template="{{ task.tenant['tenant'] }}").expand(tenant=needing_people(runs.output))
