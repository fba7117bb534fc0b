"""Contract recordings (tests/contract/*.json) replayed against the emulator, and the recorder itself.

Each recording says what a tenant (or Bright Pattern's published samples) answered to the runbook's
read-only calls: status, content type and shape. Replaying makes the same calls, as the same users,
against the emulator and fails on any difference, so a recording contributed from a real tenant
keeps the emulator honest for good. The recorder must never write a value: the last tests plant
recognisable tenant data and secrets in an emulator, record it through the CLI and scan the file.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from emulator import EmulatorServer
from helpers.errors import TOKEN_SHAPED
from helpers.safety.secrets import Secret
from helpers.tenant.transport import RetryPolicy, Transport
from helpers.tools import documented as build_documented
from helpers.tools.contract import (
    ADMIN_USER,
    API_USER,
    ContractLeakError,
    Recorder,
    check_no_values,
    dumps,
    merge_all,
    recording_differences,
    shape_differences,
    shape_of,
)

CONTRACT_DIR = Path(__file__).with_name("contract")
RECORDINGS = sorted(CONTRACT_DIR.glob("*.json"))
DOCS_ADMIN_SECRET = "TeOrWMZ2hFfktGkdap5PLzAzknV9oICRqpfziHkAHc93rnZJZQ3W4aBLLn07LGki"  # published sample value
# Who stands for the recorded users when a recording is replayed on a seed. In the docs seed the API
# user is frank.zappa, the one user whose Get User answer is published; the replay gives him the
# "SMS API" role and an API secret first, as step 01-03 of the runbook would (a ready tenant).
REPLAY_USERS = {"docs": {"scope": "yourcompany.brightpattern.com", API_USER: "frank.zappa", "role": "SMS API",
                         ADMIN_USER: ("admin", DOCS_ADMIN_SECRET)}}


def replay(recording: dict, configure: dict | None = None) -> dict:
    """The same calls as the recording, as the same users, against an emulator on the recording's seed."""
    seed = recording.get("replay_seed", "docs")
    if seed not in REPLAY_USERS:
        pytest.fail(f"the recording names seed {seed!r}: add its API user and admin to REPLAY_USERS in {__file__}")
    users = REPLAY_USERS[seed]
    scope, login = users["scope"], users[API_USER]
    with EmulatorServer(seed=seed) as server:
        console = f"{server.url}/_emulator/tenants/{scope}/users/{login}"
        roles = requests.get(f"{server.url}/_emulator/state", timeout=10).json()
        current = next(u for t in roles["tenants"] if t["scope"] == scope for u in t["users"] if u["loginId"] == login)["roles"]
        requests.put(f"{console}/roles", json={"roles": sorted(set(current) | {users["role"]})}, timeout=10).raise_for_status()
        secret = requests.post(f"{console}/api-secret", timeout=10).json()["apiSecret"]
        if configure:
            requests.put(f"{server.url}/_emulator/config", json=configure, timeout=10).raise_for_status()
        admin_login, admin_secret = users[ADMIN_USER]
        recorder = Recorder(Transport(server.url), scope, {API_USER: (login, Secret(secret)),
                                                            ADMIN_USER: (admin_login, Secret(admin_secret))})
        return recorder.record([(c["call"], c["as"]) for c in recording["calls"]], source="replayed on the emulator")


# ------------------------------------------------------------------ every recording, replayed
@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_each_recording_replays_on_the_emulator(path):
    recording = json.loads(path.read_text(encoding="utf-8"))
    assert recording["format"].startswith("bp-sms-runbook contract recording") and recording["source"]
    differences = recording_differences(recording, replay(recording))
    assert not differences, f"{path.name}: the emulator answers differently:\n  " + "\n  ".join(differences)


def test_the_documented_recording_is_built_from_the_samples():
    committed = (CONTRACT_DIR / "documented-samples.json").read_text(encoding="utf-8")
    assert committed == dumps(build_documented.build()), "run: python -m helpers.tools.documented"
    assert "derived from Bright Pattern's published samples" in json.loads(committed)["source"]


