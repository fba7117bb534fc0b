"""03: the API user's secret (the OAuth client_secret) works. Admin UI only (Generate); the secret
reaches the runbook through the form's Password field or BP_API_SECRET, never as a parameter."""

from __future__ import annotations

from helpers.steps import findings, instructions
from helpers.steps.checks import ISSUED, REJECTED
from helpers.steps.context import SECRET_ACCEPTED, StepContext
from helpers.steps.declaration import ADMIN_CONFIGURATION, COMMON, TOKEN, Page, Row, Step, admin_ui
from helpers.steps.diagnosis import rejected_api_secret, token_contradiction
from helpers.steps.results import ACTION_REQUIRED, CHANGED, FAILED, OK, StepResult
from helpers.tenant.practice import LABEL


def api_secret(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    secret = ctx.secrets.get("api")
    r.observed["secret available"] = secret is not None
    if secret is not None:
        r.observed["source"] = secret.source
        check = ctx.check_secret("api", p.api_user, secret)
        r.observed[SECRET_ACCEPTED["api"]] = ctx.secrets_accepted.get("api")
        findings.observe(r, "token request with the API secret", check.verdict)
        if check.verdict == ISSUED:
            r.evidence["token request"] = f"a token was issued to '{p.api_user}'"
            contradiction = token_contradiction(ctx)
            if contradiction is not None:
                r.evidence.update(contradiction.evidence)
                r.actions = contradiction.actions
                return r.finish(ACTION_REQUIRED, f"the API secret of '{p.api_user}' works, but {contradiction.cause}")
            return r.finish(OK, f"the API secret of '{p.api_user}' works: a token was issued")
        if check.verdict != REJECTED:
            r.evidence["token request"] = f"no verdict: {check.said}"
            return instructions.finish_unverified(r, f"the token request answered {check.said}",
                                                  f"could not verify the API secret: the token request answered {check.said}")
        r.evidence["token request"] = f"refused: {check.said}"
        if not p.practice_mode or p.dry_run:
            diagnosis = rejected_api_secret(ctx, check)
            r.evidence.update(diagnosis.evidence)
            r.actions = diagnosis.actions
            return r.finish(ACTION_REQUIRED, f"the API secret of '{p.api_user}' is refused: {diagnosis.cause}")
    if p.practice_mode and p.dry_run:
        r.actions = instructions.api_secret(p)
        return r.finish(ACTION_REQUIRED, f"dry run: would generate the API secret of '{p.api_user}' through the "
                                         "emulator's console (practice)")
    if not p.practice_mode:
        r.actions = instructions.api_secret(p)
        return r.finish(ACTION_REQUIRED, f"no API secret for '{p.api_user}' yet: generate it in the admin UI "
                                         "and hand it over through the form or the environment")
    generated = ctx.console().generate_api_secret(p.api_user)
    stored = ctx.secrets.remember("api", generated.reveal())
    r.changed.append(f"{LABEL} generated the API secret of '{p.api_user}' (handed over through the private handoff file)")
    check = ctx.token_check(ctx.client(p.api_user, stored))
    findings.observe(r, "token request with the API secret", check.verdict)
    if check.verdict != ISSUED:
        return r.finish(FAILED, f"the secret generated through the console is not accepted ({check.said})")
    r.evidence["token request"] = f"a token was issued to '{p.api_user}' with the new secret"
    return r.finish(CHANGED, f"generated the API secret of '{p.api_user}' (practice) and verified it with a token request")


STEP = Step(
    id="03_api_secret",
    title="Generate and hand over the user's API secret (client_secret)",
    run=api_secret,
    parameters=COMMON + ("api_user", "admin_user"),
    form_secrets=("api",),
    page=Page(
        why="The user's API secret is the OAuth `client_secret`: the external application's credential.",
        admin="Users & Teams > Users > the user > Properties > API secret > **Generate**, then copy the value: it is "
              "shown once. Paste it into this notebook's form (**API secret** field) or set `BP_API_SECRET`. It is "
              "never a parameter.",
        checks="A token request with the secret. The form keeps the secret in a private file (mode 0600, outside "
               "`outputs/`) so the next notebooks find it, and clears the field at once; a secret the tenant refuses "
               "is not kept. If it is refused, the notebook looks at why: a user that does not exist, is disabled or "
               "locked out (step 02), or a secret that is wrong or was replaced.",
        good="`ok`: a token was issued with the secret.",
        docs=(ADMIN_CONFIGURATION, TOKEN),
    ),
    who_acts="admin UI, then verified",
    row=Row(
        step="the user's API secret",
        acts="**admin UI only** (Generate); handed over through the form's Password field or `BP_API_SECRET`",
        verified="a token request with it; a refused secret is diagnosed (missing, disabled or locked-out user: step "
                 "02) and, from the form, not kept",
        reads="a token request with the API secret; when it is refused, Get User and Get User Lock State (admin)",
        writes="nothing (practice mode: generates the secret through the emulator's console)",
    ),
    plan=lambda p, admin: f"{admin_ui(p)}; verified by a token request",
)
