"""What the tests share (no test file imports another): the practice tenant's names, a client of the
emulator's console, clients of the tenant APIs, the runner driven in-process or as `python -m helpers`,
seeds with canary secrets, and the browser layer's tools (support/browser.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from emulator.store import DEFAULT_SEED
from helpers.run.runner import RunOptions, run
from helpers.safety.secrets import Secret
from helpers.tenant.client import BrightPatternClient
from helpers.tenant.transport import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
SCOPE = "example.brightpattern.com"
SMS_NUMBER = "+16502505674"
SMS_ROLE = "SMS API"
API_USER = "api.sms"
# Canary secrets: planted in seeds, they must appear in no artifact, line or log of any run.
CANARY_ADMIN = "CANARYadmin" + "A1b2C3d4" * 6 + "zzzzz"
CANARY_API = "CANARYapi" + "Q9w8E7r6" * 6 + "yyyyyyy"


# ------------------------------------------------------------------ the emulator and its tenant APIs
class Console:
    """Test-side wrapper of the emulator-only console (the admin UI stand-in)."""

    def __init__(self, url: str):
        self.url = url + "/_emulator"

    def _call(self, method, path, **kwargs):
        response = requests.request(method, self.url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self):
        return self._call("POST", "/reset")

    def state(self):
        return self._call("GET", "/state")

    def tenant_state(self, scope=SCOPE):
        return next(t for t in self.state()["tenants"] if t["scope"] == scope)

    def config(self, **changes):
        return self._call("PUT", "/config", json=changes)

    def generate_secret(self, login_id, scope=SCOPE) -> str:
        return self._call("POST", f"/tenants/{scope}/users/{login_id}/api-secret")["apiSecret"]

    def revoke_secret(self, login_id, scope=SCOPE):
        return self._call("DELETE", f"/tenants/{scope}/users/{login_id}/api-secret")

    def grant(self, role, privilege="Use SMS/MMS API", granted=True, scope=SCOPE):
        return self._call("POST", f"/tenants/{scope}/roles/{role}/privileges", json={"privilege": privilege, "granted": granted})

    def set_outbound(self, service, numbers, scope=SCOPE):
        return self._call("PUT", f"/tenants/{scope}/services/{service}", json={"outboundChatAccounts": numbers})

    def set_roles(self, login_id, roles, scope=SCOPE):
        return self._call("PUT", f"/tenants/{scope}/users/{login_id}/roles", json={"roles": roles})

    def fault(self, **spec):
        return self._call("POST", "/faults", json=spec)

    def expire_tokens(self):
        return self._call("POST", "/tokens/expire")

    def requests(self):
        return self._call("GET", "/requests")

    def lock(self, login_id, locked=True, scope=SCOPE):
        return self._call("POST", f"/tenants/{scope}/users/{login_id}/lock", json={"lockedOut": locked})

    def disable(self, login_id, disabled=True, scope=SCOPE):
        return self._call("POST", f"/tenants/{scope}/users/{login_id}/disabled", json={"disabled": disabled})


class Sleeps(list):
    """Injected sleep: records the waits instead of waiting."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)


def make_client(emulator, login_id, secret, sleeps=None, **kwargs) -> BrightPatternClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=8))
    return BrightPatternClient(emulator.url, SCOPE, login_id, Secret(secret, name=f"{login_id} secret", source="test"),
                               sleep=(sleeps.sleep if sleeps is not None else (lambda s: None)), **kwargs)


BAD_SEEDS = {
    "duplicated-team": ("tenants:\n  - scope: acme.example.com\n    teams: [Sales, Sales]\n",
                        "tenant acme.example.com, teams #2: repeats an earlier entry"),
    "role-without-name": ("tenants:\n  - scope: acme.example.com\n    roles:\n      - privileges: []\n",
                          "tenant acme.example.com, roles #1: has no 'name'; add name: to the entry"),
    "user-in-unknown-team": ("tenants:\n  - scope: acme.example.com\n    teams: [Sales]\n    users:\n"
                             "      - {loginId: a, firstName: A, lastName: A, team: Sales}\n"
                             "      - {loginId: b, firstName: B, lastName: B, team: X}\n",
                             "tenant acme.example.com, users #2: team 'X' does not exist; add it under teams or "
                             "fix the user's team"),
    "quoted-lock-state": ("tenants:\n  - scope: acme.example.com\n    teams: [Sales]\n    users:\n"
                          "      - {loginId: a, firstName: A, lastName: A, team: Sales, lockedOut: 'false'}\n",
                          "tenant acme.example.com, users #1: lockedOut must be true or false (a YAML boolean, "
                          "no quotes), not 'false'"),
}


def settled(condition, limit: float = 10.0) -> None:
    """Wait for another thread's work to show (not a timing assumption: it returns as soon as it does)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the emulator did not finish the request"
        time.sleep(0.02)



class FakeTime:
    """The steps' clock, advanced only by their own sleeps: polling loops end at once, without real waits."""

    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def step_result(step, env, **params):
    """One step as a kernel runs it: the environment it reads (emulator URL, secrets), a fake clock."""
    from unittest import mock

    from helpers.steps import run_step
    from helpers.steps.params import validate

    time = FakeTime()
    with mock.patch.dict(os.environ, env):
        return run_step(step, validate(params), sleep=time.sleep, clock=time.clock)


# ------------------------------------------------------------------ the runner
def write_params(tmp_path: Path, **values) -> Path:
    base = {"tenant_url": "emulator", "scope": "example.brightpattern.com", "smoke_timeout": 5, "poll_interval": 0.5}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(base | values), encoding="utf-8")
    return path


def ready_seed(tmp_path: Path, api_secret: str = CANARY_API) -> Path:
    """A tenant where a person already did steps 01, 03 and 05, with canary secrets planted."""
    seed = yaml.safe_load(DEFAULT_SEED.read_text())
    tenant = seed["tenants"][0]
    next(r for r in tenant["roles"] if r["name"] == "SMS API")["privileges"] = ["Use SMS/MMS API"]
    next(u for u in tenant["users"] if u["loginId"] == "admin")["api_secret"] = CANARY_ADMIN
    tenant["users"].append({"loginId": "api.sms", "firstName": "SMS", "lastName": "API", "team": "Admins",
                            "roles": ["SMS API"], "api_secret": api_secret})
    tenant["services"][0]["outbound_chat_accounts"] = ["16502505674"]
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    return path


def private(tmp_path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir(exist_ok=True)
    return folder


def go(tmp_path, params: Path, **options):
    """The runner in-process; its private temp folders go to the test's own folder, never the machine-wide one."""
    out = io.StringIO()
    outcome = run(RunOptions(params_path=params, out_dir=tmp_path / "outputs", private_root=private(tmp_path),
                             **options), out)
    return outcome, out.getvalue()


def cli(tmp_path, *args, env=None, **kwargs) -> subprocess.CompletedProcess:
    environ = {**os.environ, "TMPDIR": str(private(tmp_path)), **(env or {})}
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, cwd=ROOT,
                          env=environ, timeout=300, **kwargs)


def processes_with(marker: str) -> list[int]:
    """Processes whose environment carries the marker: the run's own and the kernels it started."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found