def test_a_replay_that_differs_fails_with_a_readable_diff():
    recording = json.loads((CONTRACT_DIR / "documented-samples.json").read_text(encoding="utf-8"))
    differences = recording_differences(recording, replay(recording, {"quirks": {"expires_in_string": False}}))
    assert differences == ["token.api_user: body.expires_in: recorded string, emulator number",
                           "token.admin_user: body.expires_in: recorded string, emulator number"]
    tampered = copy.deepcopy(recording)
    user = next(c for c in tampered["calls"] if c["call"] == "user.get")
    user["shape"]["fields"]["workPhone"] = {"type": "string"}
    del user["shape"]["fields"]["email"]
    user["status"] = 404
    differences = recording_differences(tampered, replay(recording))
    assert differences == ["user.get: status recorded 404, emulator 200",
                           "user.get: body.workPhone: recorded, the emulator never answers it",
                           "user.get: body.email: the emulator answers it, the recording never shows it"]


# ------------------------------------------------------------------ shapes
def test_shapes_hold_names_and_types_only():
    answer = [{"loginId": "x1", "external": "16505555555", "voiceMail": True, "skills": {"Spanish": 80}},
              {"loginId": "x2", "voiceMail": False, "greeting": None, "skills": {}}]
    shape = shape_of(answer)
    assert shape == {"type": "array", "items": {
        "type": "object",
        "fields": {"external": {"type": "string"}, "greeting": {"type": "null"}, "loginId": {"type": "string"},
                   "skills": {"type": "object", "map_of": {"type": "number"}}, "voiceMail": {"type": "boolean"}},
        "optional": ["external", "greeting"]}}
    assert "Spanish" not in json.dumps(shape) and "x1" not in json.dumps(shape)  # skill names are tenant data
    assert merge_all([{"type": "string"}, {"type": "null"}]) == {"type": ["null", "string"]}
    assert shape_of([]) == {"type": "array", "items": None}
    assert shape_differences({"type": "array", "items": None}, shape) == []  # an empty array's items are unknown


# ------------------------------------------------------------------ the recorder: failures and values
def canary_seed(secrets: dict) -> dict:
    """A tenant whose every name, number and secret is recognisable, to prove none reaches a recording."""
    role = {"name": "Canary Role 6604", "privileges": ["Manage users", "Manage phones", "Use SMS/MMS API"]}
    user = {"firstName": "Canaryfirst", "lastName": "Canarylast", "team": "Canary Team 9918", "roles": [role["name"]],
            "email": "canary-mail-2231@example.org", "workPhone": "16505550177", "skills": {"CanarySkill4242": 70}}
    return {"tenants": [{
        "scope": "canary-tenant-5521.example.com", "account_sid": "CANARY-ACCOUNT-0001",
        "teams": ["Canary Team 9918"], "roles": [role],
        "users": [{**user, "loginId": "canary.admin.3317", "extension": "3001", "api_secret": secrets["admin"]},
                  {**user, "loginId": "canary.api.7731", "extension": "3002", "api_secret": secrets["api"]}],
        "sms_accounts": ["canary-smpp-8812"],
        "access_numbers": [{"number": "16505550123", "media": "text", "sms_account": "canary-smpp-8812"},
                           {"number": "16505550199", "media": "voice", "type": "phone", "extension": "3002",
                            "loginId": "canary.api.7731", "firstName": "Canaryfirst", "lastName": "Canarylast"}],
        "services": [{"name": "Canary Chat 5150", "outbound_chat_accounts": ["16505550123"]}]}]}


CANARY_VALUES = ["canary-tenant-5521", "CANARY-ACCOUNT-0001", "Canary Team 9918", "Canary Role 6604", "canary.admin.3317",
                 "canary.api.7731", "Canaryfirst", "Canarylast", "canary-mail-2231", "16505550177", "CanarySkill4242",
                 "canary-smpp-8812", "16505550123", "16505550199", "Canary Chat 5150", "3001", "3002", "canary", "5550"]


