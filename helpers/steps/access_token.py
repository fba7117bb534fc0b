"""04: what the external application will do: request a token with the API user's credentials,
then use it on the SMS/MMS API. It proves only what the two answers show, and names the earlier
steps of this run whose claims they confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers.steps.context import StepContext
from helpers.steps.declaration import COMMON, SMS_POSTMAN, TOKEN, Page, Row, Step
from helpers.steps.privilege import finish_not_accepted, probe_with_api_token, record_accepted
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
        if token.scope and token.scope != p.effective_scope:
            r.evidence["scope echoed"] = token.scope
            r.notes.append(f"The token answer echoes the scope '{token.scope}', not '{p.effective_scope}' "
                           "(Bright Pattern's published sample does this too); the token was accepted regardless.")
    if not tp.accepted:
        return finish_not_accepted(ctx, r, tp, deferred="")
    contradiction = record_accepted(ctx, r, tp)
    token = tp.check.token
    head = f"a {token.token_type} token valid {token.expires_in} s was issued and the SMS/MMS API accepts it " \
           f"({tp.probe.answer})"
    if contradiction:
        return r.finish(ACTION_REQUIRED, f"{head}, but {contradiction}")
    return r.finish(OK, f"{head}; {_confirmed(ctx)}")


def _confirmed(ctx: StepContext) -> str:
    """Which earlier steps of this run the token's acceptance confirms: only those that ended ok
    or changed. The token proves 03's claim (the secret works) and the effect 01 and 02 aim at
    (a user whose role holds the privilege)."""
    earlier = ctx.earlier()
    if earlier is None:
        return "run on its own: no earlier step of this run to name"
    confirmed = [s[:2] for s in ("01_grant_privilege", "02_define_user", "03_api_secret") if earlier.get(s) in GOOD]
    others = [f"{s[:2]} is {earlier[s]}" for s in ("01_grant_privilege", "02_define_user", "03_api_secret")
              if s in earlier and earlier[s] not in GOOD]
    text = (f"this verifies end to end steps {', '.join(confirmed)} of this run" if confirmed
            else "no earlier step of this run is verified by it")
    return text + (f" (not counted: {'; '.join(others)})" if others else "")


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
               "of step 01). In a runbook run, the result names the earlier steps this verifies end to end, never one "
               "that ended `action-required` or `failed`.",
        good="`ok`: a Bearer token was issued and the SMS/MMS API accepts it.",
        docs=(TOKEN, SMS_POSTMAN),
    ),
    who_acts="automated",
    row=Row(
        step="the token the application will use",
        acts="`POST /configapi/v2/oauth/token`, client credentials",
        verified="type, lifetime and a masked fingerprint (never the token); the SMS/MMS API accepts it; it names the "
                 "earlier steps of this run it verifies end to end, never one that ended `action-required` or "
                 "`failed`",
    ),
    plan=lambda p, admin: "automated: requests a token and probes the SMS/MMS API with it",
)
