"""Records on S3 (helpers/run/storage.py) against a real S3 API on loopback: moto's server mode, with
s3fs as the runner's client and boto3 as the test's own. A run with --out s3://bucket/prefix leaves a
record that `verify` accepts; a second run for the tenant from another process and working folder is
refused (exit 4) while the first holds the lock; the chain detects an edited or removed row on S3; a
history changed behind the lock's back is never overwritten; no secret lands in any object."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from types import SimpleNamespace

import pytest
import requests

from emulator import EmulatorServer
from helpers.cli import main
from helpers.run.runner import Collaborators, RunOptions, run
from helpers.run.storage import LEASE_S, Held, Lease, S3Store
from helpers.safety.scrub import Scanner
from helpers.steps import STEPS
from helpers.steps.results import StepResult
from tests.support import CANARY_ADMIN, CANARY_API, ROOT, private, ready_seed, settled, write_params

TENANT = "emulator_example.brightpattern.com"
SECRET_KEY = "S3secretKEY" + "x9Y8z7W6" * 4  # boto's secret access key: the gate knows it in a remote run
T0 = 1_800_000_000.0  # the clock the in-process runs are given


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A bucket of the test's own; boto's settings in the environment, as a worker would have them."""
    import boto3

    env = {"AWS_ENDPOINT_URL_S3": s3_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=s3_server)
    bucket = f"records-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return SimpleNamespace(env=env, bucket=bucket, url=f"s3://{bucket}/runbook", client=client)


def objects(s3) -> dict[str, bytes]:
    """Every object of the test's bucket, read by the test's own client."""
    listed = s3.client.list_objects_v2(Bucket=s3.bucket).get("Contents", [])
    return {o["Key"]: s3.client.get_object(Bucket=s3.bucket, Key=o["Key"])["Body"].read() for o in listed}


def key(*parts: str) -> str:
    return "/".join(("runbook", TENANT, *parts))


class LentPool:
    """A kernel pool lent to the run: the scripted steps need no kernel."""

    def close(self):
        pass