def test_recording_the_emulator_through_the_cli_writes_shapes_and_no_value(tmp_path):
    secrets = {"api": "CanaryApiSecret" + "7" * 49, "admin": "CanaryAdminSecret" + "3" * 47}
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(canary_seed(secrets)), encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "tenant_url": "emulator", "scope": "canary-tenant-5521.example.com", "api_user": "canary.api.7731",
        "admin_user": "canary.admin.3317", "role": "Canary Role 6604", "api_user_team": "Canary Team 9918",
        "chat_service": "Canary Chat 5150", "access_number": "+16505550123"}), encoding="utf-8")
    out = tmp_path / "recording.json"
    with EmulatorServer(seed=seed) as server:
        env = {**os.environ, "BP_EMULATOR_URL": server.url, "BP_API_SECRET": secrets["api"],
               "BP_ADMIN_SECRET": secrets["admin"], "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
        done = subprocess.run([sys.executable, "-m", "helpers", "contract", "--params", str(params), "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=120)
        journal = requests.get(server.url + "/_emulator/requests", timeout=10).json()
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    recording = json.loads(text)
    assert [(c["call"], c["as"], c["status"]) for c in recording["calls"]] == [
        ("token.api_user", API_USER, 200), ("token.admin_user", ADMIN_USER, 200), ("sms.probe", API_USER, 404),
        ("user.get", ADMIN_USER, 200), ("user.lock", ADMIN_USER, 200), ("team.list", ADMIN_USER, 200),
        ("phone.user", ADMIN_USER, 200), ("phone.ext", ADMIN_USER, 200)]
    user = next(c for c in recording["calls"] if c["call"] == "user.get")["shape"]
    assert user["fields"]["skills"] == {"type": "object", "map_of": {"type": "number"}}
    assert user["fields"]["workPhone"] == {"type": "string"}
    # Only GETs and token requests reached the tenant: never a send, never a write.
    assert {(e["method"], e["path"].split("/")[2]) for e in journal} <= {("POST", "v2"), ("GET", "v2"), ("GET", "smsapi")}
    assert all(e["method"] == "GET" or e["path"] == "/configapi/v2/oauth/token" for e in journal)
    # No value of the tenant, no secret, no token: the file holds names and types only.
    lowered = text.lower()
    for value in CANARY_VALUES + list(secrets.values()):
        assert value.lower() not in lowered, value
    assert not TOKEN_SHAPED.search(text)


def test_failed_calls_are_recorded_with_their_status_or_no_response(emulator, console):
    api_secret = console.generate_secret("sheila.thomas")  # an agent: a token, but no SMS/MMS privilege
    recorder = Recorder(Transport(emulator.url, retry=RetryPolicy(max_attempts=1)), "example.brightpattern.com",
                        {API_USER: ("sheila.thomas", Secret(api_secret)), ADMIN_USER: ("admin", Secret("wrong-secret"))})
    calls = {c["call"]: c for c in recorder.record(source="test")["calls"]}
    assert (calls["token.admin_user"]["status"], calls["token.admin_user"]["shape"]["fields"].keys()) == (
        401, {"error", "error_description"})
    assert calls["sms.probe"]["status"] == 403  # the missing privilege, recorded like any answer
    assert calls["user.get"] == {"call": "user.get", "method": "GET", "path": "/configapi/v2/user/{loginId}",
                                 "as": ADMIN_USER, "skipped": "no admin_user token"}
    with EmulatorServer() as gone:
        url = gone.url
    unreachable = Recorder(Transport(url, retry=RetryPolicy(max_attempts=1)), "example.brightpattern.com",
                           {API_USER: ("api.sms", Secret("x" * 64))})
    first = unreachable.record(source="test")["calls"][0]
    assert (first["status"], first["outcome"]) == (None, "no response (ApiConnectionError)")


def test_without_admin_the_api_user_makes_every_call(emulator, console):
    secret = console.generate_secret("admin")
    recorder = Recorder(Transport(emulator.url), "example.brightpattern.com", {API_USER: ("admin", Secret(secret)),
                                                                              ADMIN_USER: ("", None)})
    calls = recorder.record(source="test")["calls"]
    assert "token.admin_user" not in [c["call"] for c in calls]
    assert {c["as"] for c in calls} == {API_USER} and all(c["status"] in (200, 404) for c in calls)


def test_a_value_that_would_reach_the_file_stops_the_recording():
    text = dumps({"calls": [{"shape": {"type": "object", "fields": {"canary.api.7731": {"type": "string"}}}}]})
    with pytest.raises(ContractLeakError, match="nothing was written"):
        check_no_values(text, ["canary.api.7731"])
    check_no_values(text, ["canary.other"])  # no false alarm


def test_cli_refuses_without_any_secret(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("tenant_url: emulator\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("BP_API_SECRET", "BP_ADMIN_SECRET")}
    env.update(BP_RUNBOOK_HANDOFF=str(tmp_path / "handoff.json"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = subprocess.run([sys.executable, "-m", "helpers", "contract", "--params", str(params), "--out",
                           str(tmp_path / "out.json")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "set BP_API_SECRET (and BP_ADMIN_SECRET)" in done.stderr
    assert not (tmp_path / "out.json").exists()
