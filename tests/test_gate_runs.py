"""The gate in real runs: every file under --out and every stream of a single run and of a fleet went
through it (its ledger says so), and a fleet at --log-level INFO against a tenant that answers with the
admin secret \\u-escaped, cut short, leaves that secret, in any form of 12 characters or more, in no
file (the fleet summary included) and on no output stream."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from emulator import EmulatorServer
from emulator.store import resolve_seed
from helpers.run.fleet import run_fleet
from helpers.run.runner import RunOptions, run
from helpers.safety.gate import Gate
from helpers.safety.scrub import Scanner
from helpers.safety.secrets import tenant_env_name
from tests.support import cli, private, write_params

pytestmark = pytest.mark.notebooks


def not_gated(gate: Gate, out_dir: Path) -> list[str]:
    """Files under out_dir the gate did not let through (an empty lock file holds nothing)."""
    return [str(p) for p in out_dir.rglob("*") if p.is_file() and str(p.resolve()) not in gate.ledger
            and not (p.name == ".run.lock" and p.stat().st_size == 0)]


def fleet_folder(tmp_path, scopes: list[str], **values) -> Path:
    folder = tmp_path / "fleet"
    folder.mkdir(exist_ok=True)
    for scope in scopes:
        (folder / f"{scope.split('.')[0]}.yaml").write_text(
            yaml.safe_dump({"tenant_url": "emulator", "scope": scope, **values}), encoding="utf-8")
    return folder


def test_every_file_and_stream_of_a_run_and_a_fleet_went_through_the_gate(tmp_path):
    gate, out = Gate(), io.StringIO()
    outcome = run(RunOptions(params_path=write_params(tmp_path, practice_mode=True), emulator=True, only=["0,4"],
                             out_dir=tmp_path / "single", private_root=private(tmp_path)), out, gate)
    assert outcome.exit_code in (0, 2), out.getvalue()
    assert not_gated(gate, tmp_path / "single") == []
    assert "<stream StringIO>" in gate.ledger

    seed = yaml.safe_load(resolve_seed("fleet").read_text())
    scopes = [t["scope"] for t in seed["tenants"][:2]]
    gate, out = Gate(), io.StringIO()
    fleet = run_fleet(RunOptions(params_path="", emulator=True, emulator_seed="fleet", only=["0,4"],
                                 out_dir=tmp_path / "fleet-out", private_root=private(tmp_path)),
                      [fleet_folder(tmp_path, scopes, practice_mode=True)], 2, out, gate)
    assert fleet.exit_code in (0, 2), out.getvalue()
    assert list((tmp_path / "fleet-out" / "fleets").rglob("fleet-summary.json"))
    assert not_gated(gate, tmp_path / "fleet-out") == []
    assert "<stream StringIO>" in gate.ledger


def test_a_fleet_at_info_leaves_no_trace_of_an_escaped_cut_admin_secret(tmp_path):
    seed = yaml.safe_load(resolve_seed("fleet").read_text())
    seed["tenants"] = seed["tenants"][:2]
    env, secrets = {}, []
    for tenant in seed["tenants"]:
        admin = f"CANARYadm{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
        tenant["users"] = [dict(u, api_secret=admin) if u["loginId"] == "admin" else u for u in tenant["users"]]
        env[tenant_env_name("admin", tenant["scope"])] = admin
        secrets.append(admin)
    escaped = "".join(f"\\u{ord(c):04x}" for c in secrets[0])  # 6 characters each: long, so the body is cut
    body = "invalid_client: the secret presented was " + escaped
    with EmulatorServer(seed=seed) as server:
        requests.post(f"{server.url}/_emulator/faults", timeout=5, json={
            "kind": "answer", "status": 401, "body": body, "content_type": "text/plain", "count": 200,
            "path_prefix": "/configapi/v2/oauth/token"})
        params = fleet_folder(tmp_path, [t["scope"] for t in seed["tenants"]], practice_mode=False)
        runs = [cli(tmp_path, "run", "--params", *given, "--log-level", "INFO", "--out", str(tmp_path / "outputs"),
                    "--only", "0,4", env={**env, "BP_EMULATOR_URL": server.url})
                for given in ([str(params), "--jobs", "2"], [str(sorted(params.iterdir())[0])])]  # a fleet, one run
    for done in runs:
        assert done.returncode in (1, 2, 3), done.stdout + done.stderr
    files = [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]
    assert any(p.name == "fleet-summary.json" for p in files) and any(p.name == "fleet-summary.html" for p in files)
    assert any("invalid_client" in p.read_text(errors="replace") for p in files)  # the tenant's answer was recorded
    scanner = Scanner(secrets)
    for path in files:
        leaks = [k for k in scanner.leaks(path) if k != "token-shaped string"]  # digests by design
        assert leaks == [], path
    for done in runs:
        for stream in (done.stdout, done.stderr):
            assert scanner.text_leaks(stream) == []
    assert "INFO" in runs[1].stderr  # the single run's terminal log did run at INFO