def scripted(during=None):
    """Steps that end ok without a notebook; `during(run folder)` is called in the middle of the run."""
    def execute(*, step_id, params, run_dir, cell_timeout, pool, kernel_env, clock):
        if during is not None and step_id == "01_grant_privilege":
            during(run_dir)
        result = StepResult(step_id, STEPS[step_id].title).finish("ok", "scripted: ok")
        return {"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0}

    return execute


def go_s3(tmp_path, s3, clock=lambda: T0, during=None):
    """One run in this process, records to the test's bucket; returns (outcome, printed)."""
    out = io.StringIO()
    options = RunOptions(params_path=write_params(tmp_path, admin_user=""), emulator=True, only=["0,1,2"],
                         out_dir=s3.url, private_root=private(tmp_path), kernel_pool=LentPool(),
                         collaborators=Collaborators(execute_notebook=scripted(during), clock=clock))
    return run(options, out), out.getvalue()


def command(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def worker(tmp_path, name: str, s3, **env) -> dict:
    """A runner process's settings: its own working folder (cwd) and temp folder, boto's settings."""
    folder = tmp_path / name
    (folder / "tmp").mkdir(parents=True)
    return {"cwd": folder, "env": {**os.environ, **s3.env, "PYTHONPATH": str(ROOT), "TMPDIR": str(folder / "tmp"),
                                   **env}}


def test_a_run_to_s3_names_what_changed_since_the_last_run_read_back_from_s3(tmp_path, s3):
    """The comparison with the last run reads the previous run from S3, as it reads a local folder
    (after verify), through the run's private working copy."""
    import nbformat

    from helpers.steps.findings import observe

    def observing(value):
        def execute(*, step_id, params, run_dir, cell_timeout, pool, kernel_env, clock):
            result = StepResult(step_id, STEPS[step_id].title)
            observe(result, "text-out services", [value])
            notebook = STEPS[step_id].notebook
            nbformat.write(nbformat.v4.new_notebook(), run_dir / notebook)
            return {"result": result.finish("ok", "scripted: ok").to_dict(), "notebook": notebook, "failure": None,
                    "seconds": 0.0}
        return execute

    def go(value):
        options = RunOptions(params_path=write_params(tmp_path, admin_user=""), emulator=True, only=["0"],
                             out_dir=s3.url, private_root=private(tmp_path), kernel_pool=LentPool(),
                             collaborators=Collaborators(execute_notebook=observing(value), clock=lambda: T0))
        return run(options, io.StringIO())

    first, second = go("SMS Chat"), go("Other Chat")
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.summary["drift"]["compared"] is False
    drift = json.loads(objects(s3)[key(second.summary["run_id"], "summary.json")])["drift"]
    assert drift["compared"] is True, drift["why_not"]
    assert drift["previous_run"]["run_id"] == first.summary["run_id"]
    assert "SMS Chat" in json.dumps(drift["changes"]) and "Other Chat" in json.dumps(drift["changes"])
    assert list(private(tmp_path).iterdir()) == []  # the copies went with the working folder


# ------------------------------------------------------------------ two runner processes
@pytest.mark.notebooks
def test_a_run_to_s3_is_verified_and_a_second_run_for_the_tenant_is_refused_while_it_holds_the_lock(tmp_path, s3):
    params = write_params(tmp_path, smoke_test=False, read_timeout=120)
    with EmulatorServer(seed=str(ready_seed(tmp_path))) as server:
        # The first token request answers after 45 s: while it waits, the first run is inside its lock.
        requests.post(f"{server.url}/_emulator/faults", json={"kind": "latency", "seconds": 45, "method": "POST",
                                                              "path_prefix": "/configapi/v2/oauth/token"}, timeout=5)
        secrets = {"BP_EMULATOR_URL": server.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": CANARY_API}
        argv = [sys.executable, "-m", "helpers", "run", "--params", str(params), "--out", s3.url]
        first = worker(tmp_path, "worker-1", s3, **secrets)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **first)
        try:
            settled(lambda: requests.get(f"{server.url}/_emulator/faults", timeout=5).json() == [], limit=120)
            lock = json.loads(objects(s3)[key(".run.lock")])
            assert lock["owner"] == {"host": socket.gethostname(), "pid": proc.pid, "start": lock["owner"]["start"]}
            second = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                    **worker(tmp_path, "worker-2", s3, **secrets))
            assert proc.poll() is None  # the first run still held the lock when the second was refused
            printed, _ = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert second.returncode == 4, second.stdout + second.stderr
    assert (f"error: another runbook run for {TENANT} is in progress (lock s3://{s3.bucket}/runbook/{TENANT}/.run.lock, "
            f"held by {socket.gethostname()} pid {proc.pid} until ") in second.stdout
    assert proc.returncode == 0, printed
    run_id = re.search(rf"Report: s3://{s3.bucket}/runbook/{TENANT}/(\d{{8}}T\d{{6}}Z)/summary\.html", printed)[1]
    stored = objects(s3)
    assert key(".run.lock") not in stored  # released
    assert {key(run_id, name) for name in ("summary.json", "summary.html", "run.log", "manifest.json",
                                            "00_preflight.ipynb", "04_access_token.ipynb")} <= set(stored)
    assert [row["run_id"] for row in csv.DictReader(io.StringIO(stored[key("history.csv")].decode()))] == [run_id]
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    for name, data in stored.items():  # no secret in any object: the canaries, boto's key, or a piece of them
        for secret in (CANARY_ADMIN, CANARY_API, SECRET_KEY):
            assert secret.encode() not in data and secret[:20].encode() not in data, name
        copy = scanned / name.replace("/", "_")  # the project's scan, every reading of the file (base64, JSON…)
        copy.write_bytes(data)
        digests = set(re.findall(r"\b[0-9a-f]{64}\b", data.decode()))  # a manifest's and history's SHA-256s
        assert Scanner([CANARY_ADMIN, CANARY_API, SECRET_KEY], keep=digests).leaks(copy) == [], name
    for process in ("worker-1", "worker-2"):  # the working folders are gone, and nothing was written locally
        assert [p.name for p in (tmp_path / process).rglob("*")] == ["tmp"], process

    verified = subprocess.run([sys.executable, "-m", "helpers", "verify", f"{s3.url}/{TENANT}"], capture_output=True,
                              text=True, timeout=120, **worker(tmp_path, "reader", s3))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"intact: every run folder of {s3.url}/{TENANT} matches its manifest")
    shown = subprocess.run([sys.executable, "-m", "helpers", "history", "--out", s3.url], capture_output=True,
                           text=True, timeout=120, **worker(tmp_path, "reader-2", s3))
    assert shown.returncode == 0 and f"{TENANT} {run_id}" in shown.stdout, shown.stdout + shown.stderr


