"""Layer 5, the paths around the normal one: a run that is interrupted, runs out of disk, meets bad
input or an echoing tenant still leaves a complete, secret-free, tamper-evident record, and never
shows a traceback."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from unittest import mock

import pytest

from emulator import EmulatorServer
from helpers.run.execute import run_notebook
from helpers.run.record import verify
from helpers.run.runner import Collaborators, RunOptions, run
from helpers.run.summary import write_json
from helpers.safety.scrub import Scanner
from tests.support import (
    BAD_SEEDS,
    CANARY_ADMIN,
    CANARY_API,
    ROOT,
    cli,
    go,
    private,
    processes_with,
    ready_seed,
    write_params,
)

pytestmark = pytest.mark.notebooks


# ------------------------------------------------------------------ interruption
@contextlib.contextmanager
def demo_held_in_step_02(tmp_path, seconds: float, **env):
    """The demo runbook against an emulator of the test's own, whose Create User (only step 02 sends
    it) answers after `seconds`: while it waits, the run is certainly inside step 02, however slow the
    machine. Yields the running process, its records folder and the emulator's console URL."""
    import requests

    from tests.support import settled

    with EmulatorServer() as server:
        console = f"{server.url}/_emulator"
        requests.post(f"{console}/faults", json={"kind": "latency", "seconds": seconds, "method": "POST",
                                                 "path_prefix": "/configapi/v2/user"}, timeout=5)
        out = tmp_path / "outputs"
        proc = subprocess.Popen([sys.executable, "-m", "helpers", "run", "--params", "params/demo.yaml", "--out",
                                 str(out), "--log-level", "INFO"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "TMPDIR": str(private(tmp_path)), "BP_EMULATOR_URL": server.url,
                                     **env})
        try:
            settled(lambda: requests.get(f"{console}/faults", timeout=5).json() == [], limit=120)
            yield proc, out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_an_interrupted_run_leaves_a_complete_scanned_record(tmp_path, signum):
    marker = f"BP_TEST_MARKER_{uuid.uuid4().hex}"
    with demo_held_in_step_02(tmp_path, 30, **{marker: "1"}) as (proc, out):
        proc.send_signal(signum)  # step 02 waits for Create User
        printed, _ = proc.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert proc.returncode == 5, printed
    assert f"Interrupted by {name}" in printed and "Traceback" not in printed
    run_dir = next((out / "emulator_example.brightpattern.com").glob("2*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    statuses = [s["result"]["status"] for s in summary["steps"]]
    assert statuses[:2] == ["ok", "changed"] and statuses[2] == "interrupted", statuses
    assert set(statuses[3:]) == {"skipped"}
    assert summary["interrupted"] == name and summary["exit_code"] == 5
    assert f"the run was interrupted by {name}" in summary["steps"][-1]["result"]["summary"]
    marked = json.loads((run_dir / "02_define_user.ipynb").read_text())
    assert marked["metadata"]["bp_runbook"] == {"interrupted": name}
    assert (run_dir / "summary.html").exists() and verify(run_dir.parent) == []
    assert list(private(tmp_path).iterdir()) == []  # the practice secrets' handoff folder is gone
    assert processes_with(marker) == []  # no kernel left behind
    # The lock was released: the next run goes ahead.
    again = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator", "--out", str(out), "--only", "0")
    assert again.returncode == 0, again.stdout


def signal_self(signum):
    os.kill(os.getpid(), signum)


def test_a_second_signal_while_the_record_is_written_is_noted_and_the_record_completes(tmp_path):
    def execute(**step):
        if step["step_id"] == "01_grant_privilege":
            signal_self(signal.SIGTERM)  # the run stops here
        return run_notebook(**step)

    def write_summary_json(path, data):
        signal_self(signal.SIGTERM)  # and again while summary.json is written
        return write_json(path, data)

    using = Collaborators(execute_notebook=execute, write_summary_json=write_summary_json)
    outcome, printed = go(tmp_path, write_params(tmp_path, practice_mode=True), emulator=True, only=["0,1,2"],
                          collaborators=using)
    assert outcome.exit_code == 5 and "Traceback" not in printed
    assert [s["result"]["status"] for s in outcome.summary["steps"]] == ["ok", "interrupted", "skipped"]
    assert json.loads((outcome.run_dir / "summary.json").read_text())["interrupted"] == "SIGTERM"
    assert list((tmp_path / "private").iterdir()) == []
    with (outcome.run_dir.parent / "history.csv").open(newline="") as history:
        row = list(csv.DictReader(history))[-1]
    assert (row["exit_code"], row["01_grant_privilege"], row["02_define_user"]) == ("5", "interrupted", "skipped")


def test_a_first_signal_while_the_record_is_written_does_not_cut_it_short(tmp_path):
    """Once the steps are done a signal is noted, never raised: the record is completed as it stands."""
    def write_summary_json(path, data):
        signal_self(signal.SIGHUP)
        return write_json(path, data)

    outcome, printed = go(tmp_path, write_params(tmp_path, admin_user=""), emulator=True, only=["0"],
                          collaborators=Collaborators(write_summary_json=write_summary_json))
    assert outcome.exit_code == 0 and "Traceback" not in printed
    assert {"summary.json", "summary.html", "manifest.json"} <= {p.name for p in outcome.run_dir.iterdir()}
    assert verify(outcome.run_dir.parent) == [] and list((tmp_path / "private").iterdir()) == []


# ------------------------------------------------------------------ storage
def test_a_full_disk_ends_in_one_line_and_as_much_record_as_fits(tmp_path):
    out = tmp_path / "outputs"
    tenant = out / "emulator_example.brightpattern.com"
    tenant.mkdir(parents=True)
    (tenant / "history.csv").symlink_to("/dev/full")  # every write there: "No space left on device"
    proc = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator", "--out", str(out), "--only", "0")
    assert proc.returncode == 1
    assert (f"error: the run record in {tenant}/" in proc.stdout
            and "is incomplete: history.csv: No space left on device" in proc.stdout)
    assert "Traceback" not in proc.stdout + proc.stderr
    run_dir = next(tenant.glob("2*"))
    assert {"summary.json", "summary.html", "manifest.json", "00_preflight.ipynb"} <= {p.name for p in run_dir.iterdir()}


def test_a_records_folder_removed_during_the_run_ends_in_one_line(tmp_path):
    import shutil

    with demo_held_in_step_02(tmp_path, 3) as (proc, out):
        # Somebody cleans up at the wrong moment. Moved away (atomic), deleted once the run has ended:
        # a plain rmtree races the runner's own writes and can fail in the test itself.
        (out / "emulator_example.brightpattern.com").rename(tmp_path / "cleaned-up")
        printed, _ = proc.communicate(timeout=120)
    shutil.rmtree(tmp_path / "cleaned-up")
    assert proc.returncode == 1, printed
    assert "error: the run record in " in printed and "is incomplete: " in printed
    assert "No such file or directory" in printed and "Traceback" not in printed
    assert list(private(tmp_path).iterdir()) == []


def test_an_unwritable_records_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator", "--out", str(blocker / "x"))
    assert proc.returncode == 3
    assert "parameter '--out': cannot create" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


# ------------------------------------------------------------------ tamper evidence
def test_histories_from_before_the_chain_are_set_aside_never_lost_and_named_by_verify(tmp_path):
    params = write_params(tmp_path, admin_user="")
    tenant = tmp_path / "outputs" / "emulator_example.brightpattern.com"
    (tenant / "20250101T000000Z").mkdir(parents=True)  # a run of an older version, without a manifest
    (tenant / "history.csv").write_text("run_id,exit_code\n20250101T000000Z,0\n")
    assert go(tmp_path, params, emulator=True, only=["0"])[0].exit_code == 0
    [first] = tenant.glob("history-unchained*.csv")
    proc = cli(tmp_path, "verify", str(tenant))
    assert proc.returncode == 0, proc.stdout
    assert f"note: 1 run folder(s) predate the hash chain ({first.name}): they are not verified" in proc.stdout
    (tenant / "history.csv").write_text("run_id,outcome\n20250202T000000Z,older again\n")  # another format
    go(tmp_path, params, emulator=True, only=["0"])
    assert len(list(tenant.glob("history-unchained*.csv"))) == 2
    assert "20250101T000000Z,0" in first.read_text()  # the first one set aside is still there


def test_verify_detects_a_changed_byte_an_edited_row_and_reordered_rows(tmp_path):
    params = write_params(tmp_path, admin_user="")
    for _ in range(2):
        assert go(tmp_path, params, emulator=True, only=["1"])[0].exit_code == 2
    tenant = tmp_path / "outputs" / "emulator_example.brightpattern.com"
    assert cli(tmp_path, "verify", str(tenant)).returncode == 0
    first, second = sorted(p for p in tenant.iterdir() if p.is_dir())

    notebook = second / "01_grant_privilege.ipynb"
    original = notebook.read_bytes()
    notebook.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
    proc = cli(tmp_path, "verify", str(tenant))
    assert proc.returncode == 1 and f"NOT intact: {second.name}/01_grant_privilege.ipynb was altered" in proc.stdout
    notebook.write_bytes(original)

    history = tenant / "history.csv"
    rows = history.read_text().splitlines(keepends=True)
    history.write_text(rows[0] + rows[1].replace(",2,", ",0,", 1) + rows[2])
    proc = cli(tmp_path, "verify", str(tenant))
    assert proc.returncode == 1 and "history.csv line 2" in proc.stdout and "the row was edited" in proc.stdout

    history.write_text(rows[0] + rows[2] + rows[1])
    proc = cli(tmp_path, "verify", str(tenant))
    assert proc.returncode == 1 and "not chained to the row before it" in proc.stdout

    history.write_text("".join(rows))
    (first / "summary.json").unlink()
    proc = cli(tmp_path, "verify", str(tenant))
    assert proc.returncode == 1 and f"{first.name}/summary.json is missing" in proc.stdout


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize("args,message", [
    (["--only", ""], "parameter '--only': names no step"),
    (["--from", ""], "parameter '--from': names no step"),
    (["--out", ""], "parameter '--out': is empty"),
    (["--params", ""], "parameter '--params': is empty"),
    (["--emulator-seed", "no-such-seed.yaml"], "parameter '--emulator-seed': cannot be used"),
])
def test_empty_and_missing_cli_values_exit_3(tmp_path, args, message):
    base = ["run", "--params", "params/demo.yaml", "--emulator", "--out", str(tmp_path / "outputs")]
    for i in range(0, len(args), 2):
        if args[i] in base:
            base[base.index(args[i]) + 1] = args[i + 1]
        else:
            base += args[i:i + 2]
    proc = cli(tmp_path, *base)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert message in proc.stdout and "Fix:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("case", sorted(BAD_SEEDS))
def test_a_bad_emulator_seed_entry_is_named_in_one_line(tmp_path, case):
    text, message = BAD_SEEDS[case]
    seed = tmp_path / f"{case}.yaml"
    seed.write_text(text)
    proc = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator", "--emulator-seed", str(seed),
               "--out", str(tmp_path / "outputs"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"error: parameter '--emulator-seed': cannot be used (seed '{seed}': {message}")
    assert proc.stdout.count("\n") == 1 and proc.stderr == "" and "Traceback" not in proc.stdout


def test_a_secret_too_short_to_scrub_is_refused(tmp_path):
    with mock.patch.dict(os.environ, {"BP_ADMIN_SECRET": "short7!"}):
        outcome, printed = go(tmp_path, write_params(tmp_path), emulator=True)
    assert outcome.exit_code == 3
    assert "shorter than 8 characters" in printed and "short7!" not in printed


def test_a_scope_that_climbs_out_of_the_records_folder_is_refused(tmp_path):
    outcome, printed = go(tmp_path, write_params(tmp_path, scope=".."), emulator=True)
    assert outcome.exit_code == 3 and "parameter 'scope': is not a host name" in printed
    assert not (tmp_path / "history.csv").exists()


def test_case_and_trailing_dot_share_one_tenant_record(tmp_path):
    go(tmp_path, write_params(tmp_path, scope="Example.BrightPattern.com.", admin_user=""), emulator=True, only=["1"])
    go(tmp_path, write_params(tmp_path, scope="example.brightpattern.com", admin_user=""), emulator=True, only=["1"])
    tenants = [p.name for p in (tmp_path / "outputs").iterdir()]
    assert tenants == ["emulator_example.brightpattern.com"]


# ------------------------------------------------------------------ a tenant that echoes credentials
SPECIAL_API = "CANARY-echo/api+Secret=with&<special>chars%2F'" + "x" * 10


@pytest.mark.parametrize("encoding", ["raw", "html", "json", "repr", "url", "base64", "split", "tail"])
def test_a_tenant_echoing_the_credential_leaves_no_trace_in_any_artifact(tmp_path, encoding):
    with EmulatorServer(seed=str(ready_seed(tmp_path, api_secret=SPECIAL_API))) as server:
        import requests
        requests.post(f"{server.url}/_emulator/faults", json={"kind": "echo", "encoding": encoding, "count": 50,
                                                               "path_prefix": "/configapi/v2/oauth/token"}, timeout=5)
        env = {"BP_EMULATOR_URL": server.url, "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": SPECIAL_API}
        with mock.patch.dict(os.environ, env):
            outcome, printed = go(tmp_path, write_params(tmp_path), only=["0,3"], keep_going=True)
    scanner = Scanner([SPECIAL_API, CANARY_ADMIN])
    files = [p for p in outcome.run_dir.iterdir() if p.is_file()]
    assert len(files) >= 5
    for path in files:
        leaks = scanner.leaks(path)
        if path.name == "manifest.json":  # it holds SHA-256 digests by design, and no secret form
            leaks = [kind for kind in leaks if kind != "token-shaped string"]
        assert leaks == [], (encoding, path.name)
    assert scanner.text_leaks(printed) == [], encoding
    refused = outcome.summary["steps"][0]["result"]["evidence"]["API user's secret"]
    assert refused.startswith("refused for 'api.sms' (from the environment variable BP_API_SECRET): HTTP 401: invalid "
                              "credential presented: ")
    if encoding == "base64":  # beyond what the scrub removes: clean only because the runs are token-shaped
        assert outcome.summary["secret_scan"] == "clean" or (outcome.exit_code == 1 and "withheld" in printed)
    else:  # the forms the scrub removes: a clean record
        assert outcome.summary["secret_scan"] == "clean", outcome.summary["secret_scan"]


def test_no_traceback_for_an_unexpected_error(tmp_path):
    def boom(seed):  # the embedded emulator fails in a way nobody foresaw, naming a secret
        raise RuntimeError(f"boom {CANARY_API}")

    with mock.patch.dict(os.environ, {"BP_API_SECRET": CANARY_API}):
        out = io.StringIO()
        outcome = run(RunOptions(params_path=write_params(tmp_path), emulator=True, out_dir=tmp_path / "o",
                                 collaborators=Collaborators(start_emulator=boom)), out)
    assert outcome.exit_code == 1
    assert out.getvalue().startswith("error: unexpected RuntimeError: boom ") and CANARY_API not in out.getvalue()


def test_a_run_stopped_while_a_text_is_being_sent_blocks_the_next_text(tmp_path):
    """The pending-send entry is written before Send Message: a stop in the middle leaves the doubt."""
    import requests

    from tests.support import settled

    with EmulatorServer(seed=str(ready_seed(tmp_path))) as server:
        console = f"{server.url}/_emulator"
        requests.post(f"{console}/faults", json={"kind": "latency", "seconds": 3, "method": "POST",
                                                 "path_prefix": "/clientweb/smsapi/v1/Messages"}, timeout=5)
        env = {**os.environ, "TMPDIR": str(private(tmp_path)), "BP_EMULATOR_URL": server.url,
               "BP_ADMIN_SECRET": CANARY_ADMIN, "BP_API_SECRET": CANARY_API}
        params = write_params(tmp_path, smoke_test=True)
        cmd = [sys.executable, "-m", "helpers", "run", "--params", str(params), "--only", "6",
               "--out", str(tmp_path / "outputs")]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        # The Send Message request has reached the emulator (its latency fault is taken): stop the run now.
        settled(lambda: requests.get(f"{console}/faults", timeout=5).json() == [], limit=120)
        proc.send_signal(signal.SIGTERM)
        printed, _ = proc.communicate(timeout=120)
        assert proc.returncode == 5, printed
        settled(lambda: len(requests.get(f"{console}/state", timeout=5).json()["tenants"][0]["messages"]) == 1)
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == 2, again.stdout
        assert "its fate is unknown, so no new text was sent" in again.stdout
        assert len(requests.get(f"{console}/state", timeout=5).json()["tenants"][0]["messages"]) == 1


def test_kernels_that_cannot_start_fail_the_run_in_one_line(tmp_path):
    broken = {"JUPYTER_RUNTIME_DIR": "/dev/null/runtime"}  # no kernel can write its connection file
    single = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator", "--out", str(tmp_path / "o"),
                 env=broken)
    assert single.returncode == 1, single.stdout
    assert "error: the kernels could not start (NotADirectoryError" in single.stdout
    assert "Traceback" not in single.stdout + single.stderr
    summary = json.loads(next((tmp_path / "o").glob("*/2*/summary.json")).read_text())
    assert summary["exit_code"] == 1 and summary["steps"][0]["result"]["status"] == "failed"
    fleet = cli(tmp_path, "run", "--params", "params/fleet/tenant01.yaml", "params/fleet/tenant02.yaml", "--emulator",
                "--emulator-seed", "fleet", "--jobs", "2", "--out", str(tmp_path / "f"), env=broken)
    assert fleet.returncode == 1, fleet.stdout
    assert "error: fleet worker 0: NotADirectoryError" in fleet.stdout
    assert "Traceback" not in fleet.stdout + fleet.stderr and "interrupted" not in fleet.stdout


def test_a_record_problem_found_late_is_the_exit_code_of_the_history_row(tmp_path):
    """The manifest is written after summary.json: its failure still makes the history row say exit 1."""
    import errno

    def full(run_dir):
        raise OSError(errno.ENOSPC, "No space left on device")

    outcome, printed = go(tmp_path, write_params(tmp_path, admin_user=""), emulator=True, only=["0"],
                          collaborators=Collaborators(write_manifest=full))
    assert outcome.exit_code == 1 and "manifest.json: No space left on device" in printed
    with (outcome.run_dir.parent / "history.csv").open(newline="") as history:
        row = list(csv.DictReader(history))[-1]
    assert row["exit_code"] == "1" and row["outcome"].startswith("a step failed (or the record could not be completed)")
