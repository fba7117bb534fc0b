"""Fleets: several tenants in one run, each with exactly the record a single run gives it; secrets
of one tenant never in another's record; the worst exit code; an interruption recorded for every
tenant; no process left behind."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import pytest
import yaml

from emulator import EmulatorServer
from emulator.store import resolve_seed
from helpers.run.fleet import run_fleet, worst
from helpers.run.record import verify
from helpers.run.runner import RunOptions
from helpers.safety.scrub import Scanner
from helpers.safety.secrets import tenant_env_name
from tests.support import (
    ROOT,
    private,
    processes_with,
)

pytestmark = pytest.mark.notebooks
SCOPES = [f"tenant{i:02d}.practice.brightpattern.com" for i in (1, 2, 3)]


def fleet_params(tmp_path, **per_tenant) -> Path:
    folder = tmp_path / "fleet"
    folder.mkdir(exist_ok=True)
    for scope in SCOPES:
        values = {"tenant_url": "emulator", "scope": scope, "practice_mode": True, **per_tenant.get(scope, {})}
        (folder / f"{scope.split('.')[0]}.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
    return folder


def go(tmp_path, params, jobs=2, **options) -> tuple:
    out = io.StringIO()
    outcome = run_fleet(RunOptions(params_path="", out_dir=tmp_path / "outputs", private_root=private(tmp_path),
                                   **options), params, jobs, out)
    return outcome, out.getvalue()


def test_a_fleet_gives_each_tenant_its_own_record_and_a_fleet_summary(tmp_path):
    outcome, printed = go(tmp_path, [fleet_params(tmp_path)], emulator=True, emulator_seed="fleet")
    assert outcome.exit_code == 0, printed
    assert sorted(outcome.tenants) == SCOPES
    for scope in SCOPES:
        tenant_dir = tmp_path / "outputs" / f"emulator_{scope}"
        assert verify(tenant_dir) == []
        assert f"{scope:<24} [7/7] 06_smoke_test" in printed or f"{scope} [7/7] 06_smoke_test" in printed
    summary = json.loads((outcome.folder / "fleet-summary.json").read_text())
    assert [t["tenant"] for t in summary["tenants"]] == SCOPES and summary["exit_code"] == 0
    html = (outcome.folder / "fleet-summary.html").read_text()
    links = re.findall(r'href="([^"]+)"', html)
    assert len(links) == 3 * 8 and not [link for link in links if ".ipynb" in link]  # 7 step pages, the report
    assert all((outcome.folder / link).resolve().is_file() for link in links)
    assert list(private(tmp_path).iterdir()) == []


def test_one_tenants_secrets_never_reach_another_tenants_record(tmp_path):
    seed = yaml.safe_load(resolve_seed("fleet").read_text())
    canaries, env = {}, {}
    for tenant in seed["tenants"][:3]:
        scope = tenant["scope"]
        admin, api = (f"CANARY{role}{uuid.uuid4().hex}{scope[:8]}" for role in ("admin", "api"))
        canaries[scope] = [admin, api]
        tenant["users"] = [dict(u, api_secret=admin) if u["loginId"] == "admin" else u for u in tenant["users"]]
        tenant["roles"] = [dict(r, privileges=["Use SMS/MMS API"]) if r["name"] == "SMS API" else r
                           for r in tenant["roles"]]
        tenant["users"].append({"loginId": "api.sms", "firstName": "S", "lastName": "A", "team": "Admins",
                                "roles": ["SMS API"], "api_secret": api})
        env[tenant_env_name("admin", scope)], env[tenant_env_name("api", scope)] = admin, api
    seed["tenants"] = seed["tenants"][:3]
    with EmulatorServer(seed=seed) as server, mock.patch.dict(os.environ, {**env, "BP_EMULATOR_URL": server.url}):
        params = fleet_params(tmp_path, **{s: {"practice_mode": False} for s in SCOPES})
        outcome, printed = go(tmp_path, [params])
    assert outcome.exit_code == 2, printed  # step 05 needs a person; every secret worked
    for scope in SCOPES:
        statuses = {s["result"]["step"]: s["result"]["status"] for s in outcome.tenants[scope].summary["steps"]}
        assert statuses["03_api_secret"] == "ok" and statuses["04_access_token"] == "ok", statuses
    scanner = Scanner([c for pair in canaries.values() for c in pair])
    for path in (tmp_path / "outputs").rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".log", ".html", ".json", ".csv"):
            leaks = scanner.leaks(path)
            if path.name in ("manifest.json", "history.csv", "fleet-summary.json"):  # digests by design
                leaks = [k for k in leaks if k != "token-shaped string"]
            assert leaks == [], path
    assert scanner.text_leaks(printed) == []


def test_generic_secret_variables_are_refused_for_several_tenants(tmp_path):
    with mock.patch.dict(os.environ, {"BP_ADMIN_SECRET": "x" * 64}):
        outcome, printed = go(tmp_path, [fleet_params(tmp_path)], emulator=True, emulator_seed="fleet")
    assert outcome.exit_code == 3
    assert "parameter 'BP_ADMIN_SECRET': is set, but a fleet has several tenants" in printed
    assert "BP_ADMIN_SECRET__ACME_BRIGHTPATTERN_COM" in printed and "x" * 64 not in printed


def test_the_fleet_exit_code_is_the_worst_of_the_tenants(tmp_path):
    params = fleet_params(tmp_path, **{SCOPES[0]: {"practice_mode": False, "admin_user": ""},
                                       SCOPES[1]: {"role": ["not", "text"]}})
    outcome, printed = go(tmp_path, [params], only=["1"], emulator=True, emulator_seed="fleet")
    codes = {scope: o.exit_code for scope, o in outcome.tenants.items()}
    assert codes == {SCOPES[0]: 2, "tenant02.yaml": 3, SCOPES[2]: 0}, printed
    assert outcome.exit_code == 3 == worst(codes.values())
    assert worst([0, 2, 4]) == 4 and worst([2, 1, 3]) == 1 and worst([1, 5]) == 5


@pytest.mark.parametrize("args,message", [
    (["--jobs", "0"], "parameter '--jobs': must be a whole number from 1 to 32"),
    (["--params", "params/fleet/tenant01.yaml", "params/fleet/tenant01.yaml", "{copy}"], None),
])
def test_fleet_inputs(tmp_path, args, message):
    copy = tmp_path / "same-tenant.yaml"  # another file naming tenant01
    copy.write_text((ROOT / "params" / "fleet" / "tenant01.yaml").read_text())
    args = [a.replace("{copy}", str(copy)) for a in args]
    base = ["run", "--emulator", "--emulator-seed", "fleet", "--out", str(tmp_path / "o"), "--only", "0"]
    if "--params" not in args:
        base += ["--params", "params/fleet/"]
    proc = subprocess.run([sys.executable, "-m", "helpers", *base, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(private(tmp_path))}, timeout=300)
    if message:
        assert proc.returncode == 3 and message in proc.stdout
    else:  # the same file twice is one tenant; two files of one tenant are refused
        assert proc.returncode == 3 and "parameter '--params': several files name the tenant" in proc.stdout


def test_an_interrupted_fleet_records_every_tenant_and_leaves_nothing_running(tmp_path):
    marker = f"BP_TEST_MARKER_{uuid.uuid4().hex}"
    out = tmp_path / "outputs"
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "run", "--params", str(fleet_params(tmp_path)),
                             "--emulator", "--emulator-seed", "fleet", "--jobs", "2", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TMPDIR": str(private(tmp_path)), marker: "1"})
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "[3/7]" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=180)
    printed = "".join(lines) + rest
    assert proc.returncode == 5, printed
    assert "Traceback" not in printed
    summary = json.loads(next((out / "fleets").glob("*/fleet-summary.json")).read_text())
    assert summary["exit_code"] == 5 and len(summary["tenants"]) == 3
    started = [t for t in summary["tenants"] if t["steps"]]
    assert started and all(t["exit_code"] == 5 for t in summary["tenants"])
    for tenant in started:
        statuses = [s["status"] for s in tenant["steps"].values()]
        assert "interrupted" in statuses or statuses.count("skipped") >= 1, statuses
        assert verify(Path(tenant["run_dir"]).parent) == []
    assert processes_with(marker) == []
    assert list(private(tmp_path).iterdir()) == []
