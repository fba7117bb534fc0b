"""The DAG dags/bp_sms_runbook.py run by Airflow itself, against the embedded emulator.

Runs in .venv-airflow only (`make airflow-test`): Airflow never enters the project's .venv. Airflow
runs as a subprocess with its AIRFLOW_HOME under tmp_path (its configuration is read at import,
so it is never imported here). Each test: `airflow db migrate`, then `airflow dags test` with the
DAG param `params_dir` naming a folder of parameter files; the task states and XComs are read from
Airflow's SQLite database, the records with the project's own tools, and every record file, every
Airflow task log, Airflow's console output and its database are scanned for the planted secrets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow_support import (
    airflow,
    airflow_env,
    assert_clean,
    assert_dag_imports,
    dags_test,
    generate_secret,
    migrate,
    practice_seed,
    runs,
    secrets_found,
    statuses,
    task_states,
    write_params,
)
from filelock import FileLock

from emulator import EmulatorServer
from helpers.run.record import verify
from helpers.safety.scrub import Scanner


@pytest.fixture
def tenants(tmp_path):
    """Three practice tenants on one emulator; alpha's administrator and API user hold secrets
    generated as the admin UI would, planted in alpha's Connection only."""
    seed = practice_seed(["alpha.brightpattern.com", "bravo.brightpattern.com", "charlie.brightpattern.com"])
    seed["tenants"][0]["users"].append({"loginId": "api.sms", "firstName": "SMS", "lastName": "API", "team": "Admins",
                                        "roles": ["SMS API"]})
    with EmulatorServer(seed=seed) as emulator:
        secrets = {"admin": generate_secret(emulator, "alpha.brightpattern.com", "admin"),
                   "api": generate_secret(emulator, "alpha.brightpattern.com", "api.sms")}
        yield emulator, secrets



# ------------------------------------------------------------------------------------ the tests
@pytest.mark.timeout(900)
def test_a_task_stopped_by_its_timeout_leaves_an_interrupted_record_exit_5(tmp_path, tenants):
    """Exit 5 (interrupted): the task fails and Airflow's retries would apply; the runner got SIGTERM,
    recorded what ran and released the lock."""
    emulator, _ = tenants
    params, out = tmp_path / "params", tmp_path / "outputs"
    # A text that stays queued: step 06 would wait 600 s for its final status.
    write_params(params, "bravo", scope="bravo.brightpattern.com", practice_mode=True, smoke_test=True,
                 test_destination="+15005550007", smoke_timeout=600, poll_interval=0.5)
    env = airflow_env(tmp_path, BP_EMULATOR_URL=emulator.url, AIRFLOW_VAR_BP_RUNBOOK_TIMEOUT_S="30",
                      AIRFLOW_VAR_BP_RUNBOOK_RETRIES="0")
    migrate(env, tmp_path)
    assert_dag_imports(env, tmp_path)
    console = dags_test(env, tmp_path, params, out)

    assert task_states(env) == {"list_tenants": ("success", 1), "bravo": ("failed", 1),
                                "needing_people": ("success", 1), "to_do": ("skipped", 0)}, console[-5000:]
    [record] = runs(out, "emulator_bravo.brightpattern.com")
    assert record["exit_code"] == 5 and record["interrupted"] == "SIGTERM"
    assert "interrupted" in statuses(record).values()
    assert "the runner was stopped, exit 5" in console
    assert verify(out / "emulator_bravo.brightpattern.com") == []
    lock = FileLock(str(out / "emulator_bravo.brightpattern.com" / ".run.lock"), timeout=0)
    lock.acquire()  # released by the interrupted run
    lock.release()


@pytest.mark.timeout(900)
def test_connections_added_as_the_docs_say_leave_no_secret_in_airflows_database_or_logs(tmp_path, tenants):
    """docs/airflow.md: `airflow connections add` with each secret as --conn-password, two Connections per
    tenant. Airflow's audit log (cli_connections_add) masks the password and keeps `extra` in clear: a
    secret put in `extra` would be in airflow.db, so the DAG refuses one there (failed, no retry)."""
    emulator, secrets = tenants
    params, out = tmp_path / "params", tmp_path / "outputs"
    write_params(params, "alpha", scope="alpha.brightpattern.com", practice_mode=True)
    write_params(params, "bravo", scope="bravo.brightpattern.com", practice_mode=True)
    env = airflow_env(tmp_path, BP_EMULATOR_URL=emulator.url)
    migrate(env, tmp_path)
    for conn, login, secret in (("bp_runbook_alpha", "admin", secrets["admin"]),
                                ("bp_runbook_alpha__api", "api.sms", secrets["api"])):
        done = airflow(env, "connections", "add", conn, "--conn-type", "generic", "--conn-login", login,
                       "--conn-password", secret, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    # The old way (a secret in extra), for bravo: what Airflow's audit log would keep in clear.
    extra_canary = "CANARYextra" + "E5f6G7h8" * 6
    done = airflow(env, "connections", "add", "bp_runbook_bravo", "--conn-type", "generic",
                   "--conn-extra", json.dumps({"api_secret": extra_canary}), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert extra_canary in (Path(env["AIRFLOW_HOME"]) / "airflow.db").read_bytes().decode("latin-1")  # why: extra

    console = dags_test(env, tmp_path, params, out)
    states = task_states(env)
    assert states["alpha"] == ("success", 1) and states["bravo"] == ("failed", 1), console[-5000:]
    assert "a secret is in its extra" in console
    [alpha] = runs(out, "emulator_alpha.brightpattern.com")
    assert secrets_found(alpha) == {"api secret": True, "admin secret": True}
    assert statuses(alpha)["03_api_secret"] == "ok"
    assert_clean(Scanner([secrets["admin"], secrets["api"]]), out, Path(env["AIRFLOW_HOME"]), console)
