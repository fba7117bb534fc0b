"""Shared fixtures: one emulator per test session on a free port, reset before every test."""

from __future__ import annotations

import pytest
import requests

from emulator import EmulatorServer
from helpers.client import BrightPatternClient
from helpers.secrets import Secret, clear_memory
from helpers.transport import RetryPolicy

SCOPE = "example.brightpattern.com"
SMS_NUMBER = "+16502505674"
SMS_ROLE = "SMS API"
API_USER = "api.sms"


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


@pytest.fixture(scope="session")
def emulator_server():
    server = EmulatorServer().start()
    try:
        requests.get(server.url + "/_emulator/", timeout=5).raise_for_status()
    except requests.RequestException as exc:  # fail fast and readably (stripe-python's habit)
        pytest.exit(f"the emulator did not start at {server.url}: {exc}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _own_pending_send_ledgers(tmp_path, monkeypatch):
    """The ledgers of texts that may have gone out are per machine (~/.cache): each test keeps its own,
    and so do the runs it starts (they inherit the environment)."""
    monkeypatch.setenv("BP_RUNBOOK_PENDING_SENDS", str(tmp_path / "pending-sends"))


@pytest.fixture(autouse=True)
def _own_jupyter_runtime(tmp_path, monkeypatch):
    """Kernel connection files of the kernels a test starts (in-process or in the runs it starts) stay
    in its own folder, not the user's shared Jupyter runtime folder."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))


@pytest.fixture(autouse=True)
def _fresh_secret_memory():
    clear_memory()
    yield
    clear_memory()


@pytest.fixture
def emulator(emulator_server):
    Console(emulator_server.url).reset()
    return emulator_server


@pytest.fixture
def console(emulator) -> Console:
    return Console(emulator.url)


class Sleeps(list):
    """Injected sleep: records the waits instead of waiting."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(emulator, login_id, secret, sleeps=None, **kwargs) -> BrightPatternClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=8))
    return BrightPatternClient(emulator.url, SCOPE, login_id, Secret(secret, name=f"{login_id} secret", source="test"),
                               sleep=(sleeps.sleep if sleeps is not None else (lambda s: None)), **kwargs)


@pytest.fixture
def admin_secret(console) -> str:
    return console.generate_secret("admin")


@pytest.fixture
def admin(emulator, admin_secret, sleeps) -> BrightPatternClient:
    return make_client(emulator, "admin", admin_secret, sleeps)


@pytest.fixture
def sms_ready(emulator, console, admin):
    """A tenant where all five admin steps are done; returns the API user's secret."""
    console.grant(SMS_ROLE)
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    return console.generate_secret(API_USER)


@pytest.fixture
def api(emulator, sms_ready, sleeps) -> BrightPatternClient:
    return make_client(emulator, API_USER, sms_ready, sleeps)
