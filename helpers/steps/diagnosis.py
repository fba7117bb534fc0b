"""Diagnoses that look across steps: why the API user's secret is rejected, and whether the
tenant's answers contradict each other. Both need the admin's view of the API user (Get User)."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.steps import instructions
from helpers.steps.checks import ABSENT, FOUND, TokenCheck, UserLookup, look_up_user
from helpers.steps.context import StepContext


@dataclass
class Diagnosis:
    cause: str                                    # one clause for the summary
    actions: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)


def api_user_lookup(ctx: StepContext) -> UserLookup | None:
    """Get User of the API user with the admin's token (once per step); None without admin access."""
    if "api user lookup" not in ctx.memo:
        admin = ctx.admin()
        ctx.memo["api user lookup"] = look_up_user(admin.client, ctx.params.api_user) if admin.client else None
    return ctx.memo["api user lookup"]


def rejected_api_secret(ctx: StepContext, check: TokenCheck) -> Diagnosis:
    """The token endpoint refused the API user's secret: say the real cause when it can be seen."""
    p = ctx.params
    lookup = api_user_lookup(ctx)
    generate = instructions.api_secret(p)
    if lookup is None:
        return Diagnosis(f"the secret may be wrong or replaced, or the user may be missing, disabled or locked out "
                         f"({ctx.admin().why}, so the user cannot be looked up)",
                         generate + [f"If the user '{p.api_user}' does not exist or is disabled or locked out, "
                                     "a new secret will not help: see step 02."])
    evidence = {"Get User": lookup.said if lookup.request == "Get User" else f"{lookup.by}: {lookup.said}"}
    if lookup.verdict == ABSENT:
        return Diagnosis(f"the user '{p.api_user}' does not exist (the tenant has no such user), so no secret can work; "
                         "complete step 02 first", ["Complete step 02 (define the user), then step 03 again."]
                         + instructions.define_user(p, exists=False)[:2], evidence)
    if lookup.verdict == FOUND:
        evidence["user state"] = lookup.state_words()
        if lookup.user.disabled:
            return Diagnosis(f"the user '{p.api_user}' is disabled", instructions.user_state(p, "disabled"),
                             evidence)
        if lookup.locked:
            return Diagnosis(f"the user '{p.api_user}' is locked out",
                             instructions.user_state(p, "locked out"), evidence)
        return Diagnosis(f"the user '{p.api_user}' exists and is {lookup.state_words()}, so the secret itself is "
                         "wrong or was replaced by a newer one: generate a new one", generate, evidence)
    return Diagnosis(f"the cause cannot be seen: {lookup.by} answered {lookup.said}",
                     generate + ["If a new secret is rejected too, check the user in step 02."], evidence)


def token_contradiction(ctx: StepContext) -> Diagnosis | None:
    """A token was issued to the API user: does Get User report that user disabled, locked out or
    as somebody else? The two answers then contradict each other, and a person must look."""
    lookup = api_user_lookup(ctx)
    if lookup is None:
        return None
    p = ctx.params
    if lookup.verdict == FOUND:
        what = "disabled" if lookup.user.disabled else "locked out" if lookup.locked else None
        if what:
            return Diagnosis(f"a token was issued to '{p.api_user}' although Get User reports it {what}",
                             instructions.check_token_contradiction(p, what), {"Get User": lookup.state_words()})
    elif lookup.verdict in ("mismatch", ABSENT):
        return Diagnosis(f"a token was issued to '{p.api_user}' although Get User answered {lookup.said}",
                         instructions.check_token_contradiction(p, "the user the runbook means"),
                         {"Get User": lookup.said})
    return None
