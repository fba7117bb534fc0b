"""What the Airflow tests share (dags/tests/; no test file imports another): Airflow as a
subprocess with its own AIRFLOW_HOME, practice tenants' parameter files and Connections, the records
read back, and the scan of every file for planted secrets."""

from __future__ import annotations

import copy
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from emulator.store import DEFAULT_SEED
from helpers.safety.scrub import Scanner

ROOT = Path(__file__).resolve().parents[2]  # the project
AIRFLOW = Path(sys.executable).with_name("airflow")
DAG_ID = "bp_sms_runbook"
if not AIRFLOW.exists():
    pytest.fail(f"no airflow next to {sys.executable}: run these tests with `make airflow-test`", pytrace=False)

# What Airflow's workers must never pass on: the worker's own BP secrets and another tenant's Connection.
WORKER_CANARY = "CANARYworker" + "W1x2Y3z4" * 6 + "wwww"
OTHER_TENANT_CANARY = "CANARYzulu" + "Z9y8X7w6" * 6 + "zzzzzz"
SECRET_KINDS = {"known secret", "part of a known secret", "base64 of a known secret", "widget state"}
HASH_FILES = {"manifest.json", "history.csv"}  # their sha256 digests are token-shaped by design


# ------------------------------------------------------------------------------------ practice tenants
def practice_seed(scopes: list[str]) -> dict:
    """The default seed's untouched tenant, once per scope, each with its own account_sid."""
    seed = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))
    template = seed["tenants"][0]
    tenants = []
    for n, scope in enumerate(scopes, 1):
        tenant = copy.deepcopy(template)
        tenant["scope"], tenant["account_sid"] = scope, f"{n:08X}-0000-4000-8000-{n:012X}"
        tenants.append(tenant)
    return {**seed, "tenants": tenants}


def generate_secret(emulator, scope: str, login: str) -> str:
    """The practice admin UI's Generate button, through the console: the secret is shown once."""
    response = requests.post(f"{emulator.url}/_emulator/tenants/{scope}/users/{login}/api-secret", timeout=10)
    response.raise_for_status()
    return response.json()["apiSecret"]


def write_params(folder: Path, name: str, **values) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"tenant_url": "emulator", **values}), encoding="utf-8")
    return path


def connection(login: str, password: str) -> str:
    """A Connection as Airflow reads it from AIRFLOW_CONN_<ID> (JSON form): the secret is its password."""
    return json.dumps({"conn_type": "generic", "login": login, "password": password})


def connections(tenant: str, admin: str, api: str) -> dict[str, str]:
    """A tenant's two Connections as the docs give them: the admin's and the API user's, each secret a password."""
    return {f"AIRFLOW_CONN_BP_RUNBOOK_{tenant.upper()}": connection("admin", admin),
            f"AIRFLOW_CONN_BP_RUNBOOK_{tenant.upper()}__API": connection("api.sms", api)}


