"""The DAG as a deployment runs it: `airflow scheduler`, `airflow dag-processor` and `airflow
api-server` (the task runners talk to its execution API; people answer to-do tasks through its REST
API) with the LocalExecutor on PostgreSQL (Debian's server, the test's own, dags/tests/postgres.py),
twenty practice tenants (the emulator's `fleet` seed and params/fleet/) mapped in parallel.

Per exit code: 0 success; 1 and 5 failed after Airflow's one retry; 3 failed without retry (its
message leads with the fix); 4 skipped; 2 success with a human-in-the-loop to-do task, answered
"skip", answered "done" (the runbook runs again and still finds work: failed) or not at all (failed
by the timeout). Every task log file, every record and the database are scanned for secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml
from airflow_support import (
    AIRFLOW,
    OTHER_TENANT_CANARY,
    ROOT,
    SECRET_KINDS,
    WORKER_CANARY,
    airflow,
    airflow_env,
    connection,
    free_port,
    runs,
    secrets_found,
    statuses,
)
from filelock import FileLock
from postgres import dump, postgres

from emulator import EmulatorServer
from emulator.store import SEEDS_DIR
from helpers.run.record import verify
from helpers.safety.scrub import Scanner

DAG_ID, RUN_ID = "bp_sms_runbook", "scheduler_test"
FLEET = ROOT / "params" / "fleet"
DONE, SKIP, UNANSWERED = "tenant14", "tenant15", "tenant16"
PEOPLE = {DONE, SKIP, UNANSWERED}  # exit 2: the admin steps left to a person
INTERRUPTED = "tenant13"  # exit 5: the test sends its runner SIGTERM, on the first try and the retry
TODO_TIMEOUT_H = 0.04  # 144 s: long enough for the test to answer two, short enough to see the third time out


def fleet(params: Path, out: Path) -> None:
    """params/fleet/ with seven tenants changed so that each exit code occurs."""
    params.mkdir()
    for source in sorted(FLEET.glob("*.yaml")):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        name = source.stem
        if name in PEOPLE:
            data |= {"practice_mode": False, "admin_user": "", "smoke_test": False}
        elif name == INTERRUPTED:  # a text that stays queued: step 06 waits for its final status
            data |= {"test_destination": "+15005550007", "smoke_timeout": 600}
        elif name == "tenant17":  # 3: a number where text belongs
            data["access_number"] = 16502505674
        elif name == "tenant18":  # 3: a real tenant's run without its admin's Connection
            data |= {"practice_mode": False, "smoke_test": False}
        elif name == "tenant19":  # 1: unreachable
            data |= {"tenant_url": "http://127.0.0.1:9", "connect_timeout": 0.2, "practice_mode": False,
                     "admin_user": "", "smoke_test": False}
        (params / source.name).write_text(yaml.safe_dump(data), encoding="utf-8")
    (out / "emulator_tenant20.practice.brightpattern.com").mkdir(parents=True)  # 4: the test holds its lock


def started(env: dict, tmp_path: Path, *command: str) -> subprocess.Popen:
    log = (tmp_path / f"{command[0]}.log").open("w")
    return subprocess.Popen([str(AIRFLOW), *command], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def task_instances(db) -> dict[tuple[str, str], tuple[str, int, int]]:
    """{(task id, tenant or ""): (state, try number, map index)} of the run."""
    with db.cursor() as cursor:
        cursor.execute("SELECT task_id, rendered_map_index, state, try_number, map_index FROM task_instance "
                       "WHERE dag_id = %s AND run_id = %s", (DAG_ID, RUN_ID))
        return {(task, index or ""): (state, tries, map_index) for task, index, state, tries, map_index in cursor}


def xcoms(db, task_id: str) -> list:
    with db.cursor() as cursor:
        cursor.execute("SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s AND key = "
                       "'return_value' ORDER BY map_index", (DAG_ID, RUN_ID, task_id))
        values = [value for (value,) in cursor]
    return [json.loads(v) if isinstance(v, str) else v for v in values]


def runner_pids(params_file: Path) -> list[int]:
    """The runner processes (`python -m helpers run --params <file>`) that this test's DAG started."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(params_file).encode() in argv and b"helpers" in argv and b"run" in argv:
                pids.append(int(proc.name))
    return pids


def answer(port: int, map_index: int, option: str) -> None:
    url = (f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances/to_do/{map_index}"
           "/hitlDetails")
    response = requests.patch(url, json={"chosen_options": [option], "params_input": {}}, timeout=30)
    assert response.ok, response.text


