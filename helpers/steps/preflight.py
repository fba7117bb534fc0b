"""00: parameters, secrets, whether the tenant answers, and the plan."""

from __future__ import annotations

from urllib.parse import urlsplit

from helpers.steps import findings, instructions
from helpers.steps.checks import ISSUED, ISSUES_TOKENS, NO_ENDPOINT, NO_VERDICT, REJECTED, anonymous_token_request
from helpers.steps.context import SECRET_ACCEPTED, StepContext
from helpers.steps.declaration import ADMIN_CONFIGURATION, TOKEN, Page, Row, Step
from helpers.steps.params import PARAMETER_NAMES, RunbookParams
from helpers.steps.results import ACTION_REQUIRED, FAILED, OK, StepResult
from helpers.tenant.practice import LABEL, emulator_tenants
from helpers.tenant.transport import is_loopback, normalise_host


def target_kind(base_url: str) -> str:
    """'emulator' only when the address answers as the local emulator; 'tenant' otherwise."""
    return "emulator" if emulator_tenants(base_url) is not None else "tenant"


def plan_lines(p: RunbookParams, admin: bool) -> dict[str, str]:
    """What each later step will do, in its own words (its declaration's plan line)."""
    from helpers.steps import STEPS  # the registry: it imports this module while it is being built

    return {step.id: step.plan(p, admin) for step in STEPS.values() if step.plan is not None}


def _note_scope(r: StepResult, p: RunbookParams) -> None:
    """A tenant_url on another host than the scope is allowed (a proxy, a regional address) but noted."""
    host = normalise_host(urlsplit(p.base_url).hostname or "")
    if host and not is_loopback(host) and p.scope and host != normalise_host(p.effective_scope):
        r.observed["address and scope"] = f"tenant_url's host {host} is not the scope {p.effective_scope}"
        r.notes.append(f"tenant_url's host ({host}) differs from the scope ({p.effective_scope}): tokens are requested "
                       f"for {p.effective_scope} at {host}. Fine behind a proxy or a regional address; otherwise check "
                       "both parameters.")