# ------------------------------------------------------------------------------------ Airflow
def airflow_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: its own AIRFLOW_HOME, this DAG folder, tiny retry delays; plus a BP
    secret the worker happens to hold, which the DAG must not pass on."""
    env = {k: v for k, v in os.environ.items() if "AIRFLOW" not in k.upper() and not k.startswith("BP_")}
    return env | {
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(ROOT),  # helpers.airflow: this checkout's
        "AIRFLOW_VAR_BP_RUNBOOK_RETRIES": "1", "AIRFLOW_VAR_BP_RUNBOOK_RETRY_DELAY_S": "0",
        "BP_RUNBOOK_PENDING_SENDS": str(tmp_path / "pending-sends"),  # the test's own, not the machine's
        "BP_ADMIN_SECRET": WORKER_CANARY, "BP_API_SECRET__BRAVO_BRIGHTPATTERN_COM": WORKER_CANARY,
    } | connections("zulu", OTHER_TENANT_CANARY, OTHER_TENANT_CANARY) | extra


def airflow(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


def migrate(env: dict, tmp_path: Path) -> None:
    done = airflow(env, "db", "migrate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_dag_imports(env: dict, tmp_path: Path) -> None:
    """`airflow dags test` does not fail on a DAG file that fails to import: ask the DagBag."""
    probe = ("import json; from airflow.dag_processing.dagbag import DagBag; "
             "bag = DagBag(dag_folder=r'%s'); "
             "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, 'dags': sorted(bag.dag_ids)}))"
             % (ROOT / "dags"))
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag == {"errors": {}, "dags": [DAG_ID]}


def dags_test(env: dict, tmp_path: Path, params_dir: Path, out_dir: Path, *options: str) -> str:
    conf = json.dumps({"params_dir": str(params_dir), "out_dir": str(out_dir)})
    done = airflow(env, "dags", "test", *options, DAG_ID, "-c", conf, cwd=tmp_path)
    console = done.stdout + done.stderr
    assert "list_tenants" in console, console[-3000:]  # Airflow ran the DAG (its states are checked by the caller)
    return console


def database(env: dict) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(env['AIRFLOW_HOME']) / 'airflow.db'}?mode=ro", uri=True)


def task_states(env: dict) -> dict[str, tuple[str, int]]:
    """{tenant (the rendered map index) or task id: (state, try_number)} of the one DAG run."""
    with database(env) as db:
        rows = db.execute("SELECT task_id, rendered_map_index, state, try_number FROM task_instance "
                          "WHERE dag_id = ?", (DAG_ID,)).fetchall()
    return {(index if task_id == "run_tenant" else task_id): (state, tries) for task_id, index, state, tries in rows}


def tenant_xcoms(env: dict) -> dict[str, dict]:
    """The run_tenant tasks' return values, by tenant."""
    with database(env) as db:
        rows = db.execute("SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'run_tenant' AND key = 'return_value'",
                          (DAG_ID,)).fetchall()
    values = [json.loads(value) for (value,) in rows]
    values = [json.loads(v) if isinstance(v, str) else v for v in values]
    return {v["tenant"]: v for v in values}


# ------------------------------------------------------------------------------------ records and scans
def runs(out_dir: Path, folder: str) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out_dir / folder).glob("*/summary.json"))]


def statuses(summary: dict) -> dict[str, str]:
    return {s["result"]["step"]: s["result"]["status"] for s in summary["steps"]}


def secrets_found(summary: dict) -> dict[str, bool]:
    """Which secrets the run had when it began (step 00 lists them, never their values)."""
    preflight = next(s for s in summary["steps"] if s["result"]["step"] == "00_preflight")
    return {row["secret"]: row["available"] for row in preflight["result"]["observed"]["secrets"]}


def assert_clean(scanner: Scanner, out_dir: Path, airflow_home: Path, console: str) -> int:
    """Every record file, every Airflow task log, the console and Airflow's database: no planted
    secret in any form the Scanner knows. Returns how many files were scanned."""
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    logs = [p for p in (airflow_home / "logs").rglob("*") if p.is_file()]
    found = {}
    for path in files:
        kinds = set(scanner.leaks(path))
        if path.name in HASH_FILES:
            kinds &= SECRET_KINDS  # every other record file holds no token-shaped string either
        if kinds:
            found[str(path.relative_to(out_dir))] = sorted(kinds)
    for path in logs:
        if kinds := set(scanner.leaks(path)) & SECRET_KINDS:
            found[f"task log {path.relative_to(airflow_home)}"] = sorted(kinds)
    if kinds := set(scanner.text_leaks(console)) & SECRET_KINDS:
        found["console output"] = sorted(kinds)
    db = (airflow_home / "airflow.db").read_bytes().decode("latin-1")
    if kinds := set(scanner.text_leaks(db)) & SECRET_KINDS:
        found["airflow.db"] = sorted(kinds)
    assert found == {}
    return len(files) + len(logs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
