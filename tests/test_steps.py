"""The runbook steps (check, act, verify) against the emulator over HTTP, called directly."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from helpers.errors import ParameterError
from helpers.params import validate
from helpers.steps import STEPS, run_step

from .conftest import API_USER, SMS_NUMBER, SMS_ROLE


@pytest.fixture
def env(emulator, tmp_path):
    """The environment a kernel would see: emulator URL, a private handoff file, no secrets."""
    return {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}


def run(step, env, **params):
    # The kernel's view: the whole environment is what the runbook reads (emulator URL and secrets).
    with mock.patch.dict(os.environ, env):
        return run_step(step, validate(params), sleep=lambda s: None)


def run_all(env, **params):
    return {step: run(step, env, **params) for step in STEPS}


def test_practice_mode_completes_every_step_then_rerun_changes_nothing(env, console):
    first = run_all(env, practice_mode=True, smoke_test=True)
    assert {s: r.status for s, r in first.items()} == {
        "00_preflight": "ok", "01_grant_privilege": "changed", "02_define_user": "changed",
        "03_api_secret": "changed", "04_access_token": "ok", "05_chat_service": "changed", "06_smoke_test": "ok"}
    assert all("[practice mode: emulator only]" in c for c in first["01_grant_privilege"].changed)
    services = {s["name"]: s["outboundChatAccounts"] for s in console.tenant_state()["services"]}
    assert services["SMS Chat"] == ["16502505674"]
    second = run_all(env, practice_mode=True)
    assert {r.status for s, r in second.items() if s != "06_smoke_test"} == {"ok"}
    assert all(r.changed == [] for r in second.values())


def test_untouched_tenant_gives_exact_instructions(env):
    results = run_all(env, admin_user="")
    for step, where in (("01_grant_privilege", "Users & Teams > Roles"), ("03_api_secret", "API secret"),
                        ("05_chat_service", "Outbound chat accounts")):
        assert results[step].status == "action-required", step
        assert any(where in a for a in results[step].actions), results[step].actions
    assert "'SMS API'" in results["01_grant_privilege"].actions[0]
    assert "+16502505674" in " ".join(results["05_chat_service"].actions)
    assert "step 04 verifies it" in results["01_grant_privilege"].summary
    assert results["06_smoke_test"].status == "skipped"


def test_guided_steps_are_verified_once_a_person_acted(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.grant(SMS_ROLE)
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    env["BP_API_SECRET"] = console.generate_secret(API_USER)
    env["BP_ADMIN_SECRET"] = admin_secret
    results = run_all(env)
    assert {r.status for s, r in results.items() if s != "06_smoke_test"} == {"ok"}
    assert results["04_access_token"].evidence["token_type"] == "Bearer"
    assert results["04_access_token"].evidence["expires_in (s)"] == 3600
    assert results["05_chat_service"].evidence["textOutService"] == "SMS Chat"


def test_privilege_removed_is_caught(env, console, admin):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    env["BP_API_SECRET"] = console.generate_secret(API_USER)
    r = run("01_grant_privilege", env)
    assert r.status == "action-required"
    assert "refuses the API user's token (403)" in r.summary
    r4 = run("04_access_token", env)
    assert r4.status == "action-required" and "403" in r4.summary


def test_user_without_role_needs_the_admin_ui_unless_practice(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=["Agent"])
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert r.status == "action-required"
    assert "the API cannot change roles" in r.summary
    assert any("Add the role 'SMS API'" in a for a in r.actions)
    r = run("02_define_user", env, practice_mode=True)
    assert r.status == "changed" and admin.users.get(API_USER).roles == ("Agent", SMS_ROLE)


@pytest.mark.parametrize("change,summary,hint", [
    ({"api_user_team": "Nope"}, "the team 'Nope' does not exist", "existing team (Admins, Customer Service)"),
    ({"role": "Texting"}, "the role 'Texting' does not exist", "create the role 'Texting'"),
])
def test_missing_team_or_role_is_explained(env, admin_secret, change, summary, hint):
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env, **change)
    assert (r.status, r.summary) == ("action-required", summary)
    assert hint in r.actions[0]


def test_disabled_user_is_reported(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    admin.users.update(API_USER, disabled=True)
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert (r.status, r.summary) == ("action-required", "user 'api.sms' has the role 'SMS API' but is disabled")


def test_dry_run_changes_nothing(env, console):
    before = console.tenant_state()
    results = run_all(env, practice_mode=True, dry_run=True, smoke_test=True)
    after = console.tenant_state()
    assert before["roles"] == after["roles"] and before["services"] == after["services"]
    assert [u["loginId"] for u in before["users"]] == [u["loginId"] for u in after["users"]]
    assert results["02_define_user"].summary.startswith("dry run: would create")
    assert results["06_smoke_test"].status == "skipped"
    assert after["messages"] == []


def test_rejected_admin_secret_makes_admin_steps_guided(env):
    env["BP_ADMIN_SECRET"] = "R" * 20
    for step in ("02_define_user", "05_chat_service"):
        r = run(step, env)
        assert r.status == "action-required", step
        assert any("admin user's secret (environment variable BP_ADMIN_SECRET) was rejected" in n for n in r.notes)
        assert "R" * 20 not in str(r.to_dict())


def test_rejected_secret_is_action_required(env, console, admin):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    env["BP_API_SECRET"] = "W" * 64
    r = run("03_api_secret", env)
    assert r.status == "action-required" and "rejected (invalid client ID or client secret)" in r.summary
    assert "W" * 64 not in str(r.to_dict())


def test_number_checks(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    voice = run("05_chat_service", env, access_number="+14155550101")
    assert (voice.status, voice.summary) == ("action-required", "+14155550101 is not SMS-capable (media voice)")
    unknown = run("05_chat_service", env, access_number="+14155550199")
    assert unknown.summary == "+14155550199 is not an access number of this tenant"
    console._call("PUT", "/tenants/example.brightpattern.com/services/Other Chat", json={"outboundChatAccounts": [SMS_NUMBER]})
    other = run("05_chat_service", env)
    assert other.status == "action-required"
    assert "currently the outbound chat account of: Other Chat" in " ".join(other.notes)


@pytest.mark.parametrize("destination,summary", [
    ("+15005550001", "test message failed: 30003 Unreachable destination handset (queued -> failed)"),
    ("+15005550007", "no delivery confirmation within 1 s (last status: queued; queued)"),
])
def test_smoke_test_failures(env, destination, summary):
    run_all(env, practice_mode=True)
    r = run("06_smoke_test", env, practice_mode=True, smoke_test=True, test_destination=destination,
            smoke_timeout=1, poll_interval=0.3)
    assert (r.status, r.summary) == ("failed", summary)
    assert r.evidence["timeline"][0]["status"] == "queued"


def test_unreachable_tenant_fails_preflight(env):
    env["BP_EMULATOR_URL"] = "http://127.0.0.1:9"
    r = run("00_preflight", env, connect_timeout=0.5)
    assert r.status == "failed"
    assert r.summary == ("the tenant does not answer at http://127.0.0.1:9: could not connect to 127.0.0.1:9 "
                         "(is the emulator running? `make emulator` starts it)")


def test_practice_mode_is_refused_for_real_tenants():
    with pytest.raises(ParameterError) as info:
        validate({"tenant_url": "https://example.brightpattern.com", "practice_mode": True})
    assert info.value.parameter == "practice_mode"


def test_practice_mode_refused_when_target_is_not_the_emulator(env, tmp_path):
    env["BP_EMULATOR_URL"] = "http://127.0.0.1:9"
    r = run("01_grant_privilege", env, practice_mode=True, connect_timeout=0.2)
    assert r.status == "failed" and "does not answer as the local emulator" in r.summary


def test_unexpected_errors_become_a_safe_failed_record(env, monkeypatch):
    env["BP_API_SECRET"] = "S" * 40

    def boom(ctx):
        raise RuntimeError("boom with " + "S" * 40)

    from helpers import steps
    monkeypatch.setitem(steps.STEPS, "04_access_token", steps.Step("04_access_token", "t", "n", boom))
    r = run("04_access_token", env)
    assert r.status == "failed" and r.summary == "unexpected RuntimeError: boom with [redacted]"


@pytest.mark.parametrize("drift,step,expected", [
    ("privilege removed", "04_access_token", "the SMS/MMS API refuses it (403)"),
    ("secret revoked", "03_api_secret", "is rejected (invalid client ID or client secret)"),
    ("user disabled", "02_define_user", "but is disabled"),
    ("number reassigned", "05_chat_service", "is not an outbound chat account of 'SMS Chat'"),
])
def test_a_scheduled_run_catches_drift(env, console, admin, admin_secret, drift, step, expected):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.grant(SMS_ROLE)
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    env.update(BP_API_SECRET=console.generate_secret(API_USER), BP_ADMIN_SECRET=admin_secret)
    assert {r.status for r in run_all(env).values()} == {"ok", "skipped"}
    if drift == "privilege removed":
        console.grant(SMS_ROLE, granted=False)
    elif drift == "secret revoked":
        console.revoke_secret(API_USER)
    elif drift == "user disabled":
        console.disable(API_USER)
    else:
        console.set_outbound("SMS Chat", [])
        console.set_outbound("Maintenance renewal SMS", ["14151234567", SMS_NUMBER])
    results = run_all(env)
    assert results[step].status == "action-required", results[step]
    assert expected in results[step].summary
    assert "failed" not in {r.status for r in results.values()}
