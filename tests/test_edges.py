"""Safeguards that had no test: the fleet's order of severity between exit 3 and 4; a probe that times
out or loses its connection ends "could not verify"; --emulator-seed without --emulator; the example
test number on a loopback tenant that is not the emulator."""

from __future__ import annotations

import pytest

from helpers.errors import ParameterError
from helpers.run.fleet import worst
from helpers.steps import STEPS
from helpers.steps.params import EXAMPLE_DESTINATION, validate
from tests.support import cli
from tests.support import step_result as run

PROBE = "/clientweb/smsapi/v1/Messages/runbook-probe"






def test_in_a_fleet_bad_input_is_worse_than_a_held_lock():
    # 4 (another run holds the lock) will pass by itself next time; 3 (bad input) never will.
    assert worst([3, 4]) == 3 == worst([4, 3])
    assert worst([4, 2, 0]) == 4 and worst([3, 1]) == 1 and worst([3, 5]) == 5


@pytest.mark.parametrize("fault,why", [
    ({"kind": "latency", "seconds": 1.5}, "timed out waiting for the answer"),  # longer than read_timeout
    ({"kind": "drop"}, "broke before an answer arrived"),  # the connection is closed before an answer
], ids=["timeout", "connection-lost"])
def test_a_probe_that_times_out_or_loses_its_connection_could_not_verify(emulator, console, tmp_path, fault, why):
    env = {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    for step in list(STEPS)[:4]:  # 00-03: the privilege, the user and its secret, handed over
        run(step, env, practice_mode=True)
    console.fault(method="GET", path_prefix=PROBE, count=20, **fault)
    r = run("04_access_token", env, practice_mode=True, read_timeout=0.5)
    assert r.status == "failed", (r.status, r.summary)
    assert r.summary.startswith("could not verify: the SMS/MMS API answered the probe with no answer: "), r.summary
    assert why in r.summary


def test_emulator_seed_without_emulator_is_exit_3(tmp_path):
    proc = cli(tmp_path, "run", "--params", "params/demo.yaml", "--emulator-seed", "fleet",
               "--out", str(tmp_path / "outputs"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "--emulator-seed" in proc.stdout and "needs --emulator" in proc.stdout
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("summary.json"))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:9443", "http://[::1]:8000"])
def test_the_example_number_is_refused_on_a_loopback_tenant_that_is_not_the_emulator(url):
    # A loopback address may be an SSH tunnel to a real tenant: only the named emulator texts the example.
    with pytest.raises(ParameterError) as info:
        validate({"tenant_url": url, "smoke_test": True, "test_destination": EXAMPLE_DESTINATION})
    assert info.value.parameter == "test_destination" and "still the example number" in info.value.problem
    assert validate({"tenant_url": "emulator", "smoke_test": True,
                     "test_destination": EXAMPLE_DESTINATION}).test_destination == EXAMPLE_DESTINATION
