"""04: what the external application will do: request a token with the API user's credentials,
then use it on the SMS/MMS API. It proves only what the two answers show, and names the earlier
steps of this run whose claims they confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers.steps import findings
from helpers.steps.context import StepContext
from helpers.steps.declaration import COMMON, SMS_POSTMAN, TOKEN, Page, Row, Step
from helpers.steps.privilege import (
    earlier_refusal,
    finish_not_accepted,
    probe_with_api_token,
    record_accepted,
    refusal_words,
)
from helpers.steps.results import ACTION_REQUIRED, OK, StepResult

GOOD = ("ok", "changed")


def access_token(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    tp = probe_with_api_token(ctx)
    if tp.check is None:
        r.actions = ["Complete step 03 (hand over the API secret), then re-run this notebook."]
        return r.finish(ACTION_REQUIRED, f"no API secret for '{p.api_user}': the token cannot be requested (step 03)")
    if tp.check.token is not None:
        token = tp.check.token
        expires = datetime.now(UTC) + timedelta(seconds=token.expires_in)
        r.evidence.update({"token type": token.token_type, "expires in": f"{token.expires_in} s",
                           "expires at (UTC)": expires.strftime("%Y-%m-%d %H:%M:%S"),
                           "token fingerprint": token.fingerprint,
                           "request": f"POST /configapi/v2/oauth/token, grant_type=client_credentials, "
                                      f"client_id={p.api_user}, scope={p.effective_scope}"})
        findings.observe(r, "token type", token.token_type)
        findings.observe(r, "token lifetime (s)", token.expires_in)
        if token.scope and token.scope != p.effective_scope:
            r.evidence["scope echoed"] = token.scope
            r.notes.append(f"The token answer echoes the scope '{token.scope}', not '{p.effective_scope}' "
                           "(Bright Pattern's published sample does this too); the token was accepted regardless.")
    if not tp.accepted:
        return finish_not_accepted(ctx, r, tp, deferred="")
    contradiction = record_accepted(ctx, r, tp)
    token = tp.check.token
    head = f"the API user gets a token (valid {token.expires_in} s) and the SMS/MMS API accepts it"
    if contradiction:
        return r.finish(ACTION_REQUIRED, f"{head}, but {contradiction}")
    refused = earlier_refusal(ctx)
    if refused is not None and ctx.session()[0] == "run":  # seconds apart, in one run: the answers disagree
        step, found = refused
        r.evidence[f"step {step[:2]}'s probe"] = found["answer"]
        r.actions = [f"Re-run the runbook: in this run the SMS/MMS API refused the API user's token in step {step[:2]} "
                     f"({found['answer']}) and accepted it in step 04 ({tp.probe.evidence}).",
                     "If the answers keep disagreeing, send the run's report (summary.html) to your service provider."]
        return r.finish(ACTION_REQUIRED, f"the tenant's answers contradict each other: the SMS/MMS API accepts the API "
                                         f"user's token now, but {refusal_words(step, found)} earlier in this run")
    return r.finish(OK, f"{head}; {_confirmed(ctx, r, tp)}")


def _confirmed(ctx: StepContext, r: StepResult, tp) -> str:
    """Which earlier steps of this run (or lab session) the token's acceptance verifies: those that
    ended ok or changed, and step 01 when it could not verify yet (no API secret) or, in the lab,
    found the privilege missing before a person granted it. The token proves 03's claim (the secret
    works: the token endpoint refuses requests without credentials) and the effect 01 and 02 aim at
    (a user whose role holds the privilege). Each is recorded in observed["verifies"]."""
    kind, steps = ctx.session()
    if kind is None:
        return "no earlier step ran in this run or lab session, so it confirms no other step"
    where = "of this run" if kind == "run" else "of this lab session"
    earlier = {s: e for s, e in steps.items() if s < ctx.step_id}
    verified, others = {}, []
    for step in ("01_grant_privilege", "02_define_user", "03_api_secret"):
        if step not in earlier:
            continue
        status, probe = earlier[step].get("status"), (earlier[step].get("findings") or {}).get(findings.PROBE, {})
        if status in GOOD:
            verified[step] = f"{WHAT[step]}: {tp.probe.evidence}"
        elif step == "01_grant_privilege" and probe.get("verdict") == "no-secret":
            verified[step] = f"{WHAT[step]} (step 01 could not verify it yet: no API secret): {tp.probe.evidence}"
        elif step == "01_grant_privilege" and kind == "lab" and probe.get("verdict") == "no-privilege":
            verified[step] = (f"{WHAT[step]} (step 01 found it missing, {probe.get('answer')}; granted since): "
                              f"{tp.probe.evidence}")
        else:
            others.append(f"{step[:2]} is {status}")
    if verified:
        r.observed["verifies"] = verified
    text = (f"this verifies end to end steps {', '.join(s[:2] for s in verified)} {where}" if verified
            else f"no earlier step {where} is verified by it")
    return text + (f" (not counted: {'; '.join(others)})" if others else "")


WHAT = {"01_grant_privilege": "a role of the API user holds 'Use SMS/MMS API' (the SMS/MMS API accepts its token)",
        "02_define_user": "the API user exists and gets a token the SMS/MMS API accepts",
        "03_api_secret": "the API secret gets a token (the token endpoint refuses requests without credentials)"}


STEP = Step(
    id="04_access_token",
    title="Request an access token and prove it carries the privilege",
    run=access_token,
    parameters=COMMON + ("role", "api_user", "admin_user"),
    page=Page(
        why="This is what the external application will do: request a token, then use it on the SMS/MMS API.",
        admin=None,
        checks="`POST /configapi/v2/oauth/token` with `grant_type=client_credentials`, `client_id` = the user's login "
               "ID, `client_secret` = the API secret, `scope` = the tenant host; the token's type, lifetime and a "
               "masked fingerprint are shown, never the token. Then the token is used on the SMS/MMS API (the probe "
               "of step 01). In a runbook run (or a lab session: the pages you ran by hand), the result names the earlier "
               "steps this verifies end to end: those that ended `ok` or `changed`, and step 01 when it could not verify "
               "yet; never one that ended otherwise. A refusal earlier in the same run is a contradiction, named.",
        good="`ok`: a Bearer token was issued and the SMS/MMS API accepts it.",
        docs=(TOKEN, SMS_POSTMAN),
    ),
    who_acts="automated",
    row=Row(
        step="the token the application will use",
        acts="`POST /configapi/v2/oauth/token`, client credentials",
        verified="type, lifetime and a masked fingerprint (never the token); the SMS/MMS API accepts it; it names the "
                 "earlier steps of this run it verifies end to end (step 01 too when it could not verify yet; the "
                 "record marks it verified later), never one that ended otherwise",
        reads="the API user's token request; Get Message of a made-up id",
        writes="nothing",
    ),
    plan=lambda p, admin: "automated: requests a token and probes the SMS/MMS API with it",
)
