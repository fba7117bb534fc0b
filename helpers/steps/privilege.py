"""The API user's token against the SMS/MMS API, shared by steps 01, 02 (without admin) and 04:
what each answer proves, and what a person does when it proves nothing good."""

from __future__ import annotations

from dataclasses import dataclass

from helpers.steps import findings, instructions
from helpers.steps.checks import (
    ACCEPTED,
    FOUND,
    ISSUED,
    NO_PRIVILEGE,
    REJECTED,
    TOKEN_REFUSED,
    Probe,
    TokenCheck,
    probe_sms_api,
)
from helpers.steps.context import StepContext
from helpers.steps.diagnosis import api_user_lookup, rejected_api_secret, token_contradiction
from helpers.steps.instructions import PRIVILEGE
from helpers.steps.results import ACTION_REQUIRED, StepResult


@dataclass
class TokenProbe:
    check: TokenCheck | None     # None: no API secret available
    probe: Probe | None = None   # None: no token was issued

    @property
    def accepted(self) -> bool:
        return self.probe is not None and self.probe.verdict == ACCEPTED


def probe_with_api_token(ctx: StepContext) -> TokenProbe:
    """The API user's token tried on the SMS/MMS API; the latest such probe of a step is its shared
    finding (helpers.steps.findings.PROBE), which run_step records."""
    secret = ctx.secrets.get("api")
    if secret is None:
        tp = TokenProbe(None)
    else:
        check = ctx.token_check(ctx.client(ctx.params.api_user, secret))
        tp = TokenProbe(check, probe_sms_api(check.client) if check.verdict == ISSUED else None)
    ctx.memo[findings.PROBE] = finding(tp)
    return tp


def finding(tp: TokenProbe) -> tuple[str, str]:
    """(verdict, answer) of a probe, as later steps read it."""
    if tp.check is None:
        return "no-secret", "no API secret yet"
    if tp.probe is None:
        return "no-token", f"{tp.check.said} to the token request"
    return tp.probe.verdict, tp.probe.evidence


def earlier_refusal(ctx: StepContext) -> tuple[str, dict] | None:
    """The latest probe of another step of this run or lab session, when it found the token refused
    or lacking the privilege: (step id, finding)."""
    found = ctx.findings(findings.PROBE)
    if found and found[-1][1]["verdict"] in (NO_PRIVILEGE, TOKEN_REFUSED):
        return found[-1]
    return None


def refusal_words(step: str, found: dict) -> str:
    what = "no role of the user holds the privilege" if found["verdict"] == NO_PRIVILEGE else "it rejected the token as not valid"
    return f"step {step[:2]} found the SMS/MMS API refusing the API user's token ({what})"


def record_accepted(ctx: StepContext, r: StepResult, tp: TokenProbe) -> str | None:
    """Evidence and inferences of an accepted probe. Returns a contradiction to report, if any."""
    p = ctx.params
    r.evidence["SMS/MMS API probe"] = f"accepted: {tp.probe.evidence}"
    if tp.probe.content_type != "application/json":
        r.notes.append(f"The answer was not JSON ({tp.probe.content_type or 'no content type'}): it may come from "
                       "something in front of the SMS/MMS API. The verdict follows its status only.")
    r.inferred.append(f"a role of '{p.api_user}' holds '{PRIVILEGE}' (the SMS/MMS API did not refuse the token "
                      "with 401 or 403)")
    contradiction = token_contradiction(ctx)
    if contradiction is not None:
        r.evidence.update(contradiction.evidence)
        r.actions = contradiction.actions
        return contradiction.cause
    lookup = api_user_lookup(ctx)
    if lookup is not None and lookup.verdict == FOUND:
        roles = list(lookup.user.roles)
        r.evidence["roles (Get User)"] = roles or "(none)"
        if roles == [p.role]:
            r.inferred.append(f"that role is '{p.role}': it is the user's only role")
        elif p.role in roles:
            r.inferred.append(f"one of the roles {', '.join(roles)} holds it; which one cannot be observed "
                              "(no API reads role privileges)")
        else:
            r.notes.append(f"The user lacks the role '{p.role}': the privilege comes from another of its roles "
                           f"({', '.join(roles) or 'none'}); see step 02.")
    return None


