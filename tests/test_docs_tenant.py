"""The runbook against a tenant that answers with Bright Pattern's published samples (the emulator's
`docs` seed), however it answers Get Message of an unknown id (the documentation is silent): no
verdict claims more than its evidence, none is a false `ok`, none is a raw error."""

from __future__ import annotations

import os
from unittest import mock

import pytest
import yaml

from emulator.store import resolve_seed
from tests.support import (
    go,
)

pytestmark = pytest.mark.notebooks
PUBLISHED_ADMIN_SECRET = "TeOrWMZ2hFfktGkdap5PLzAzknV9oICRqpfziHkAHc93rnZJZQ3W4aBLLn07LGki"  # a sample value


def docs_tenant(tmp_path, unknown_message: int):
    seed = yaml.safe_load(resolve_seed("docs").read_text())
    seed.setdefault("config", {})["unknown_message"] = {"status": unknown_message}
    seed_path = tmp_path / "docs-seed.yaml"
    seed_path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    params = tmp_path / "docs.yaml"
    params.write_text(yaml.safe_dump({
        "tenant_url": "emulator", "scope": "yourcompany.brightpattern.com", "admin_user": "admin",
        "api_user": "api.sms", "api_user_team": "Customer Service", "role": "SMS API",
        "access_number": "+16502505674", "chat_service": "Customer Service Chat", "practice_mode": True}))
    return params, seed_path


@pytest.mark.parametrize("answer,exit_code,step_04", [
    (404, 0, "ok"), (200, 0, "ok"), (400, 0, "ok"),
    (401, 2, "action-required"), (500, 1, "failed"),
])
def test_the_documented_tenant_whatever_it_answers_to_an_unknown_message(tmp_path, answer, exit_code, step_04):
    params, seed = docs_tenant(tmp_path, answer)
    with mock.patch.dict(os.environ, {"BP_ADMIN_SECRET": PUBLISHED_ADMIN_SECRET}):
        outcome, printed = go(tmp_path, params, emulator=True, emulator_seed=str(seed))
    assert outcome.exit_code == exit_code, printed
    results = {s["result"]["step"]: s["result"] for s in outcome.summary["steps"]}
    assert results["04_access_token"]["status"] == step_04
    for result in results.values():
        assert "unexpected" not in result["summary"] and "Traceback" not in result["summary"]
        assert "role 'SMS API' has" not in result["summary"]  # no API reads a role's privileges
    r04 = results["04_access_token"]
    if step_04 == "ok":
        assert "the SMS/MMS API accepts it" in r04["summary"] and f"HTTP {answer}" not in r04["summary"]
        assert r04["evidence"]["SMS/MMS API probe"].startswith(f"accepted: HTTP {answer}")
        assert "this verifies end to end steps 01, 02, 03 of this run" in r04["summary"]
    elif answer == 401:
        assert "the SMS/MMS API rejects that token as not valid" in r04["summary"] and r04["actions"]
        assert r04["evidence"]["SMS/MMS API probe"].startswith("refused the token: HTTP 401")
    else:
        assert r04["summary"].startswith("could not verify: the SMS/MMS API answered the probe with HTTP 500")
    # The published number is the published service's outbound chat account (when the run got that far).
    assert results["05_chat_service"]["status"] == ("skipped" if step_04 == "failed" else "ok")
