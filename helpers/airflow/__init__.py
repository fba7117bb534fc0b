"""The runbook in Airflow 3: the operator that runs `python -m helpers run` for one tenant, the
human-in-the-loop task for a tenant left action-required, and the small tasks the DAG wires
(dags/bp_sms_runbook.py). docs/airflow.md says how to deploy and try it.

Only Airflow's environment imports this package; nothing else in helpers does (an import-linter
contract in pyproject.toml). It imports nothing else of helpers either: Airflow's environment needs
the checkout on its path, PyYAML and Airflow, and the runner runs as a subprocess with the project's
own python, so that scrub-then-scan, the per-tenant lock and the hash-chained record are the command
line's own.

    settings.py  where things are and how the DAG is scheduled: Airflow Variables, DAG params
    tenants.py   tenant keys, the tenant's Connections (secrets as passwords), the runner's environment
    outcome.py   exit code -> task state, the to-do list, the messages a person reads
    runner.py    the runner as a subprocess through Airflow's SubprocessHook; stop with a grace period
    operator.py  RunbookOperator (one tenant) and its report link
    todo.py      TodoOperator: a person answers "done" (verify again) or "skip"; the DAG's small tasks
"""