def finish_not_accepted(ctx: StepContext, r: StepResult, tp: TokenProbe, *, deferred: str) -> StepResult:
    """The step's verdict when the probe could not show the token accepted.
    `deferred` says what to do when there is no API secret yet."""
    p = ctx.params
    check, probe = tp.check, tp.probe
    if check is None:
        r.notes.append(deferred)
        return r.finish(ACTION_REQUIRED, f"no API secret for '{p.api_user}' yet, so nothing can be verified "
                                         "(step 03 hands it over)")
    if check.verdict == REJECTED:
        diagnosis = rejected_api_secret(ctx, check)
        r.evidence.update({"token request": f"refused: {check.said}", **diagnosis.evidence})
        r.actions = diagnosis.actions
        return r.finish(ACTION_REQUIRED, f"cannot verify: the API user's secret is refused; {diagnosis.cause}")
    if check.verdict != ISSUED:
        r.evidence["token request"] = f"no verdict: {check.said}"
        return instructions.finish_unverified(r, f"the token request answered {check.said}",
                                              f"could not verify: the token request for '{p.api_user}' answered {check.said}")
    r.evidence["token request"] = f"a {check.token.token_type} token was issued to '{p.api_user}'"
    if probe.verdict in (NO_PRIVILEGE, TOKEN_REFUSED):
        return _name_earlier_acceptance(ctx, _refused(ctx, r, tp))
    r.evidence["SMS/MMS API probe"] = f"no verdict: {probe.said}"
    if probe.request != "Get Message of a made-up id":  # the token request got the answer: the probe got none
        return instructions.finish_unverified(r, f"{probe.request} answered {probe.said}",
                                              f"could not verify: {probe.request} (made for the probe) answered "
                                              f"{probe.said}")
    return instructions.finish_unverified(r, f"the SMS/MMS API answered {probe.said}",
                                          f"could not verify: the SMS/MMS API answered the probe with {probe.said}")


def _refused(ctx: StepContext, r: StepResult, tp: TokenProbe) -> StepResult:
    """The SMS/MMS API refused the freshly issued token: 403 (no privilege) or 401 (token rejected)."""
    p, probe = ctx.params, tp.probe
    if probe.verdict == NO_PRIVILEGE:
        r.evidence["SMS/MMS API probe"] = f"refused: {probe.said}"
        r.actions = instructions.grant_privilege(p)
        lookup = api_user_lookup(ctx)
        if lookup is not None and lookup.verdict == FOUND:
            r.evidence["roles (Get User)"] = list(lookup.user.roles) or "(none)"
            if p.role not in lookup.user.roles:
                r.actions = instructions.define_user(p, exists=True)[:2] + r.actions
                return r.finish(ACTION_REQUIRED, f"the SMS/MMS API refuses the API user's token: the user lacks the "
                                                 f"role '{p.role}' (step 02), and none of its roles holds '{PRIVILEGE}'")
        return r.finish(ACTION_REQUIRED, f"the SMS/MMS API refuses the API user's token: none of the user's roles "
                                         f"holds '{PRIVILEGE}'")
    if probe.verdict == TOKEN_REFUSED:
        r.evidence["SMS/MMS API probe"] = f"refused the token: {probe.said}"
        r.actions = instructions.sms_api_refuses_token(p)
        return r.finish(ACTION_REQUIRED, "the API user gets a token, but the SMS/MMS API rejects that token as not "
                                         "valid (not for a missing privilege)")
    raise AssertionError("only a refusal comes here")


def _name_earlier_acceptance(ctx: StepContext, r: StepResult) -> StepResult:
    """A refusal after an acceptance earlier in the same run: the two answers contradict each other,
    and the result names both."""
    found = ctx.findings(findings.PROBE)
    if ctx.session()[0] != "run" or not found or found[-1][1]["verdict"] != ACCEPTED:
        return r
    step, earlier = found[-1]
    r.evidence[f"step {step[:2]}'s probe"] = f"accepted: {earlier['answer']}"
    r.actions = r.actions + ["If nothing changed in between, the tenant's answers contradict each other: re-run the "
                             "runbook, and if they keep disagreeing send summary.html to your service provider."]
    r.summary = (f"{r.summary}; yet step {step[:2]} of this run found the token accepted: the tenant's answers "
                 "contradict each other")
    return r
