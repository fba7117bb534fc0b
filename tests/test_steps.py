"""The runbook steps (check, act, verify) against the emulator over HTTP, called directly.

Besides the emulator's own answers, canned answers (`answer` faults) stand in for a tenant that
answers what the documentation leaves open: every verdict must say exactly what it observed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from helpers.errors import ParameterError
from helpers.steps import STEPS
from helpers.steps.params import validate
from tests.support import API_USER, SCOPE, SMS_NUMBER, SMS_ROLE, settled
from tests.support import step_result as run

PROBE = "/clientweb/smsapi/v1/Messages/runbook-probe"








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
    # No loop: nothing can verify the grant before step 03, so the page sends the engineer on.
    r01 = results["01_grant_privilege"]
    assert r01.summary == "done for now: step 04 verifies this once step 03 has the secret; go on to step 02"
    assert r01.actions[-1].startswith("Then go on to step 02") and not any("Re-run" in a for a in r01.actions)
    assert results["06_smoke_test"].status == "skipped"


def test_guided_steps_are_verified_once_a_person_acted(ready):
    results = run_all(ready)
    assert {r.status for s, r in results.items() if s != "06_smoke_test"} == {"ok"}
    token = results["04_access_token"].evidence
    assert token["token type"] == "Bearer" and token["expires in"] == "3600 s"
    assert results["05_chat_service"].evidence["textOutService"] == "SMS Chat"


def test_step_01_claims_only_what_the_token_probe_shows(ready):
    r = run("01_grant_privilege", ready)
    # Plain words in the headline; the answer (HTTP 404 to a made-up message: not refused) in the evidence.
    assert r.summary == ("the API user gets a token and the SMS/MMS API accepts it, so one of the user's roles must "
                         "hold 'Use SMS/MMS API' (an inference: no API shows a role's privileges)")
    assert r.evidence["SMS/MMS API probe"] == "accepted: HTTP 404 (application/json) to Get Message of a made-up id"
    # Only the user's only role can be named, and only as an inference.
    assert r.inferred[-1] == "that role is 'SMS API': it is the user's only role"
    assert "role 'SMS API' has" not in r.summary


def test_several_roles_make_the_role_unobservable(ready, console):
    console.set_roles(API_USER, ["Administrator", SMS_ROLE])
    r = run("01_grant_privilege", ready)
    assert r.status == "ok"
    assert r.inferred[-1] == ("one of the roles Administrator, SMS API holds it; which one cannot be observed "
                              "(no API reads role privileges)")


# ------------------------------------------------------------------ every answer of the SMS/MMS probe
@pytest.mark.parametrize("answer,status,summary", [
    ({"kind": "answer", "status": 200, "body": {"sid": None, "status": "failed", "uri": "/x"}}, "ok",
     "the SMS/MMS API accepts it"),
    ({"kind": "status", "status": 400}, "ok", "the SMS/MMS API accepts it"),
    ({"kind": "answer", "status": 404, "body": "Not Found", "content_type": "text/plain"}, "ok",
     "the SMS/MMS API accepts it"),
    ({"kind": "answer", "status": 404, "body": "<html><h1>404 Not Found</h1>nginx</html>", "content_type": "text/html"},
     "failed", "could not verify: the SMS/MMS API answered the probe with HTTP 404: a web page, not an answer of the "
               "SMS/MMS API (a gateway or proxy may have answered)"),
    ({"kind": "status", "status": 401}, "action-required",
     "the API user gets a token, but the SMS/MMS API rejects that token as not valid (not for a missing privilege)"),
    ({"kind": "status", "status": 403}, "action-required",
     "the SMS/MMS API refuses the API user's token: none of the user's roles holds 'Use SMS/MMS API'"),
    ({"kind": "status", "status": 500}, "failed",
     "could not verify: the SMS/MMS API answered the probe with HTTP 500: emulator fault: HTTP 500"),
    ({"kind": "answer", "status": 200, "body": "<html>login</html>", "content_type": "text/html"}, "failed",
     "could not verify: the SMS/MMS API answered the probe with HTTP 200: the body is not JSON, so it may not come "
     "from the SMS/MMS API"),
    ({"kind": "answer", "status": 302, "body": ""}, "failed",
     "could not verify: the SMS/MMS API answered the probe with HTTP 302: a redirect is not an answer of the "
     "SMS/MMS API"),
    ({"kind": "rate_limit", "status": 429, "retry_after": 0}, "failed",
     "could not verify: the SMS/MMS API answered the probe with HTTP 429: emulator fault: HTTP 429"),
])
def test_every_probe_answer_has_a_meaning(ready, console, answer, status, summary):
    for step in ("01_grant_privilege", "04_access_token"):
        console.fault(path_prefix=PROBE, method="GET", count=8, **answer)
        r = run(step, ready)
        console._call("DELETE", "/faults")
        assert r.status == status, (step, r.summary)
        assert summary in r.summary, (step, r.summary)
        assert "Traceback" not in r.summary and "unexpected" not in r.summary
        if status == "ok":
            assert r.evidence["SMS/MMS API probe"].startswith(f"accepted: HTTP {answer['status']}")
        elif answer["status"] in (401, 403):  # the headline in plain words, the answer in the evidence
            assert f"HTTP {answer['status']}" not in r.summary
            assert f"HTTP {answer['status']}" in r.evidence["SMS/MMS API probe"], r.evidence
            assert r.actions, step
        else:
            assert r.actions, step


def test_step_04_names_only_the_steps_of_this_run_that_ended_well(ready, tmp_path):
    context = tmp_path / "run-context.json"
    context.write_text(json.dumps({"steps": {"00_preflight": {"status": "ok"}, "01_grant_privilege": {"status": "ok"},
                                             "02_define_user": {"status": "action-required"},
                                             "03_api_secret": {"status": "changed"}}}))
    r = run("04_access_token", {**ready, "BP_RUNBOOK_RUN_CONTEXT": str(context)})
    assert r.summary.endswith("this verifies end to end steps 01, 03 of this run "
                              "(not counted: 02 is action-required)")
    alone = run("04_access_token", ready)
    assert alone.summary.endswith("no earlier step ran in this run or lab session, so it confirms no other step")


# ------------------------------------------------------------------ contradictions between answers
@pytest.mark.parametrize("canned,words", [
    ({"path_prefix": f"/configapi/v2/user/lock/{API_USER}", "body": {"lockedOut": True}}, "locked out"),
    ({"path_prefix": f"/configapi/v2/user/{API_USER}", "body": {"loginId": API_USER, "firstName": "A", "lastName": "B",
                                                                 "team": "Admins", "roles": [SMS_ROLE], "disabled": True}},
     "disabled"),
])
def test_a_token_issued_to_a_user_reported_locked_or_disabled_is_a_contradiction(ready, console, canned, words):
    for step in ("01_grant_privilege", "03_api_secret", "04_access_token"):
        console.fault(kind="answer", method="GET", count=1, **canned)
        r = run(step, ready)
        console._call("DELETE", "/faults")
        assert r.status == "action-required", (step, r.summary)
        assert f"a token was issued to 'api.sms' although Get User reports it {words}" in r.summary
        assert any(f"check whether it is {words}" in a for a in r.actions)


def test_get_user_answering_another_login_is_a_contradiction(ready, console):
    console.fault(kind="answer", method="GET", path_prefix=f"/configapi/v2/user/{API_USER}", count=1,
                  body={"loginId": "frank.zappa", "firstName": "Frank", "lastName": "Zappa", "team": "Admins", "roles": []})
    r = run("02_define_user", ready)
    assert (r.status, r.summary) == ("action-required", "contradiction: Get User for 'api.sms' answered about someone "
                                                        "else (asked for 'api.sms', the tenant answered the user 'frank.zappa')")


def test_a_number_reported_for_another_service_is_named(ready, console):
    console.set_outbound("SMS Chat", [])
    console.set_outbound("Maintenance renewal SMS", ["14151234567", SMS_NUMBER])
    r = run("05_chat_service", ready)
    assert (r.status, r.summary) == ("action-required", "+16502505674 is the outbound chat account of "
                                                        "'Maintenance renewal SMS', not of 'SMS Chat'")


# ------------------------------------------------------------------ diagnoses across steps
def test_a_secret_for_a_user_that_does_not_exist_points_to_step_02(env, console, admin_secret):
    env.update(BP_API_SECRET="W" * 64, BP_ADMIN_SECRET=admin_secret)
    r = run("03_api_secret", env)
    assert r.status == "action-required"
    assert r.summary == ("the API secret of 'api.sms' is refused: the user 'api.sms' does not exist "
                         "(the tenant has no such user), so no secret can work; complete step 02 first")
    assert r.evidence["Get User"].startswith("HTTP 404") and r.evidence["token request"].startswith("refused: HTTP 401")
    assert r.actions[0] == "Complete step 02 (define the user), then step 03 again."
    assert "W" * 64 not in json.dumps(r.to_dict())


def test_a_secret_of_a_disabled_user_says_so(ready, console):
    console.disable(API_USER)
    r = run("03_api_secret", ready)
    assert r.summary == "the API secret of 'api.sms' is refused: the user 'api.sms' is disabled"


def test_a_stale_secret_of_a_healthy_user_asks_for_a_new_one(ready, console):
    console.generate_secret(API_USER)  # a newer secret replaces the one in the environment
    r = run("03_api_secret", ready)
    assert r.summary == ("the API secret of 'api.sms' is refused: the user 'api.sms' exists and is enabled, "
                         "not locked out, so the secret itself is wrong or was replaced by a newer one: generate a new one")
    assert any("Generate" in a for a in r.actions)


def test_without_admin_credentials_the_diagnosis_says_what_it_cannot_see(env):
    env["BP_API_SECRET"] = "W" * 64
    r = run("03_api_secret", env, admin_user="")
    assert "no admin user is configured (admin_user is empty), so the user cannot be looked up" in r.summary


# ------------------------------------------------------------------ step 02
def test_user_without_role_needs_the_admin_ui_unless_practice(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=["Agent"])
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert r.status == "action-required"
    assert "the API cannot change roles" in r.summary
    assert any("Add the role 'SMS API'" in a for a in r.actions)
    r = run("02_define_user", env, practice_mode=True)
    assert r.status == "changed" and admin.users.get(API_USER).roles == ("Agent", SMS_ROLE)


def test_practice_01_names_the_users_roles_when_the_role_already_holds_the_privilege(env, console, admin,
                                                                                    admin_secret):
    console.grant(SMS_ROLE)
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=["Agent"])
    env.update(BP_ADMIN_SECRET=admin_secret, BP_API_SECRET=console.generate_secret(API_USER))
    r = run("01_grant_privilege", env, practice_mode=True)
    assert (r.status, r.changed) == ("action-required", [])  # nothing granted again, nothing claimed
    assert r.summary == ("role 'SMS API' holds 'Use SMS/MMS API' (practice: seen through the emulator's console), but "
                         "the SMS/MMS API refuses the API user's token: the user 'api.sms' lacks the role 'SMS API' "
                         "(step 02)")
    assert r.evidence["SMS/MMS API probe"].startswith("refused: HTTP 403")
    assert r.evidence["roles (Get User)"] == ["Agent"]
    r = run("01_grant_privilege", env, practice_mode=True, admin_user="")  # no Get User: the cause is named as a check
    assert r.status == "action-required" and r.summary.endswith("check the roles of 'api.sms' (step 02)")


@pytest.mark.parametrize("change,summary,hint", [
    ({"api_user_team": "Nope"}, "the team 'Nope' does not exist (the tenant said so when asked to create the user)",
     "existing team (Admins, Customer Service)"),
    ({"role": "Texting"}, "the role 'Texting' does not exist (the tenant said so when asked to create the user)",
     "create the role 'Texting'"),
])
def test_missing_team_or_role_is_explained(env, admin_secret, change, summary, hint):
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env, **change)
    assert (r.status, r.summary) == ("action-required", summary)
    assert hint in r.actions[0] and r.evidence["Create User"].startswith("HTTP 404: ")  # the answer, in the evidence


@pytest.mark.parametrize("fault,summary,action", [
    ({"kind": "answer", "status": 404, "body": "<html>Not Found</html>", "content_type": "text/html"},
     "the tenant refused to create user 'api.sms': HTTP 404", "Check api_user"),
    ({"kind": "status", "status": 401},
     "the tenant rejects the admin's token, issued a moment ago, when it creates the user", "admin user 'admin'"),
])
def test_a_refused_create_names_only_the_cause_it_saw(env, console, admin_secret, fault, summary, action):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(method="POST", path_prefix="/configapi/v2/user", count=8, **fault)
    r = run("02_define_user", env)
    assert r.status == "action-required" and r.summary.startswith(summary), r.summary
    assert "role" not in r.summary and action in r.actions[0]
    assert API_USER not in [u["loginId"] for u in console.tenant_state()["users"]]  # nothing was created


def test_disabled_user_is_reported(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    admin.users.update(API_USER, disabled=True)
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert (r.status, r.summary) == ("action-required", "user 'api.sms' has the role 'SMS API' but is disabled")


def test_locked_out_user_is_reported(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.lock(API_USER)
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert (r.status, r.summary) == ("action-required", "user 'api.sms' has the role 'SMS API' but is locked out")


def test_unreadable_lock_state_is_not_claimed(env, console, admin, admin_secret):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.fault(kind="status", status=500, method="GET", path_prefix="/configapi/v2/user/lock/", count=8)
    env["BP_ADMIN_SECRET"] = admin_secret
    r = run("02_define_user", env)
    assert (r.status, r.summary) == ("failed", "could not verify: user 'api.sms' has the role 'SMS API' and is "
                                               "enabled, but Get User Lock State answered HTTP 500")
    assert r.evidence["state"] == "enabled, lock state unknown (HTTP 500)"


def test_a_create_whose_answer_is_lost_is_never_sent_again(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="drop", method="POST", path_prefix="/configapi/v2/user")  # processed, then the line drops
    r = run("02_define_user", env)
    creates = [e for e in console.requests() if e["method"] == "POST" and e["path"] == "/configapi/v2/user"]
    assert len(creates) == 1
    assert r.status == "changed"
    assert r.changed[0].startswith("created user 'api.sms' (inferred: Create User answered no answer")


def test_a_refused_create_is_not_retried_and_nothing_is_claimed(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="status", status=503, method="POST", path_prefix="/configapi/v2/user")  # not processed
    r = run("02_define_user", env)
    creates = [e for e in console.requests() if e["method"] == "POST" and e["path"] == "/configapi/v2/user"]
    assert len(creates) == 1
    assert r.status == "failed"
    assert r.summary == ("user creation failed: Create User answered HTTP 503 (emulator fault: HTTP 503) and Get User "
                         "still answers HTTP 404, so nothing was created")
    assert r.changed == []


def test_dry_run_changes_nothing(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    before = console.tenant_state()
    results = run_all(env, practice_mode=True, dry_run=True, smoke_test=True)
    after = console.tenant_state()
    assert {**before, "active_tokens": None} == {**after, "active_tokens": None}  # tokens are issued, nothing else
    assert results["02_define_user"].summary.startswith("dry run: would create")
    assert results["03_api_secret"].summary.startswith("dry run: would generate the API secret of 'api.sms'")
    assert results["05_chat_service"].summary.startswith("dry run: would set +16502505674 as an outbound chat account")
    assert results["06_smoke_test"].status == "skipped"
    assert after["messages"] == []


def test_a_dry_run_in_practice_mode_never_generates_the_admins_secret(env, admin):
    """Practice mode generates a missing admin secret through the console: it replaces the admin's current
    one, a change a dry run never makes (the old secret keeps working)."""
    results = run_all(env, practice_mode=True, dry_run=True)
    assert any("a run would generate the API secret of the admin user 'admin'" in n
               for n in results["02_define_user"].notes)
    assert admin.tokens.request_token().token_type == "Bearer"  # the secret it had still works


def test_rejected_admin_secret_makes_admin_steps_guided(env):
    env["BP_ADMIN_SECRET"] = "R" * 20
    for step in ("02_define_user", "05_chat_service"):
        r = run(step, env)
        assert r.status == "action-required", step
        assert any("admin user's secret (environment variable BP_ADMIN_SECRET) was rejected" in n for n in r.notes)
        assert "R" * 20 not in str(r.to_dict())


def test_an_admin_token_request_without_verdict_fails_the_admin_steps(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="status", status=502, method="POST", path_prefix="/configapi/v2/oauth/token", count=40)
    for step in ("02_define_user", "05_chat_service"):
        r = run(step, env)
        assert (r.status, r.summary) == ("failed", "could not verify: the admin user's token request answered "
                                                   "HTTP 502: emulator fault: HTTP 502, which proves nothing"), step


# ------------------------------------------------------------------ step 05
def test_number_checks(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    voice = run("05_chat_service", env, access_number="+14155550101")
    assert (voice.status, voice.summary) == ("action-required", "+14155550101 cannot send texts: the tenant lists it for "
                                                          "voice only")
    assert voice.observed["media"] == "voice"
    unknown = run("05_chat_service", env, access_number="+14155550199")
    assert unknown.summary == "+14155550199 is not one of this tenant's access numbers"
    console._call("PUT", f"/tenants/{SCOPE}/services/Other Chat", json={"outboundChatAccounts": [SMS_NUMBER]})
    other = run("05_chat_service", env)
    assert other.status == "action-required"
    assert "configured for another service: Other Chat" in " ".join(other.notes)


def test_a_text_out_number_without_a_service_name_is_not_assumed_configured(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="answer", method="GET", path_prefix="/configapi/v2/phone/ext",
                  body=[{"number": "16502505674", "media": "text", "type": "text-out"}])
    r = run("05_chat_service", env)
    assert (r.status, r.summary) == ("action-required", "+16502505674 is set up for outgoing texts, but the tenant names "
                                                        "no chat service using it: check in the admin UI that 'SMS Chat' "
                                                        "lists it")
    assert r.observed["type"] == "text-out" and r.observed["textOutService"] == "(none)"


@pytest.mark.parametrize("destination,summary", [
    ("+15005550001", "test message failed: 30003 Unreachable destination handset (queued -> failed)"),
    ("+15005550007", "no delivery confirmation within 1 s (last status: queued)"),
])
def test_smoke_test_failures(env, destination, summary):
    run_all(env, practice_mode=True)
    r = run("06_smoke_test", env, practice_mode=True, smoke_test=True, test_destination=destination,
            smoke_timeout=1, poll_interval=0.5)
    assert (r.status, r.summary) == ("failed", summary)
    assert r.evidence["timeline"][0]["status"] == "queued"


# ------------------------------------------------------------------ step 00 and the target
def test_unreachable_tenant_fails_preflight(env):
    env["BP_EMULATOR_URL"] = "http://127.0.0.1:9"
    r = run("00_preflight", env, connect_timeout=0.5)
    assert r.status == "failed"
    assert r.summary == ("the tenant does not answer at http://127.0.0.1:9: could not connect to 127.0.0.1:9 "
                         "(is the emulator running? `make emulator` starts it)")


def test_an_address_without_a_token_endpoint_fails_preflight(env, console):
    console.fault(kind="answer", status=404, body="<h1>Not Found</h1>", content_type="text/html",
                  path_prefix="/configapi/v2/oauth/token")
    r = run("00_preflight", env, admin_user="")
    assert r.status == "failed"
    assert r.summary.endswith("answers, but there is no token endpoint at this address: it is not a Bright Pattern "
                              "tenant's address")
    assert r.evidence["token endpoint"] == "answers: HTTP 404 to a request without credentials"


def test_an_address_that_answers_200_to_a_token_request_without_credentials_fails_preflight(env, console):
    console.fault(kind="answer", status=200, body="<html>welcome</html>", content_type="text/html",
                  path_prefix="/configapi/v2/oauth/token", method="POST", count=3)
    r = run("00_preflight", env, admin_user="")
    # The headline says what was seen, as the evidence does: a 200, without a token.
    assert (r.status, r.summary.split(" answers ", 1)[1]) == (
        "failed", "a token request without credentials, but not as a token endpoint does: a web page or a catch-all "
                  "answers there, not Bright Pattern")
    assert r.evidence["token endpoint"] == "answers: HTTP 200 to a request without credentials"


def test_preflight_does_not_pass_a_secret_it_could_not_check(env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="status", status=400, path_prefix="/configapi/v2/oauth/token", method="POST", count=1)
    console.fault(kind="status", status=500, path_prefix="/configapi/v2/oauth/token", method="POST", count=8)
    r = run("00_preflight", env)  # the first request (no credentials) 400, the admin's token request 500
    assert r.status == "failed", r.summary
    assert r.summary.startswith("could not verify: the token request with the admin's secret answered HTTP 500")
    assert r.actions[0].startswith("Nothing was concluded")


def test_preflight_says_whether_the_target_answers_as_the_emulator(env, console):
    r = run("00_preflight", env, admin_user="")
    assert r.summary.startswith("the local emulator answers at")
    assert r.observed["target"]["answers as"] == "the local emulator"
    console.fault(kind="answer", status=404, body="no console here", content_type="text/plain",
                  path_prefix="/_emulator", count=1)  # faults never touch the console: still the emulator
    assert run("00_preflight", env, admin_user="").observed["target"]["answers as"] == "the local emulator"


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
    monkeypatch.setitem(steps.STEPS, "04_access_token", dataclasses.replace(steps.STEPS["04_access_token"], run=boom))
    r = run("04_access_token", env)
    assert r.status == "failed" and r.summary == "unexpected RuntimeError: boom with [redacted]"


@pytest.mark.parametrize("drift,step,expected", [
    ("privilege removed", "04_access_token", "the SMS/MMS API refuses the API user's token: none of"),
    ("secret revoked", "03_api_secret", "is refused: the user 'api.sms' exists and is enabled"),
    ("user disabled", "02_define_user", "but is disabled"),
    ("number reassigned", "05_chat_service", "not of 'SMS Chat'"),
])
def test_a_scheduled_run_catches_drift(ready, console, drift, step, expected):
    assert {r.status for r in run_all(ready).values()} == {"ok", "skipped"}
    if drift == "privilege removed":
        console.grant(SMS_ROLE, granted=False)
    elif drift == "secret revoked":
        console.revoke_secret(API_USER)
    elif drift == "user disabled":
        console.disable(API_USER)
    else:
        console.set_outbound("SMS Chat", [])
        console.set_outbound("Maintenance renewal SMS", ["14151234567", SMS_NUMBER])
    results = run_all(ready)
    assert results[step].status == "action-required", results[step]
    assert expected in results[step].summary
    assert "failed" not in {r.status for r in results.values()}


# ------------------------------------------------------------------ step 06: never a second text by accident
@pytest.fixture
def sending(ready, tmp_path):
    ready["BP_RUNBOOK_PENDING_SENDS"] = str(tmp_path / "pending-sends")
    return ready


def ledger(env) -> Path:
    from helpers.steps.sends import ledger_path
    return ledger_path(SCOPE, env["BP_EMULATOR_URL"], env)


def messages(console) -> list[dict]:
    return console.tenant_state()["messages"]


@pytest.mark.parametrize("fault,stored", [
    ({"kind": "drop"}, 1),                                            # processed, then the line drops
    ({"kind": "status", "status": 503}, 0),                           # a 5xx: nobody knows
    ({"kind": "answer", "status": 200, "body": "<html>ok</html>", "content_type": "text/html"}, 0),  # unreadable 200
    ({"kind": "answer", "status": 200, "body": {"status": "queued"}}, 0),  # a 200 naming no message
    ({"kind": "latency", "seconds": 1.0}, 1),                         # processed after the client gave up
])
def test_a_text_that_may_have_gone_out_is_never_sent_again(sending, console, tmp_path, fault, stored):
    console.fault(method="POST", path_prefix="/clientweb/smsapi/v1/Messages", **fault)
    first = run("06_smoke_test", sending, smoke_test=True, read_timeout=0.3)
    assert first.status == "failed", first.summary
    assert first.summary.startswith("the test message may have been sent: Send Message answered ")
    assert first.summary.endswith("; it was not sent again")
    assert "may have been sent" in first.evidence
    # The emulator may still be working on a request the client gave up on: wait for it to finish.
    settled(lambda: len([e for e in console.requests() if e["method"] == "POST" and e["path"].endswith("/Messages")]) == 1)
    assert len(messages(console)) == stored
    entry = json.loads(ledger(sending).read_text())
    assert entry["sid"] is None and entry["to"] == "+15551234567"

    second = run("06_smoke_test", sending, smoke_test=True)
    assert second.status == "action-required"
    assert "its fate is unknown, so no new text was sent" in second.summary
    assert any("--resend-unconfirmed" in a for a in second.actions)
    assert len(messages(console)) == stored

    third = run("06_smoke_test", sending, smoke_test=True, resend_unconfirmed=True)
    assert third.status == "ok" and len(messages(console)) == stored + 1
    assert not ledger(sending).exists()


def test_a_known_sid_is_looked_up_before_the_next_text(sending, console, tmp_path):
    ledger(sending).parent.mkdir(parents=True)
    ledger(sending).write_text(json.dumps({"sid": None, "to": "+15551234567", "at": "t"}))
    run("06_smoke_test", sending, smoke_test=True, resend_unconfirmed=True)
    sid = messages(console)[0]["sid"]
    ledger(sending).write_text(json.dumps({"sid": sid, "to": "+15551234567", "at": "t",
                                                            "answer": "sent, status queued"}))
    r = run("06_smoke_test", sending, smoke_test=True)
    assert r.status == "ok"
    assert r.evidence["earlier text"] == f"sid {sid}: delivered (Get Message)"
    assert len(messages(console)) == 2


def test_sent_is_never_counted_as_delivered(sending):
    r = run("06_smoke_test", sending, smoke_test=True, test_destination="+15005550006", smoke_timeout=1,
            poll_interval=0.5)
    assert (r.status, r.summary) == ("failed", "no delivery confirmation within 1 s (last status: sent; queued -> sent)")


def test_a_refused_send_says_nothing_was_sent(sending, console, tmp_path):
    console.set_outbound("SMS Chat", [])
    r = run("06_smoke_test", sending, smoke_test=True)
    assert r.status == "action-required"
    assert r.summary.startswith("the tenant refused the test message (HTTP 400: From")
    assert r.summary.endswith("nothing was sent")
    assert not ledger(sending).exists()


def test_a_failing_token_request_is_no_doubt_about_a_text(sending, console, tmp_path):
    console.fault(kind="status", status=503, method="POST", path_prefix="/configapi/v2/oauth/token", count=40)
    r = run("06_smoke_test", sending, smoke_test=True)
    assert r.status == "failed"
    assert r.summary.startswith("no token for 'api.sms' (HTTP 503") and r.summary.endswith("nothing was sent")
    assert not ledger(sending).exists()
    assert messages(console) == []


def test_preflight_says_when_a_secret_is_refused_so_the_form_can_forget_it(env, console):
    env.update(BP_API_SECRET="W" * 64, BP_ADMIN_SECRET="X" * 64)
    r = run("00_preflight", env)
    assert r.status == "action-required"
    assert r.summary.endswith("but the API user's secret and the admin's secret are refused")
    assert (r.observed["secret accepted"], r.observed["admin secret accepted"]) == (False, False)
    assert "02_define_user" in r.evidence["plan"] and r.evidence["plan"]["02_define_user"].startswith("guided")


def test_step_02_without_admin_credentials_does_not_guess_when_the_tenant_fails(ready, console):
    console.fault(kind="status", status=500, method="GET", path_prefix=PROBE, count=8)
    r = run("02_define_user", ready, admin_user="")
    assert (r.status, r.summary) == ("failed", "could not verify: the tenant answered HTTP 500: emulator fault: "
                                               "HTTP 500")


def test_a_probe_answer_that_is_not_json_is_said_so(ready, console):
    console.fault(kind="answer", status=404, body="Not Found", content_type="text/plain", path_prefix=PROBE, count=8)
    r = run("01_grant_privilege", ready)
    assert r.status == "ok"
    assert any("The answer was not JSON (text/plain)" in n for n in r.notes)


def test_a_long_login_id_is_recorded_as_itself_never_as_a_token(env):
    """40 letters and digits look like a token to the scrubber, but the parameters gave them: the record
    names the user it created or checked (issue 16)."""
    login = "apisms" + "0123456789abcdefghij0123456789abcd"
    result = run("00_preflight", env, api_user=login)
    assert result.observed["parameters"]["api_user"] == login
    assert "[REDACTED]" not in str(result.observed["parameters"])
