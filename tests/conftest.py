"""Shared fixtures: one emulator per test session on a free port, reset before every test."""

from __future__ import annotations

import pytest
import requests

from emulator import EmulatorServer
from helpers.safety.secrets import clear_memory
from helpers.tenant.client import BrightPatternClient
from tests.support import (
    API_USER,
    SMS_NUMBER,
    SMS_ROLE,
    Console,
    Sleeps,
    make_client,
)


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


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


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


@pytest.fixture
def env(emulator, tmp_path):
    """The environment a kernel would see: emulator URL, a private handoff file and ledger, no secrets."""
    return {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json"),
            "BP_RUNBOOK_PENDING_SENDS": str(tmp_path / "pending-sends")}


@pytest.fixture
def ready(env, console, admin, admin_secret):
    """A tenant where a person did all admin steps; the environment holds both secrets."""
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.grant(SMS_ROLE)
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    env.update(BP_API_SECRET=console.generate_secret(API_USER), BP_ADMIN_SECRET=admin_secret)
    return env
