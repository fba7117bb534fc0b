"""Verdicts that agree across the whole run (issue 15): each step reads what earlier steps of the run
(the runner's run-context file) or of the lab session (the pages' lab file) observed, and claims
nothing an earlier observation put in doubt; each answer is blamed on the request that got it.

Against the emulator over HTTP, with canned answers standing in for a tenant that answers
Bright Pattern's documented samples verbatim (tests/samples) or consistently refuses the probe."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest

from helpers.steps import findings
from helpers.steps.checks import UNVERIFIED, look_up_user
from helpers.steps.params import validate
from tests.support import API_USER, SMS_ROLE
from tests.support import step_result as run

PROBE = "/clientweb/smsapi/v1/Messages/runbook-probe"
TOKEN = "/configapi/v2/oauth/token"
SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict:
    return json.loads(SAMPLES.joinpath(name).read_text(encoding="utf-8"))






def in_lab(result, env) -> None:
    """What a page run by hand records (helpers.notebook.page.in_lab) for the pages after it."""
    with mock.patch.dict(os.environ, env):  # "emulator" resolves to the emulator's address here
        findings.record_in_lab(result, validate({}), env)


def as_run(tmp_path, env, *results) -> dict:
    """The environment of a later step of a runner run whose earlier steps gave `results`."""
    context = tmp_path / "run-context.json"
    context.write_text(json.dumps(findings.run_context([r.to_dict() for r in results])), encoding="utf-8")
    return {**env, "BP_RUNBOOK_RUN_CONTEXT": str(context)}






def sent(console) -> list:
    return console.tenant_state()["messages"]


# ------------------------------------------------------------------ step 06 and a token the run found wanting
@pytest.mark.parametrize("status,words", [(403, "no role of the user holds the privilege"),
                                          (401, "it rejected the token as not valid")])
def test_no_text_is_sent_with_a_token_the_run_found_refused(ready, console, tmp_path, status, words):
    # A consistent stand-in: the probe is refused, yet Send Message would deliver (it does, below).
    console.fault(kind="answer", status=status, body={"error": "refused"}, path_prefix=PROBE, count=20)
    r04 = run("04_access_token", ready)
    assert r04.status == "action-required"
    assert r04.observed["findings"][findings.PROBE]["verdict"] in ("no-privilege", "token-refused")
    r06 = run("06_smoke_test", as_run(tmp_path, ready, r04), smoke_test=True)
    assert r06.status == "action-required", r06.summary
    assert r06.summary.startswith(f"not sent: step 04 found the SMS/MMS API refusing the API user's token ({words})")
    assert r06.evidence["step 04's probe"] == f"HTTP {status} (application/json) to Get Message of a made-up id"
    assert sent(console) == []
    # The same stand-in delivers a text sent without that knowledge: what the run must not report as ok.
    alone = run("06_smoke_test", ready, smoke_test=True)
    assert alone.status == "ok" and len(sent(console)) == 1


def test_in_one_run_a_refused_then_accepted_token_is_a_contradiction_naming_both(ready, console, tmp_path):
    console.fault(kind="answer", status=403, body={"error": "refused"}, path_prefix=PROBE, count=2)
    r01 = run("01_grant_privilege", ready)
    assert r01.status == "action-required"
    console._call("DELETE", "/faults")
    r04 = run("04_access_token", as_run(tmp_path, ready, r01))
    assert r04.status == "action-required"
    assert r04.summary == ("the tenant's answers contradict each other: the SMS/MMS API accepts the API user's token "
                           "now, but step 01 found the SMS/MMS API refusing the API user's token (no role of the user "
                           "holds the privilege) earlier in this run")
    # Both answers, word for word, in the evidence.
    assert r04.evidence["step 01's probe"] == "HTTP 403 (application/json) to Get Message of a made-up id"
    assert r04.evidence["SMS/MMS API probe"] == "accepted: HTTP 404 (application/json) to Get Message of a made-up id"


# ------------------------------------------------------------------ a token endpoint that proves nothing
def test_a_token_endpoint_issuing_tokens_without_credentials_proves_no_secret(ready, console, tmp_path):
    # Bright Pattern's published token answer (S1), given verbatim to every token request.
    published = sample("S1-get-access-token.json")["response"]
    console.fault(kind="answer", status=200, body=published["body"], path_prefix=TOKEN, method="POST", count=500)
    r00 = run("00_preflight", ready)
    assert (r00.status, r00.summary.split(": ", 1)[1]) == (
        "failed", "this is not a Bright Pattern tenant, or something answers in its place")
    assert r00.summary.startswith("the token endpoint at ") and "issues tokens without asking for credentials" in \
        r00.summary
    assert r00.evidence["token endpoint"].startswith("answers: HTTP 200 to a request without credentials")
    later = as_run(tmp_path, ready, r00)
    for step in ("01_grant_privilege", "02_define_user", "03_api_secret", "04_access_token"):
        r = run(step, later)
        assert r.status != "ok", (step, r.summary)
        assert "works" not in r.summary and "verifies" not in r.summary, (step, r.summary)
    r03 = run("03_api_secret", later)
    assert r03.summary.startswith("could not verify the API secret: the token request answered HTTP 200: a token was "
                                  "issued, but the token endpoint issues tokens without credentials too (step 00")
    # Run on its own (no step 00 in the run), step 03 asks the token endpoint itself.
    assert run("03_api_secret", ready).summary.startswith("could not verify the API secret")


# ------------------------------------------------------------------ Bright Pattern's samples, verbatim
@pytest.mark.parametrize("repaired", [False, True])
def test_get_user_answering_the_published_user_leaves_no_step_ok(ready, console, repaired):
    # Verbatim, the published Get User Data answer is not valid JSON (a comma is missing after roles).
    published = sample("C3-get-user-data.json")["response"]["body"]
    if repaired:
        published = published.replace('"roles":["Agent"]\n', '"roles":["Agent"],\n')
        assert json.loads(published)["loginId"] == "frank.zappa"
    console.fault(kind="answer", status=200, body=published, path_prefix=f"/configapi/v2/user/{API_USER}", count=500)
    for step in ("01_grant_privilege", "02_define_user", "03_api_secret", "04_access_token"):
        r = run(step, ready)
        assert r.status == "action-required", (step, r.summary)
        assert "frank.zappa" in r.summary or "frank.zappa" in json.dumps(r.evidence), step


@pytest.mark.parametrize("body,said", [
    ({"error": "insufficient_privilege", "error_description": "Use SMS/MMS API"}, "an error in a HTTP 200 body (error:"),
    ({"status": 403, "message": "Forbidden"}, "an error in a HTTP 200 body (status: 403)"),
    ({}, "the JSON body names no message"),
])
def test_a_2xx_error_envelope_is_no_acceptance(ready, console, body, said):
    console.fault(kind="answer", status=200, body=body, path_prefix=PROBE, count=20)
    for step in ("01_grant_privilege", "04_access_token"):
        r = run(step, ready)
        assert r.status == "failed", (step, r.summary)
        assert said in r.summary and "accepts" not in r.summary, (step, r.summary)


# ------------------------------------------------------------------ each answer blamed on its request
@pytest.mark.parametrize("body", ["null", '{"access_token": "15490315E83E'])
def test_a_broken_token_answer_during_get_user_is_blamed_on_the_token_request(ready, console, admin, body):
    admin.tokens.token()  # the admin holds a token; Get User's 401 makes the client ask for a new one
    console.fault(kind="status", status=401, method="GET", path_prefix=f"/configapi/v2/user/{API_USER}", count=1)
    console.fault(kind="answer", status=200, body=body, path_prefix=TOKEN, method="POST", count=1)
    lookup = look_up_user(admin, API_USER)
    assert (lookup.verdict, lookup.request) == (UNVERIFIED, "the token request")
    assert lookup.by == "the admin's token request (made for Get User of 'api.sms')"


def test_a_broken_admin_token_answer_is_blamed_on_the_token_request(ready, console):
    console.fault(kind="answer", status=200, body="null", path_prefix=TOKEN, method="POST", count=1)
    r = run("02_define_user", ready)
    assert r.summary == ("could not verify: the admin user's token request answered HTTP 200: the token answer has no "
                         "access_token, which proves nothing")
    assert "Get User" not in r.summary


# ------------------------------------------------------------------ a later proof reaches back
def test_step_04_verifies_the_step_01_that_could_not_verify_yet(env, console, admin, admin_secret, tmp_path):
    r01 = run("01_grant_privilege", env, admin_user="")
    assert r01.summary == "done for now: step 04 verifies this once step 03 has the secret; go on to step 02"
    assert r01.observed["findings"][findings.PROBE]["verdict"] == "no-secret"
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    console.grant(SMS_ROLE)
    env["BP_API_SECRET"] = console.generate_secret(API_USER)
    r04 = run("04_access_token", as_run(tmp_path, env, r01), admin_user="")
    assert r04.status == "ok"
    assert r04.summary.endswith("this verifies end to end steps 01 of this run")
    assert r04.observed["verifies"]["01_grant_privilege"].startswith("a role of the API user holds 'Use SMS/MMS API'")


def test_in_the_lab_step_04_names_the_step_01_fixed_since(ready, console):
    console.fault(kind="answer", status=403, body={"error": "refused"}, path_prefix=PROBE, count=2)
    r01 = run("01_grant_privilege", ready)
    console._call("DELETE", "/faults")
    in_lab(r01, ready)
    r04 = run("04_access_token", ready)
    assert r04.status == "ok", r04.summary
    assert r04.summary.endswith("this verifies end to end steps 01 of this lab session")
    assert "granted since" in r04.observed["verifies"]["01_grant_privilege"]
    # In the lab the later acceptance settles the earlier refusal: step 06 sends.
    in_lab(r04, ready)
    assert run("06_smoke_test", ready, smoke_test=True).status == "ok"


def test_what_is_shared_holds_no_secret(ready, tmp_path):
    r = run("03_api_secret", ready)
    r.observed.setdefault("findings", {})["smuggled"] = {"verdict": ready["BP_API_SECRET"]}
    r.evidence["leak"] = ready["BP_API_SECRET"]
    shared = json.dumps(findings.run_context([r.to_dict()]))
    in_lab(r, ready)
    lab = findings.lab_path(ready)
    assert ready["BP_API_SECRET"] not in shared and ready["BP_API_SECRET"] not in lab.read_text()
    assert oct(lab.stat().st_mode & 0o777) == "0o600"


# ------------------------------------------------------------------ issue 16: scope note, polling
def test_preflight_notes_a_tenant_url_on_another_host_than_the_scope():
    from helpers.steps.preflight import _note_scope
    from helpers.steps.results import StepResult
    r = StepResult("00_preflight", "t")
    _note_scope(r, validate({"tenant_url": "https://a.example.com", "scope": "b.example.com"}))
    assert r.observed["address and scope"] == "tenant_url's host a.example.com is not the scope b.example.com"
    assert r.status == "ok" and r.notes and not r.actions  # a note, not a failure
    same = StepResult("00_preflight", "t")
    _note_scope(same, validate({"tenant_url": "https://B.example.com", "scope": "b.example.com."}))
    assert "address and scope" not in same.observed and not same.notes


def test_a_malformed_get_message_answer_is_read_again(ready, console):
    console.fault(kind="answer", status=200, body='{"sid": "cut', method="GET", path_prefix="/clientweb/smsapi/v1/Messages/",
                  count=2)
    r = run("06_smoke_test", ready, smoke_test=True)
    assert r.status == "ok", r.summary
    assert any("answered HTTP 200" in n and "read again" in n for n in r.notes)


def refresh_gets(console, body: str, passes: int) -> None:
    """The next `passes` token requests are answered normally, the one after that with `body`."""
    console.fault(kind="latency", seconds=0, path_prefix=TOKEN, method="POST", count=passes)
    console.fault(kind="answer", status=200, body=body, path_prefix=TOKEN, method="POST", count=1)


def test_get_user_answered_by_a_broken_token_refresh_blames_the_token_request(ready, console):
    refresh_gets(console, "null", passes=2)  # the admin's token, the request without credentials
    console.fault(kind="status", status=401, method="GET", path_prefix=f"/configapi/v2/user/{API_USER}", count=1)
    r = run("02_define_user", ready)
    assert r.summary == ("could not verify: the admin's token request (made for Get User of 'api.sms') answered HTTP "
                         "200: the token answer has no access_token"), r.summary


def test_a_probe_answered_by_a_broken_token_refresh_blames_the_token_request(ready, console):
    refresh_gets(console, '{"access_tok', passes=2)  # the API user's token, the request without credentials
    console.fault(kind="status", status=401, method="GET", path_prefix=PROBE, count=1)
    r = run("01_grant_privilege", ready)
    assert r.summary == ("could not verify: the token request (made for the probe) answered HTTP 200: the answer is "
                         "not JSON"), r.summary


def test_a_send_answered_by_a_broken_token_refresh_sent_nothing(ready, console):
    refresh_gets(console, "null", passes=1)  # the API user's token before the send
    console.fault(kind="status", status=401, method="POST", path_prefix="/clientweb/smsapi/v1/Messages", count=1)
    r = run("06_smoke_test", ready, smoke_test=True)
    assert (r.status, r.summary) == ("failed", "no token for 'api.sms': the token request answered HTTP 200 (the token "
                                               "answer has no access_token); Send Message was not processed, nothing "
                                               "was sent")
    assert sent(console) == [] and not list(Path(ready["BP_RUNBOOK_PENDING_SENDS"]).glob("*.json"))


def test_in_one_run_an_accepted_then_refused_token_names_both_answers(ready, console, tmp_path):
    r01 = run("01_grant_privilege", ready)
    assert r01.status == "ok"
    console.fault(kind="answer", status=403, body={"error": "refused"}, path_prefix=PROBE, count=2)
    r04 = run("04_access_token", as_run(tmp_path, ready, r01))
    assert r04.status == "action-required"
    assert r04.summary.endswith("; yet step 01 of this run found the token accepted: the tenant's answers contradict "
                                "each other")
    assert r04.summary.startswith("the SMS/MMS API refuses the API user's token: none of")
    assert r04.evidence["step 01's probe"] == "accepted: HTTP 404 (application/json) to Get Message of a made-up id"
    assert r04.evidence["SMS/MMS API probe"].startswith("refused: HTTP 403")