# ------------------------------------------------------------------ the chain on S3
def test_the_chain_on_s3_detects_an_edited_row_a_removed_row_a_changed_file_and_the_newest_run_removed(
        tmp_path, s3, capsys):
    outcomes = [go_s3(tmp_path, s3) for _ in range(3)]
    assert [o.exit_code for o, _ in outcomes] == [0, 0, 0], outcomes[-1][1]
    head = re.search(r"History chain head: ([0-9a-f]{16})", outcomes[-1][1])[1]
    tenant = f"{s3.url}/{TENANT}"
    assert command(capsys, "verify", tenant, "--chain-head", head)[0] == 0
    code, printed = command(capsys, "history", "--out", s3.url, "--tenant", "nosuch.example.com")
    assert code == 3 and f"no records for 'nosuch.example.com' under {s3.url}" in printed, printed  # not the copy
    history = objects(s3)[key("history.csv")]
    lines = history.decode().splitlines(keepends=True)
    first, second, third = (row["run_id"] for row in csv.DictReader(io.StringIO(history.decode())))

    def put(name: str, data: bytes):
        s3.client.put_object(Bucket=s3.bucket, Key=name, Body=data)

    edited = lines[2].replace(",0,", ",1,", 1)  # the second run's exit code, changed
    assert edited != lines[2]
    put(key("history.csv"), "".join([lines[0], lines[1], edited, *lines[3:]]).encode())
    code, printed = command(capsys, "verify", tenant)
    assert code == 1 and f"history.csv line 3 (run {second}): the row was edited" in printed, printed

    put(key("history.csv"), "".join([lines[0], *lines[2:]]).encode())  # the first row removed
    code, printed = command(capsys, "verify", tenant)
    assert code == 1 and f"history.csv line 2 (run {second}): not chained to the row before it" in printed, printed
    assert f"{first}/: a run folder that history.csv does not record" in printed

    put(key("history.csv"), history)
    summary = objects(s3)[key(third, "summary.json")]
    put(key(third, "summary.json"), summary.replace(b'"exit_code": 0', b'"exit_code": 2'))
    code, printed = command(capsys, "verify", tenant)
    assert code == 1 and f"NOT intact: {third}/summary.json was altered" in printed, printed

    # The newest run removed with its row: only the head kept elsewhere tells.
    for name in [n for n in objects(s3) if n.startswith(key(third))]:
        s3.client.delete_object(Bucket=s3.bucket, Key=name)
    put(key("history.csv"), "".join(lines[:3]).encode())
    assert command(capsys, "verify", tenant)[0] == 0
    code, printed = command(capsys, "verify", tenant, "--chain-head", head)
    assert code == 1 and f"the chain head kept elsewhere ({head}) is not in history.csv" in printed, printed


