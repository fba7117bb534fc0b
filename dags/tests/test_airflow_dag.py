"""The DAG dags/bp_sms_runbook.py run by Airflow itself, against the embedded emulator.

Runs in .venv-airflow only (`make airflow-test`): Airflow never enters the project's .venv. Airflow
runs as a subprocess with its AIRFLOW_HOME under tmp_path (its configuration is read at import,
so it is never imported here). Each test: `airflow db migrate`, then `airflow dags test` with the
DAG param `params_dir` naming a folder of parameter files; the task states and XComs are read from
Airflow's SQLite database, the records with the project's own tools, and every record file, every
Airflow task log, Airflow's console output and its database are scanned for the planted secrets.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from filelock import FileLock

from emulator import EmulatorServer
from emulator.store import DEFAULT_SEED
from helpers.run.record import verify
from helpers.safety.scrub import Scanner

ROOT = Path(__file__).resolve().parents[2]
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
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "BP_RUNBOOK_RETRIES": "1", "BP_RUNBOOK_RETRY_DELAY_S": "0",
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------ the tests
@pytest.mark.timeout(900)
def test_each_tenant_one_mapped_task_exit_codes_as_task_states_and_nothing_leaks(tmp_path, tenants):
    emulator, secrets = tenants
    params, out = tmp_path / "params", tmp_path / "outputs"
    write_params(params, "alpha", scope="alpha.brightpattern.com", practice_mode=True)  # secrets: Connection
    write_params(params, "bravo", scope="bravo.brightpattern.com", practice_mode=True)  # no Connection
    write_params(params, "charlie", scope="charlie.brightpattern.com", admin_user="")    # people must act: 2
    (params / "delta.yaml").write_text("tenant_url: emulator\naccess_number: 16502505674\n")  # a number: 3
    write_params(params, "echo", scope="echo.brightpattern.com", admin_user="")        # lock held: 4
    write_params(params, "foxtrot", tenant_url="http://127.0.0.1:9", scope="foxtrot.brightpattern.com",
                 admin_user="", connect_timeout=0.2)                                     # unreachable: 1
    env = airflow_env(tmp_path, BP_EMULATOR_URL=emulator.url,
                      **connections("alpha", secrets["admin"], secrets["api"]))
    migrate(env, tmp_path)
    assert_dag_imports(env, tmp_path)

    (out / "emulator_echo.brightpattern.com").mkdir(parents=True)
    with FileLock(str(out / "emulator_echo.brightpattern.com" / ".run.lock")):  # another run of echo in progress
        console = dags_test(env, tmp_path, params, out)

    assert task_states(env) == {
        "list_tenants": ("success", 1),
        "alpha": ("success", 1), "bravo": ("success", 1),
        "charlie": ("success", 1),   # exit 2: success, the to-do list in the XCom
        "delta": ("failed", 1),      # exit 3: failed, not retried although retries=1
        "echo": ("skipped", 1),      # exit 4: skipped
        "foxtrot": ("failed", 2),    # exit 1: failed after Airflow's one retry
    }, console[-5000:]

    # The records are exactly the command line's: one run each, intact hash chain, scanned clean.
    alpha, bravo, charlie = (runs(out, f"emulator_{t}.brightpattern.com") for t in ("alpha", "bravo", "charlie"))
    assert [r["exit_code"] for r in alpha + bravo + charlie] == [0, 0, 2]
    assert all(r["secret_scan"] == "clean" for r in alpha + bravo + charlie)
    assert set(statuses(alpha[0]).values()) <= {"ok", "changed", "skipped"}
    # alpha's secrets exist only in its Connection: step 03 verified the API secret with a token request.
    assert secrets_found(alpha[0]) == {"api secret": True, "admin secret": True}
    assert statuses(alpha[0])["03_api_secret"] == "ok"
    # bravo has no Connection: the worker's own BP_ADMIN_SECRET and BP_API_SECRET__BRAVO… did not reach it.
    assert secrets_found(bravo[0]) == {"api secret": False, "admin secret": False}
    assert statuses(bravo[0])["03_api_secret"] == "changed"  # generated through the console (practice)
    assert "action-required" in statuses(charlie[0]).values()
    for tenant in ("alpha", "bravo", "charlie", "foxtrot"):
        folder = out / (f"emulator_{tenant}.brightpattern.com" if tenant != "foxtrot" else "foxtrot.brightpattern.com")
        assert verify(folder) == [], tenant
    assert [r["exit_code"] for r in runs(out, "foxtrot.brightpattern.com")] == [1, 1]  # the first try and the retry
    assert not (out / "emulator_delta.brightpattern.com").exists() and not (out / "emulator_example.brightpattern.com").exists()
    assert [p.name for p in (out / "emulator_echo.brightpattern.com").iterdir()] == [".run.lock"]

    # XCom: exit 0 and 2 only; exit 2's to-do list is the record's action-required steps, word for word.
    xcoms = tenant_xcoms(env)
    assert sorted(xcoms) == ["alpha", "bravo", "charlie"]
    assert xcoms["alpha"]["exit_code"] == 0 and xcoms["alpha"]["todo"] == []
    assert xcoms["charlie"]["exit_code"] == 2
    todo = xcoms["charlie"]["todo"]
    assert todo == [{"step": s["result"]["step"], "title": s["result"]["title"], "summary": s["result"]["summary"],
                     "actions": s["result"]["actions"]}
                    for s in charlie[0]["steps"] if s["result"]["status"] == "action-required"]
    assert "01_grant_privilege" in [t["step"] for t in todo] and all(t["actions"] for t in todo)
    assert any("Users & Teams > Roles" in action for t in todo for action in t["actions"])
    assert xcoms["charlie"]["report"] == str(out / "emulator_charlie.brightpattern.com" / charlie[0]["run_id"] /
                                             "summary.html")

    # What the console says (plain `dags test` runs tasks in-process: their log is the console).
    assert "[7/7] 06_smoke_test" in console and "to do (01_grant_privilege)" in console
    assert "parameter 'access_number': was read as a number, not text" in console and "a retry cannot help" in console
    assert "another runbook run for emulator_echo.brightpattern.com is in progress" in console

    scanner = Scanner([secrets["admin"], secrets["api"], WORKER_CANARY, OTHER_TENANT_CANARY])
    assert assert_clean(scanner, out, Path(env["AIRFLOW_HOME"]), console) > 20


@pytest.mark.timeout(900)
def test_through_an_executor_the_task_logs_are_written_and_clean(tmp_path, tenants):
    """As a deployment runs it: the scheduler's executor hands each mapped task to a worker process
    that talks to Airflow's API server and writes the task log files Airflow masks."""
    emulator, secrets = tenants
    params, out = tmp_path / "params", tmp_path / "outputs"
    write_params(params, "alpha", scope="alpha.brightpattern.com", practice_mode=True)
    write_params(params, "charlie", scope="charlie.brightpattern.com", admin_user="")
    port = free_port()
    env = airflow_env(tmp_path, BP_EMULATOR_URL=emulator.url,
                      **connections("alpha", secrets["admin"], secrets["api"]),
                      AIRFLOW__CORE__EXECUTOR="LocalExecutor", AIRFLOW__CORE__PARALLELISM="2",
                      AIRFLOW__API_AUTH__JWT_SECRET=os.urandom(16).hex(),
                      AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/")
    migrate(env, tmp_path)
    api_log = (tmp_path / "api-server.log").open("w")
    api = subprocess.Popen([str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                           env=env, cwd=tmp_path, stdout=api_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(240):  # until it answers (its start is slow on a busy machine), or it died
            assert api.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        console = dags_test(env, tmp_path, params, out, "--use-executor")
    finally:
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=60)
        api_log.close()

    assert task_states(env) == {"list_tenants": ("success", 1), "alpha": ("success", 1), "charlie": ("success", 1)}, \
        console[-5000:]
    logs = {p.parent.name: p.read_text(encoding="utf-8")
            for p in (Path(env["AIRFLOW_HOME"]) / "logs").rglob("attempt=1.log") if "task_id=run_tenant" in str(p)}
    assert sorted(logs) == ["map_index=0", "map_index=1"]
    assert any("tenant alpha: exit 0" in text and "Report: " in text for text in logs.values())
    assert any("tenant charlie: exit 2" in text and "to do (01_grant_privilege)" in text for text in logs.values())
    assert [r["exit_code"] for r in runs(out, "emulator_alpha.brightpattern.com")] == [0]
    scanner = Scanner([secrets["admin"], secrets["api"], WORKER_CANARY, OTHER_TENANT_CANARY])
    assert_clean(scanner, out, Path(env["AIRFLOW_HOME"]), console)


@pytest.mark.timeout(900)
def test_a_task_stopped_by_its_timeout_leaves_an_interrupted_record_exit_5(tmp_path, tenants):
    """Exit 5 (interrupted): the task fails and Airflow's retries would apply; the runner got SIGTERM,
    recorded what ran and released the lock."""
    emulator, _ = tenants
    params, out = tmp_path / "params", tmp_path / "outputs"
    # A text that stays queued: step 06 would wait 600 s for its final status.
    write_params(params, "bravo", scope="bravo.brightpattern.com", practice_mode=True, smoke_test=True,
                 test_destination="+15005550007", smoke_timeout=600, poll_interval=0.5)
    env = airflow_env(tmp_path, BP_EMULATOR_URL=emulator.url, BP_RUNBOOK_TIMEOUT_S="30", BP_RUNBOOK_RETRIES="0")
    migrate(env, tmp_path)
    console = dags_test(env, tmp_path, params, out)

    assert task_states(env) == {"list_tenants": ("success", 1), "bravo": ("failed", 1)}, console[-5000:]
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