def log_events(path: Path) -> list[dict]:
    """A task log file's lines (Airflow writes JSON lines)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"event": line})
    return events


def log_text(events: list[dict]) -> str:
    """A task log's events and the errors they carry (a task's exception is in error_detail)."""
    return " ".join(str(e.get("event", "")) + " " + str(e.get("error_detail", "")) for e in events)


def task_logs(home: Path, task_id: str, map_index: int) -> dict[int, list[dict]]:
    folder = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={RUN_ID}" / f"task_id={task_id}" / f"map_index={map_index}"
    return {int(p.stem.split("=")[1]): log_events(p) for p in sorted(folder.glob("attempt=*.log"))}


@pytest.mark.timeout(2400)
def test_twenty_tenants_under_the_scheduler_with_the_local_executor_on_postgresql(tmp_path):
    params, out = tmp_path / "params", tmp_path / "outputs"
    fleet(params, out)
    with postgres(tmp_path / "postgres") as database_url, \
            EmulatorServer(seed=SEEDS_DIR / "fleet.yaml") as emulator:
        admin_secret = requests.post(f"{emulator.url}/_emulator/tenants/tenant01.practice.brightpattern.com/users/"
                                     "admin/api-secret", timeout=10).json()["apiSecret"]
        port = free_port()
        env = airflow_env(
            tmp_path, BP_EMULATOR_URL=emulator.url,
            AIRFLOW_CONN_BP_RUNBOOK_TENANT01=connection("admin", admin_secret),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database_url, AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4", AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__API_AUTH__JWT_SECRET=os.urandom(16).hex(), AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),  # the scheduler's log server: not 8793
            AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="120",  # a busy CI machine parses slowly (the default 30 s)
            AIRFLOW_VAR_BP_RUNBOOK_RETRY_DELAY_S="1",
            AIRFLOW_VAR_BP_RUNBOOK_REPORT_URL="https://records.example.test/bp")
        home = Path(env["AIRFLOW_HOME"])
        for command in (("db", "migrate"), ("dags", "reserialize")):
            done = airflow(env, *command, cwd=tmp_path)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        processes = [started(env, tmp_path, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
                     started(env, tmp_path, "scheduler"), started(env, tmp_path, "dag-processor")]
        db = psycopg2.connect(database_url.replace("+psycopg2", ""))
        db.autocommit = True
        began = time.monotonic()
        try:
            for _ in range(240):
                assert processes[0].poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
                try:
                    if requests.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.5)
            conf = {"params_dir": str(params), "out_dir": str(out), "todo_timeout_h": TODO_TIMEOUT_H}
            with FileLock(str(out / "emulator_tenant20.practice.brightpattern.com" / ".run.lock")):
                done = airflow(env, "dags", "trigger", DAG_ID, "-r", RUN_ID, "-c", json.dumps(conf), cwd=tmp_path)
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
                states, answered, signalled = drive(db, port, params, processes, tmp_path)
        finally:
            stop(processes)
        took = time.monotonic() - began
        results = xcoms(db, "run_tenant")
        database_text = dump(database_url)
        db.close()

    # ---- task states, per exit code
    tenant = {key[1]: value for key, value in states.items() if key[0] == "run_tenant"}
    todo = {key[1]: value for key, value in states.items() if key[0] == "to_do"}
    assert states[("list_tenants", "")][0] == "success" and states[("needing_people", "")][0] == "success"
    assert len(tenant) == 20, tenant
    expected = {f"tenant{n:02d}": ("success", 1) for n in range(1, 13)} | {
        INTERRUPTED: ("failed", 2),                       # 5, retried, 5 again
        DONE: ("success", 1), SKIP: ("success", 1), UNANSWERED: ("success", 1),  # 2
        "tenant17": ("failed", 1), "tenant18": ("failed", 1),  # 3: not retried although retries=1
        "tenant19": ("failed", 2),                        # 1, retried
        "tenant20": ("skipped", 1),                       # 4
    }
    assert {k: v[:2] for k, v in tenant.items()} == expected, (took, tenant)
    assert set(todo) == PEOPLE and answered == {DONE: "done", SKIP: "skip"}, todo
    assert todo[SKIP][0] == "success" and todo[DONE][0] == "failed" and todo[UNANSWERED][0] == "failed", todo
    assert len(signalled) == 2, signalled

    # ---- records: the command line's own, hash chains intact
    for n in range(1, 13):
        records = runs(out, f"emulator_tenant{n:02d}.practice.brightpattern.com")
        assert [r["exit_code"] for r in records] == [0], n
        assert verify(out / f"emulator_tenant{n:02d}.practice.brightpattern.com") == []
    assert secrets_found(runs(out, "emulator_tenant01.practice.brightpattern.com")[0])["admin secret"] is True
    assert [r["exit_code"] for r in runs(out, f"emulator_{INTERRUPTED}.practice.brightpattern.com")] == [5, 5]
    assert [r["exit_code"] for r in runs(out, f"emulator_{DONE}.practice.brightpattern.com")] == [2, 2]  # done: again
    assert [r["exit_code"] for r in runs(out, f"emulator_{SKIP}.practice.brightpattern.com")] == [2]
    assert [r["exit_code"] for r in runs(out, "tenant19.practice.brightpattern.com")] == [1, 1]

    # ---- the to-do lists: XCom, the human-in-the-loop tasks and their logs
    assert sorted(r["tenant"] for r in results) == sorted([f"tenant{n:02d}" for n in range(1, 13)] + list(PEOPLE))
    for name in PEOPLE:
        record = runs(out, f"emulator_{name}.practice.brightpattern.com")[0]
        [result] = [r for r in results if r["tenant"] == name]
        assert result["exit_code"] == 2 and result["todo"] == [
            {"step": s["result"]["step"], "title": s["result"]["title"], "summary": s["result"]["summary"],
             "actions": s["result"]["actions"]} for s in record["steps"] if s["result"]["status"] == "action-required"]
        assert statuses(record)["01_grant_privilege"] == "action-required"
        run_log = task_logs(home, "run_tenant", tenant[name][2])[1]
        ours = [e["event"] for e in run_log if "helpers.airflow" in str(e.get("logger", ""))]
        assert ours[-1].startswith("to do (05_chat_service)") and any(
            e.startswith("to do (01_grant_privilege)") for e in ours), ours[-3:]
        assert any(e.startswith("report: https://records.example.test/bp/emulator_") for e in ours)
        todo_log = [e["event"] for e in task_logs(home, "to_do", todo[name][2])[1]]
        assert any(e.startswith(f"Tenant {name}: 5 step(s) need a person") for e in todo_log), todo_log[:20]
    done_log = log_text(task_logs(home, "to_do", todo[DONE][2])[1])
    assert "answered done; the runbook runs again" in done_log and "still action-required after 'done'" in done_log
    assert "nobody answered within 0.04 h" in log_text(task_logs(home, "to_do", todo[UNANSWERED][2])[1])

    # ---- exit 3 in Airflow: the Connection first
    t18 = log_text(task_logs(home, "run_tenant", tenant["tenant18"][2])[1])
    assert "Connection bp_runbook_tenant18 has no password: add it with `airflow connections add bp_runbook_tenant18" in t18

    # ---- no secret anywhere: task logs, records, the database, the processes' output
    scanner = Scanner([admin_secret, WORKER_CANARY, OTHER_TENANT_CANARY])
    logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
    assert len(logs) >= 20 + 2 + 3
    found = {str(p): sorted(k) for p in logs if (k := set(scanner.leaks(p)) & SECRET_KINDS)}
    found |= {str(p): sorted(k) for p in out.rglob("*") if p.is_file() and (k := set(scanner.leaks(p)) & SECRET_KINDS)}
    found |= {name: sorted(k) for name, text in [("database", database_text)] + [
        (p.name, p.read_text(errors="replace")) for p in tmp_path.glob("*.log")] if (k := set(scanner.text_leaks(text))
                                                                                   & SECRET_KINDS)}
    assert found == {}


def drive(db, port: int, params: Path, processes: list, tmp_path: Path):
    """Until the run ends: answer two to-do tasks as a person would, and stop the interrupted
    tenant's runner on each try (SIGTERM, as a worker shutting down would)."""
    answered, signalled, seen, waiting = {}, set(), {}, {}
    deadline = time.monotonic() + 2100
    while time.monotonic() < deadline:
        for process, name in zip(processes, ("api-server", "scheduler", "dag-processor"), strict=True):
            assert process.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
        with db.cursor() as cursor:
            cursor.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, RUN_ID))
            row = cursor.fetchone()
        states = task_instances(db)
        if row and row[0] in ("success", "failed"):
            return states, answered, signalled
        for (task, name), (state, _, map_index) in states.items():
            # A person reads before answering: an answer within a second or so of the pause races
            # Airflow 3.3.2's executor, which then reports the paused try's end as a state
            # "changed externally" and fails the task (observed).
            if task == "to_do" and state == "awaiting_input" and name in (DONE, SKIP) and name not in answered \
                    and time.monotonic() - waiting.setdefault(name, time.monotonic()) > 15:
                answer(port, map_index, "done" if name == DONE else "skip")
                answered[name] = "done" if name == DONE else "skip"
        for pid in runner_pids(params / f"{INTERRUPTED}.yaml"):  # once its steps run (step 06 then waits)
            if pid not in signalled and time.monotonic() - seen.setdefault(pid, time.monotonic()) > 30:
                os.kill(pid, signal.SIGTERM)
                signalled.add(pid)
        time.sleep(2)
    raise AssertionError(f"the DAG run did not end in time: {task_instances(db)}")