def test_every_object_passed_the_gate_and_a_run_publishes_nothing_but_its_record(tmp_path, s3):
    outcome, printed = go_s3(tmp_path, s3)
    assert outcome.exit_code == 0, printed
    stored = objects(s3)
    run_id = outcome.summary["run_id"]
    assert set(stored) == {key("history.csv"), *(key(run_id, n) for n in ("summary.json", "summary.html",
                                                                           "run.log", "manifest.json"))}
    assert all(outcome.gate.ledger.get(f"s3://{s3.bucket}/{name}") == "published" for name in stored), stored
    assert outcome.gate.ledger[f"s3://{s3.bucket}/{key('.run.lock')}"] == "handed"  # the lock's content too
    summary = json.loads(stored[key(run_id, "summary.json")])
    assert summary["report"] == f"s3://{s3.bucket}/{key(run_id, 'summary.html')}"
    assert s3.client.head_object(Bucket=s3.bucket, Key=key(run_id, "summary.html"))["ContentType"] == "text/html"
    assert list(private(tmp_path).iterdir()) == []  # the working folder is gone


def test_a_file_where_a_secret_survived_is_withheld_before_it_leaves_for_s3(tmp_path, s3, monkeypatch):
    """A file the seal does not cover (a step's own extra file) is scanned by Gate.publish on its way
    out: what reaches S3 is the notice, and the run exits 1."""
    monkeypatch.setenv("BP_API_SECRET", CANARY_API)
    outcome, printed = go_s3(tmp_path, s3, during=lambda run_dir: (run_dir / "extra.txt").write_text(
        f"the key is {CANARY_API}\n"))
    assert outcome.exit_code == 1, printed
    assert re.search(rf"error: secret scan: known secret.* survived in s3://{s3.bucket}/runbook/{TENANT}/\w+/extra\.txt; "
                     "the file was withheld", printed), printed
    stored = objects(s3)
    assert stored[key(outcome.summary["run_id"], "extra.txt")].startswith(b"withheld: a secret survived scrubbing")
    assert not any(CANARY_API[:20].encode() in data for data in stored.values())


def test_a_history_changed_behind_the_locks_back_is_never_overwritten(tmp_path, s3):
    """Another run that broke the lock wrote the history meanwhile: this run's If-Match loses, it says so
    (exit 1), and the other run's history stands."""
    assert go_s3(tmp_path, s3)[0].exit_code == 0
    theirs = objects(s3)[key("history.csv")] + b"their row\n"
    outcome, printed = go_s3(tmp_path, s3, during=lambda run_dir: s3.client.put_object(
        Bucket=s3.bucket, Key=key("history.csv"), Body=theirs))
    assert outcome.exit_code == 1, printed
    assert (f"s3://{s3.bucket}/{key('history.csv')}: changed on S3 while this run held the lock (was the lock "
            "broken?); this run's row was not added, its files are published") in printed
    assert objects(s3)[key("history.csv")] == theirs
    assert key(outcome.summary["run_id"], "manifest.json") in objects(s3)


# ------------------------------------------------------------------ the lock
def test_a_lock_held_by_a_live_run_elsewhere_refuses_the_run_until_its_lease_ends(tmp_path, s3):
    lock = {"owner": {"host": "worker-7.example", "pid": 4242}, "expires": T0 + 60,
            "expires_at": "2027-01-15T08:01:00+00:00"}
    s3.client.put_object(Bucket=s3.bucket, Key=key(".run.lock"), Body=json.dumps(lock).encode())
    outcome, printed = go_s3(tmp_path, s3)
    assert outcome.exit_code == 4, printed
    assert (f"lock s3://{s3.bucket}/{key('.run.lock')}, held by worker-7.example pid 4242 until "
            "2027-01-15T08:01:00+00:00); nothing was done") in printed
    assert set(objects(s3)) == {key(".run.lock")}  # nothing else written
    outcome, printed = go_s3(tmp_path, s3, clock=lambda: T0 + 61)  # its owner never renewed it: stale
    assert outcome.exit_code == 0, printed
    assert key(".run.lock") not in objects(s3)


