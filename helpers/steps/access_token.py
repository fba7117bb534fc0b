"""04: what the external application will do: request a token with the API user's credentials,
then use it on the SMS/MMS API. It proves only what the two answers show, and names the earlier
steps of this run whose claims they confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers.steps.context import StepContext
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