def preflight(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    kind = target_kind(p.base_url)
    r.observed["target"] = {"address": p.base_url, "scope": p.effective_scope,
                            "answers as": "the local emulator" if kind == "emulator" else "a tenant (not the emulator)"}
    r.observed["parameters"] = p.public()
    r.observed["secrets"] = ctx.secrets.describe()
    if p.practice_mode:
        ctx.console()  # refuses anything that is not the emulator
        r.notes.append(f"{LABEL} the admin-UI steps 01, 03 and 05 will act through the emulator's console")

    _note_scope(r, p)
    # Does the address answer as a tenant? A token request without credentials must be refused
    # with an HTTP answer; which 4xx is undocumented, so any 4xx except 404/405 will do. A 2xx
    # is no token endpoint; one that hands out a token makes every later token prove nothing.
    anon = anonymous_token_request(p.base_url, p.connect_timeout, p.read_timeout, p.ca_bundle or None, ctx.sleep)
    if anon.status is None:
        hint = " (is the emulator running? `make emulator` starts it)" if p.tenant_url == "emulator" else ""
        r.actions = [f"Check tenant_url ({p.base_url}) and the network path to it{hint}."]
        return r.finish(FAILED, f"the tenant does not answer at {p.base_url}: {anon.detail}{hint}")
    answer = anon.answer
    findings.note(r, findings.ANONYMOUS, anon.verdict, f"{answer} to a token request without credentials")
    findings.observe(r, "token endpoint without credentials", anon.verdict)
    r.evidence["token endpoint"] = f"answers: {answer} to a request without credentials" + (
        f" ({anon.detail})" if anon.verdict == ISSUES_TOKENS else "")
    if anon.verdict == ISSUES_TOKENS:
        r.actions = [f"Check tenant_url: {p.base_url} hands out tokens to anyone, so no secret can be proven there. "
                     "Use the tenant's own address (Bright Pattern's token endpoint refuses a request without "
                     "credentials)."]
        return r.finish(FAILED, f"the token endpoint at {p.base_url} issues tokens without asking for credentials: this "
                                "is not a Bright Pattern tenant, or something answers in its place")
    if anon.verdict == NO_ENDPOINT:
        r.actions = [f"Check tenant_url: {p.base_url} answers, but not as a Bright Pattern tenant."]
        if anon.status in (404, 405):
            return r.finish(FAILED, f"{p.base_url} answers, but there is no token endpoint at this address: it is not "
                                    "a Bright Pattern tenant's address")
        return r.finish(FAILED, f"{p.base_url} answers a token request without credentials, but not as a token endpoint "
                                "does: a web page or a catch-all answers there, not Bright Pattern")
    if anon.verdict == NO_VERDICT:
        r.actions = ["Re-run later; if it persists, ask your service provider (the token endpoint fails)."]
        return r.finish(FAILED, "could not verify the tenant: its token endpoint gives no usable answer (it is in the "
                                "details)")

    verdicts, sources = {}, {}
    for role, login in (("api", p.api_user), ("admin", p.admin_user)):
        secret = ctx.secrets.get(role) if login else None
        if secret is None:
            continue
        check = ctx.check_secret(role, login, secret)
        verdicts[role], sources[role] = check.verdict, secret.source
        label = "API user's secret" if role == "api" else "admin's secret"
        # What the form needs to forget a refused secret, and the plan to promise only what can happen.
        r.observed[SECRET_ACCEPTED[role]] = ctx.secrets_accepted.get(role)
        if check.verdict == ISSUED:
            r.evidence[label] = f"a token was issued to '{login}' (valid {check.token.expires_in} s)"
        elif check.verdict == REJECTED:
            r.evidence[label] = f"refused for '{login}' (from the {secret.source}): {check.said}"
        else:
            r.evidence[label] = f"could not be checked for '{login}': {check.said}"
            return instructions.finish_unverified(r, f"the token request with the {label} answered {check.said}")

    admin = bool(p.admin_user) and (verdicts.get("admin") == ISSUED or p.practice_mode)
    plan = plan_lines(p, admin)
    r.evidence["plan"] = plan
    kinds = [mode.split(":")[0] for mode in plan.values()]
    counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    target = "the local emulator" if kind == "emulator" else "a tenant"
    head = f"{target} answers at {p.base_url} (scope {p.effective_scope}); plan: {counts}"
    refused = [role for role, verdict in verdicts.items() if verdict == REJECTED]
    if refused:
        names = " and ".join("the API user's secret" if role == "api" else "the admin's secret" for role in refused)
        users = " and ".join(f"'{p.api_user}'" if role == "api" else f"'{p.admin_user}'" for role in refused)
        r.actions = [f"In Contact Center Administrator, Users & Teams > Users: generate a new API secret for {users} "
                     "and hand it over (a form's secret field, or the environment), then re-run.",
                     "If a user does not exist, is disabled or locked out, a new secret will not help: see step 02."]
        kept = {source for role, source in sources.items() if role in refused}
        r.actions = [a for source in sorted(kept) for a in instructions.kept_secret_refused(source, kind == "emulator")
                     ] + r.actions
        return r.finish(ACTION_REQUIRED, f"{head}; but {names} {'is' if len(refused) == 1 else 'are'} refused")
    return r.finish(OK, head)


STEP = Step(
    id="00_preflight",
    title="Preflight: parameters, secrets, tenant reachability, plan",
    run=preflight,
    parameters=PARAMETER_NAMES,
    form_secrets=("api", "admin"),
    page=Page(
        why="Before anything changes, make sure the runbook can reach the tenant with what you gave it.",
        admin=None,
        checks="The parameters (https unless the target is a local emulator, phone numbers in E.164 form, names), "
               "which secrets are available and from where (never their values), whether the tenant answers (its "
               "token endpoint refuses a request without credentials), whether each available secret gets a token, "
               "and the plan: which steps act, which are guided, what is verified.",
        good="`ok`: the tenant answers, and the plan says what will happen next.",
        docs=(ADMIN_CONFIGURATION, TOKEN),
    ),
    who_acts="automated",
    row=Row(
        step="parameters, secrets, reachability, plan",
        acts="validates parameters; lists which secrets are available and from which source, never their values",
        verified="the address answers as a tenant (its token endpoint refuses a request without credentials); each "
                 "available secret gets a token",
        reads="a token request without credentials; a token request with each available secret",
        writes="nothing",
    ),
)