def test_a_lease_is_taken_once_renewed_broken_when_stale_and_released_only_by_its_holder(s3):
    now = [T0]
    store = S3Store(s3.url)

    def lease():
        return Lease(store, f"{TENANT}/.run.lock", lambda body, where: body, lambda: now[0])

    ours, theirs = lease(), lease()
    ours.acquire()
    with pytest.raises(Held):
        theirs.acquire()
    now[0] += LEASE_S - 1
    assert ours.renew()  # renewed in time: good for another lease
    now[0] += LEASE_S - 1
    with pytest.raises(Held):
        theirs.acquire()
    now[0] += 2  # no renewal for a whole lease: its owner is gone
    theirs.acquire()
    assert not ours.renew() and ours.lost  # the If-Match on its ETag no longer holds
    ours.release()  # not ours any more: left alone
    assert json.loads(objects(s3)[key(".run.lock")])["expires"] == now[0] + LEASE_S
    theirs.release()
    assert objects(s3) == {}


def test_a_held_lease_is_renewed_in_the_background_until_released(s3):
    now = [T0]
    lease = Lease(S3Store(s3.url), f"{TENANT}/.run.lock", lambda body, where: body, lambda: now[0])
    lease.acquire()
    now[0] = T0 + 300
    lease.start_renewing(every_s=0.05)
    try:
        settled(lambda: json.loads(objects(s3)[key(".run.lock")])["expires"] == T0 + 300 + LEASE_S)
    finally:
        lease.release()
    assert objects(s3) == {} and not lease.lost


def test_a_lock_left_by_a_dead_process_of_this_host_is_broken_at_once(s3):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process now
    lock = {"owner": {"host": socket.gethostname(), "pid": gone.pid, "start": None}, "expires": T0 + LEASE_S}
    s3.client.put_object(Bucket=s3.bucket, Key=key(".run.lock"), Body=json.dumps(lock).encode())
    taken = Lease(S3Store(s3.url), f"{TENANT}/.run.lock", lambda body, where: body, lambda: T0)
    taken.acquire()
    assert json.loads(objects(s3)[key(".run.lock")])["owner"]["pid"] == os.getpid()
    taken.release()


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("args", [
    ["run", "--params", "params/demo.yaml", "--emulator", "--out", "s3://AKIAEXAMPLE:{secret}@{bucket}/runbook"],
    ["verify", "s3://AKIAEXAMPLE:{secret}@{bucket}/runbook/tenant"],
    ["history", "--out", "s3://AKIAEXAMPLE:{secret}@{bucket}/runbook"],
], ids=["run", "verify", "history"])
def test_credentials_in_the_url_are_refused_with_exit_3_and_the_fix(s3, capsys, args):
    secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY"
    code, printed = command(capsys, *(a.format(secret=secret, bucket=s3.bucket) for a in args))
    assert code == 3, printed
    assert "carries credentials in the URL (s3://key:secret@…)" in printed and "AWS_ACCESS_KEY_ID" in printed
    assert secret not in printed and objects(s3) == {}


def test_other_urls_and_a_fleet_to_s3_are_refused_with_exit_3(s3, capsys):
    code, printed = command(capsys, "run", "--params", "params/demo.yaml", "--emulator", "--out", "gs://b/p")
    assert code == 3 and "is a gs:// URL; records live in a local folder or on S3" in printed
    code, printed = command(capsys, "run", "--params", "params/fleet", "--emulator", "--out", s3.url)
    assert code == 3 and "an S3 URL takes one tenant per run" in printed
    code, printed = command(capsys, "verify", f"s3://{s3.bucket}/nothing-here")
    assert code == 3 and "holds no records (removed?)" in printed


def test_a_bucket_that_does_not_exist_is_bad_input_and_nothing_runs(tmp_path, s3):
    s3.url = f"s3://no-such-{s3.bucket}/runbook"
    outcome, printed = go_s3(tmp_path, s3)
    assert outcome.exit_code == 3, printed
    assert "error: parameter '--out': cannot be used (" in printed and "whose bucket exists" in printed
    assert "[1/3]" not in printed and list(private(tmp_path).iterdir()) == []
