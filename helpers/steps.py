"""One check-then-act-then-verify function per runbook step, each returning a StepResult.

Steps 01, 03 and 05 can only be done in the admin UI: they give exact instructions and verify
through the APIs that exist. In practice mode (emulator only) they act through the emulator's
console instead, and say so in the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .api.sms import StatusChange
from .client import BrightPatternClient
from .errors import TOKEN_SHAPED, AuthenticationError, NotFoundError, PermissionDeniedError, RunbookError
from .params import RunbookParams
from .practice import LABEL, PracticeConsole
from .results import ACTION_REQUIRED, CHANGED, FAILED, OK, SKIPPED, StepResult
from .secrets import SECRET_ENV, Secret, SecretStore
from .transport import Transport

PRIVILEGE = "Use SMS/MMS API"
CCA = "Contact Center Administrator"


class StepContext:
    """What a step needs: parameters, secrets, tenant clients and (practice mode) the console."""

    def __init__(self, params: RunbookParams, *, environ=None, sleep=time.sleep):
        self.params = params
        self.sleep = sleep
        self.secrets = SecretStore.for_params(params, environ)
        self._console: PracticeConsole | None = None
        self.notes: list[str] = []

    def client(self, login_id: str, secret: Secret) -> BrightPatternClient:
        p = self.params
        return BrightPatternClient(p.base_url, p.effective_scope, login_id, secret, ca_bundle=p.ca_bundle or None,
                                   connect_timeout=p.connect_timeout, read_timeout=p.read_timeout, sleep=self.sleep)

    def console(self) -> PracticeConsole:
        if self._console is None:
            self._console = PracticeConsole.connect(self.params.base_url, self.params.effective_scope)
        return self._console

    def api_client(self) -> BrightPatternClient | None:
        secret = self.secrets.get("api")
        return self.client(self.params.api_user, secret) if secret else None

    def admin_client(self) -> BrightPatternClient | None:
        """The administrator's client, its credentials proven by a token request; None when there is
        no admin user, no secret, or a rejected secret (noted). In practice mode a missing or stale
        admin secret is generated through the console, as an administrator would in the admin UI."""
        login = self.params.admin_user
        if not login:
            return None
        secret = self.secrets.get("admin")
        if secret is not None:
            client = self.client(login, secret)
            try:
                client.tokens.request_token()
                return client
            except AuthenticationError as exc:
                if not self.params.practice_mode:
                    self.notes.append(f"The admin user's secret ({secret.source}) was rejected: {exc.detail}")
                    return None
        if not self.params.practice_mode:
            return None
        generated = self.console().generate_api_secret(login)
        secret = self.secrets.remember("admin", generated.reveal())
        self.notes.append(f"{LABEL} generated the API secret of admin user '{login}' through the console")
        return self.client(login, secret)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    notebook: str
    run: object  # callable(StepContext) -> StepResult


def _result(step_id: str) -> StepResult:
    return StepResult(step_id, STEPS[step_id].title)


def _probe(ctx: StepContext, secret: Secret) -> tuple[str, str]:
    """("granted" | "missing" | "rejected", detail) for the API user's secret."""
    client = ctx.client(ctx.params.api_user, secret)
    try:
        client.tokens.request_token()
    except AuthenticationError as exc:
        return "rejected", exc.detail
    return ("granted" if client.sms.has_privilege() else "missing"), ""


def _instructions_privilege(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Roles and select the role '{p.role}'.",
            f"On its Properties, in the group 'Service and Campaign Administration', enable '{PRIVILEGE}' and save.",
            "Re-run this notebook (or the runbook) to verify."]


def _instructions_user(p: RunbookParams, exists: bool) -> list[str]:
    if exists:
        return [f"In {CCA}, open Users & Teams > Users and select '{p.api_user}'.",
                f"Add the role '{p.role}' to the user and save (the Configuration API cannot change roles).",
                "Re-run this notebook to verify."]
    return [f"In {CCA}, open Users & Teams > Users and add a user with login ID '{p.api_user}' "
            f"(team '{p.api_user_team}').",
            f"Give the user the role '{p.role}' and save.",
            f"Or provide the admin user's API secret ({SECRET_ENV['admin']}) so the runbook can create it."]


def _instructions_secret(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Users, select '{p.api_user}' and open its Properties.",
            "Next to 'API secret' click Generate and copy the value: it is shown once and it is the client_secret.",
            f"Hand it to the runbook through this notebook's form ('API secret' field) or the environment "
            f"variable {SECRET_ENV['api']}; never as a parameter.",
            "Re-run this notebook: it proves the secret by requesting a token."]


def _instructions_service(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Services & Campaigns and select the chat service '{p.chat_service}' "
            "(create it as a Chat service if it does not exist).",
            f"On its Properties tab set 'Outbound chat accounts' to the access number {p.access_number}, and save.",
            "The number's type changes from unassigned to text-out. Re-run this notebook to verify."]


# ---------------------------------------------------------------------------------- 00
def preflight(ctx: StepContext) -> StepResult:
    r, p = _result("00_preflight"), ctx.params
    r.observed["target"] = {"base_url": p.base_url, "scope": p.effective_scope,
                            "emulator": p.tenant_url == "emulator" or p.targets_loopback}
    r.observed["parameters"] = p.public()
    r.observed["secrets"] = ctx.secrets.describe()
    if p.practice_mode:
        ctx.console()  # refuses anything that is not the emulator
        r.notes.append(f"{LABEL} the admin-UI steps 01, 03 and 05 will act through the emulator's console")

    # The tenant answers if its token endpoint rejects an incomplete request with an HTTP error.
    transport = Transport(p.base_url, connect_timeout=p.connect_timeout, read_timeout=p.read_timeout,
                          ca_bundle=p.ca_bundle or None, sleep=ctx.sleep)
    try:
        transport.request("POST", "/configapi/v2/oauth/token", form={"grant_type": "client_credentials"}, idempotent=True)
        answer = "HTTP 200 to an incomplete token request (unexpected, but the tenant answers)"
    except RunbookError as exc:
        if getattr(exc, "status", None) is None:
            hint = " (is the emulator running? `make emulator` starts it)" if p.tenant_url == "emulator" else ""
            return r.finish(FAILED, f"the tenant does not answer at {p.base_url}: {exc.detail}{hint}")
        answer = f"HTTP {exc.status} to an incomplete token request, as expected"
    r.evidence["token endpoint"] = answer

    for role, login in (("api", p.api_user), ("admin", p.admin_user)):
        secret = ctx.secrets.get(role)
        if secret is None:
            continue
        try:
            token = ctx.client(login, secret).tokens.request_token()
            r.evidence[f"{role} credentials"] = f"token issued for '{login}' (expires in {token.expires_in} s)"
        except AuthenticationError as exc:
            r.evidence[f"{role} credentials"] = f"rejected for '{login}': {exc.detail}"

    admin = bool(p.admin_user) and (ctx.secrets.get("admin") is not None or p.practice_mode)
    how = "practice: through the emulator console" if p.practice_mode else "guided: admin UI only"
    plan = [
        ("01_grant_privilege", f"{how}; verified with the API user's token"),
        ("02_define_user", ("dry run: observe only" if p.dry_run else "acts: create the user if missing")
         if admin else "guided: no admin credentials; verified with the API user's token when possible"),
        ("03_api_secret", f"{how}; verified by a token request"),
        ("04_access_token", "acts: request a token and probe the SMS/MMS API (verifies steps 01-03)"),
        ("05_chat_service", (f"{how}; verified through /phone/ext") if admin
         else "guided: no admin credentials, so it cannot be verified"),
        ("06_smoke_test", ("skipped: dry run" if p.dry_run else f"acts: sends one text to {p.test_destination}")
         if p.smoke_test else "skipped: smoke_test is false (it sends a real text)"),
    ]
    r.evidence["plan"] = dict(plan)  # step ids sort in order, so the record keeps it
    kinds = [mode.split(":")[0].replace("acts", "automated") for _, mode in plan]
    counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    return r.finish(OK, f"tenant answers at {p.base_url} (scope {p.effective_scope}); plan: {counts}")


# ---------------------------------------------------------------------------------- 01
def grant_privilege(ctx: StepContext) -> StepResult:
    r, p = _result("01_grant_privilege"), ctx.params
    r.observed["role"] = p.role
    secret = ctx.secrets.get("api")
    state, detail = _probe(ctx, secret) if secret else ("no secret", "")
    r.observed["probe"] = state
    if state == "granted":
        r.evidence["SMS/MMS API probe"] = "404 for an unknown message id: the token's user may use the API"
        return r.finish(OK, f"the API user '{p.api_user}' may use the SMS/MMS API: role '{p.role}' has '{PRIVILEGE}'")

    if p.practice_mode:
        if p.dry_run:
            r.actions = _instructions_privilege(p)
            return r.finish(ACTION_REQUIRED, f"dry run: would grant '{PRIVILEGE}' to role '{p.role}' through the console")
        ctx.console().grant_privilege(p.role)
        r.changed.append(f"{LABEL} granted '{PRIVILEGE}' to role '{p.role}'")
        r.notes.append(f"{LABEL} in a real tenant this is done in the admin UI")
        if state == "missing":
            state, detail = _probe(ctx, secret)
            if state != "granted":
                return r.finish(FAILED, f"granted through the console, but the API user's token is still refused ({state})")
            r.evidence["SMS/MMS API probe"] = "404 for an unknown message id after the grant"
        else:
            privileges = ctx.console().roles().get(p.role, [])
            if PRIVILEGE not in privileges:
                return r.finish(FAILED, f"the console did not record '{PRIVILEGE}' on role '{p.role}'")
            r.evidence["role privileges (emulator console)"] = privileges
            r.notes.append("API verification deferred: step 04 proves the privilege with the API user's token")
        return r.finish(CHANGED, f"granted '{PRIVILEGE}' to role '{p.role}' (practice) and verified")

    r.actions = _instructions_privilege(p)
    if state == "no secret":
        r.notes.append("Verification deferred: step 03 hands over the API secret and step 04 proves the privilege.")
        return r.finish(ACTION_REQUIRED, f"grant '{PRIVILEGE}' to role '{p.role}' in the admin UI; "
                                         "it cannot be verified until the API secret exists (step 03), step 04 verifies it")
    if state == "rejected":
        r.notes.append(f"The API secret was rejected: {detail}. Fix step 03 first.")
        return r.finish(ACTION_REQUIRED, "cannot verify: the API user's secret is rejected (see step 03); "
                                         "step 04 verifies the privilege once it works")
    admin = ctx.admin_client()
    if admin is not None:
        try:
            user = admin.users.find(p.api_user)
        except PermissionDeniedError:
            user = None  # only a hint; step 02 reports the missing 'Manage users'
        if user is not None and p.role not in user.roles:
            r.notes.append(f"The API user lacks the role '{p.role}' as well: see step 02.")
    return r.finish(ACTION_REQUIRED, f"the SMS/MMS API refuses the API user's token (403): role '{p.role}' lacks '{PRIVILEGE}'")


# ---------------------------------------------------------------------------------- 02
def define_user(ctx: StepContext) -> StepResult:
    r, p = _result("02_define_user"), ctx.params
    admin = ctx.admin_client()
    if admin is None:
        return _define_user_guided(ctx, r)
    try:
        user = admin.users.find(p.api_user)
    except PermissionDeniedError:
        r.actions = [f"Give the admin user '{p.admin_user}' a role with the privilege 'Manage users'."]
        return r.finish(ACTION_REQUIRED, f"the admin user '{p.admin_user}' lacks 'Manage users'")
    r.observed["user exists"] = user is not None
    created = user is None
    if user is None:
        r.actions = _instructions_user(p, exists=False)
        if p.dry_run:
            return r.finish(ACTION_REQUIRED, f"dry run: would create user '{p.api_user}' with role '{p.role}'")
        try:
            admin.users.create(p.api_user, p.api_user_first_name, p.api_user_last_name, p.api_user_team, roles=[p.role])
        except NotFoundError as exc:
            if "team" in exc.detail:
                r.actions = [f"Set api_user_team to an existing team ({', '.join(admin.teams.names())}), "
                             f"or create the team '{p.api_user_team}' in {CCA}."]
                return r.finish(ACTION_REQUIRED, f"the team '{p.api_user_team}' does not exist")
            r.actions = [f"In {CCA}, Users & Teams > Roles: create the role '{p.role}' (then step 01 grants its privilege)."]
            return r.finish(ACTION_REQUIRED, f"the role '{p.role}' does not exist")
        r.actions = []
        r.changed.append(f"created user '{p.api_user}' in team '{p.api_user_team}' with role '{p.role}' (Configuration API)")
        user = admin.users.get(p.api_user)
        status = CHANGED
    else:
        r.observed["roles"] = list(user.roles)
        status = OK
    if p.role not in user.roles:
        if p.practice_mode and not p.dry_run:
            ctx.console().add_user_role(p.api_user, p.role, list(user.roles))
            r.changed.append(f"{LABEL} added role '{p.role}' to user '{p.api_user}'")
            user = admin.users.get(p.api_user)
            status = CHANGED
        else:
            r.actions = _instructions_user(p, exists=True)
            r.evidence["roles"] = list(user.roles)
            return r.finish(ACTION_REQUIRED, f"user '{p.api_user}' exists without the role '{p.role}'; "
                                             "the API cannot change roles, add it in the admin UI")
    r.evidence.update({"roles": list(user.roles), "team": user.team, "disabled": user.disabled,
                       "locked out": admin.users.is_locked(p.api_user)})
    if p.role not in user.roles:
        return r.finish(FAILED, f"user '{p.api_user}' still lacks the role '{p.role}' after the change")
    if user.disabled or r.evidence["locked out"]:
        what = "disabled" if user.disabled else "locked out"
        r.actions = [f"In {CCA}, Users & Teams > Users > '{p.api_user}': clear '{what}' (a {what} user gets no token)."]
        return r.finish(ACTION_REQUIRED, f"user '{p.api_user}' has the role '{p.role}' but is {what}")
    verb = "created with" if created else ("given" if status == CHANGED else "has")
    return r.finish(status, f"user '{p.api_user}' {verb} the role '{p.role}' (verified with Get User)")


def _define_user_guided(ctx: StepContext, r: StepResult) -> StepResult:
    p = ctx.params
    r.notes.append("No admin credentials: the user cannot be looked up or created through the API.")
    secret = ctx.secrets.get("api")
    if secret is not None:
        state, detail = _probe(ctx, secret)
        r.observed["probe"] = state
        if state == "granted":
            return r.finish(OK, f"user '{p.api_user}' exists, is enabled and holds a role with '{PRIVILEGE}' "
                                "(verified with its own token)")
        if state == "missing":
            r.actions = _instructions_user(p, exists=True)
            return r.finish(ACTION_REQUIRED, f"user '{p.api_user}' authenticates, but its roles lack '{PRIVILEGE}' "
                                             f"(add role '{p.role}', or grant the privilege: step 01)")
        r.notes.append(f"The API user's token request was rejected: {detail}")
    r.actions = _instructions_user(p, exists=False)
    return r.finish(ACTION_REQUIRED, f"make sure user '{p.api_user}' exists with the role '{p.role}' (admin UI, "
                                     "or provide admin credentials so the runbook can create it)")


# ---------------------------------------------------------------------------------- 03
def api_secret(ctx: StepContext) -> StepResult:
    r, p = _result("03_api_secret"), ctx.params
    secret = ctx.secrets.get("api")
    r.observed["secret available"] = secret is not None
    if secret is not None:
        r.observed["source"] = secret.source
        try:
            ctx.client(p.api_user, secret).tokens.request_token()
            r.evidence["token request"] = f"a token was issued for '{p.api_user}'"
            return r.finish(OK, f"the API secret of '{p.api_user}' works: a token was issued")
        except AuthenticationError as exc:
            r.observed["rejected"] = exc.detail
            if not p.practice_mode or p.dry_run:
                r.actions = _instructions_secret(p) + [
                    f"If the user '{p.api_user}' is disabled or locked out, a new secret will not help: see step 02."]
                return r.finish(ACTION_REQUIRED, f"the API secret of '{p.api_user}' is rejected ({exc.detail}): "
                                                 "generate a new one in the admin UI")
    if not p.practice_mode or p.dry_run:
        r.actions = _instructions_secret(p)
        return r.finish(ACTION_REQUIRED, f"no API secret for '{p.api_user}' yet: generate it in the admin UI "
                                         "and hand it over through the form or the environment")
    generated = ctx.console().generate_api_secret(p.api_user)
    stored = ctx.secrets.remember("api", generated.reveal())
    r.changed.append(f"{LABEL} generated the API secret of '{p.api_user}' (handed over through the private handoff file)")
    ctx.client(p.api_user, stored).tokens.request_token()
    r.evidence["token request"] = f"a token was issued for '{p.api_user}' with the new secret"
    return r.finish(CHANGED, f"generated the API secret of '{p.api_user}' (practice) and verified it with a token request")


def hand_over_api_secret(params: RunbookParams, value: str, environ=None) -> Secret:
    """The form's Password field: keep the secret for this run's later notebooks, never display it."""
    return SecretStore.for_params(params, environ).remember("api", value)


# ---------------------------------------------------------------------------------- 04
def access_token(ctx: StepContext) -> StepResult:
    r, p = _result("04_access_token"), ctx.params
    client = ctx.api_client()
    if client is None:
        r.actions = ["Complete step 03 (hand over the API secret), then re-run this notebook."]
        return r.finish(ACTION_REQUIRED, f"no API secret for '{p.api_user}': the token cannot be requested (step 03)")
    try:
        token = client.tokens.request_token()
    except AuthenticationError as exc:
        r.actions = ["See step 03: generate a new API secret and hand it over."]
        return r.finish(ACTION_REQUIRED, f"the token request for '{p.api_user}' is rejected: {exc.detail}")
    expires = datetime.now(UTC) + timedelta(seconds=token.expires_in)
    r.evidence.update({"token_type": token.token_type, "expires_in (s)": token.expires_in,
                       "expires at (UTC)": expires.strftime("%Y-%m-%d %H:%M:%S"),
                       "scope echoed": token.scope, "token fingerprint": token.fingerprint,
                       "request": f"POST /configapi/v2/oauth/token grant_type=client_credentials client_id={p.api_user} "
                                  f"scope={p.effective_scope}"})
    if not client.sms.has_privilege():
        r.actions = _instructions_privilege(p)
        return r.finish(ACTION_REQUIRED, f"a {token.token_type} token was issued, but the SMS/MMS API refuses it (403): "
                                         f"role '{p.role}' lacks '{PRIVILEGE}' (step 01) or the user lacks the role (step 02)")
    r.evidence["SMS/MMS API probe"] = "accepted (404 for an unknown message id)"
    return r.finish(OK, f"a {token.token_type} token valid for {token.expires_in} s was issued and accepted by the "
                        "SMS/MMS API: steps 01-03 verified")


# ---------------------------------------------------------------------------------- 05
def chat_service(ctx: StepContext) -> StepResult:
    r, p = _result("05_chat_service"), ctx.params
    r.observed.update({"chat service": p.chat_service, "access number": p.access_number})
    admin = ctx.admin_client()
    if admin is None:
        r.actions = _instructions_service(p)
        r.notes.append(f"Verification needs admin credentials with 'Manage phones' ({SECRET_ENV['admin']}).")
        return r.finish(ACTION_REQUIRED, f"set {p.access_number} as outbound chat account of '{p.chat_service}' in the "
                                         "admin UI; without admin credentials it cannot be verified")
    try:
        number = admin.phones.find_access_number(p.access_number)
    except PermissionDeniedError:
        r.actions = [f"Give the admin user '{p.admin_user}' a role with the privilege 'Manage phones'."]
        return r.finish(ACTION_REQUIRED, f"the admin user '{p.admin_user}' lacks 'Manage phones'")
    if number is None:
        r.actions = [f"Ask your service provider to assign {p.access_number} to the tenant with an SMS/MMS account."]
        return r.finish(ACTION_REQUIRED, f"{p.access_number} is not an access number of this tenant")
    r.observed.update({"media": number.media, "type": number.type, "textOutService": list(number.text_out_services)})
    if not number.sms_capable:
        r.actions = [f"Ask your service provider to enable SMS on {p.access_number} and link an SMS/MMS account."]
        return r.finish(ACTION_REQUIRED, f"{p.access_number} is not SMS-capable (media {number.media})")
    if p.chat_service in number.text_out_services:
        r.evidence.update({"type": number.type, "textOutService": ", ".join(number.text_out_services)})
        return r.finish(OK, f"{p.access_number} is the outbound chat account of '{p.chat_service}' (type {number.type})")
    if number.text_out_services:
        r.notes.append(f"The number is currently the outbound chat account of: {', '.join(number.text_out_services)}.")
    if not p.practice_mode or p.dry_run:
        r.actions = _instructions_service(p)
        prefix = "dry run: " if p.dry_run and p.practice_mode else ""
        return r.finish(ACTION_REQUIRED, f"{prefix}{p.access_number} is not an outbound chat account of '{p.chat_service}' "
                                         f"(type {number.type})")
    ctx.console().add_outbound_account(p.chat_service, p.access_number)
    r.changed.append(f"{LABEL} set {p.access_number} as an outbound chat account of '{p.chat_service}'")
    after = admin.phones.find_access_number(p.access_number)
    if after is None or p.chat_service not in after.text_out_services:
        return r.finish(FAILED, "the console change is not visible in /phone/ext")
    r.evidence.update({"type": after.type, "textOutService": ", ".join(after.text_out_services)})
    return r.finish(CHANGED, f"{p.access_number} is now the outbound chat account of '{p.chat_service}' "
                             f"(practice; type {number.type} -> {after.type})")


# ---------------------------------------------------------------------------------- 06
def smoke_test(ctx: StepContext) -> StepResult:
    r, p = _result("06_smoke_test"), ctx.params
    if not p.smoke_test:
        return r.finish(SKIPPED, "smoke test off (smoke_test: false): it sends a real text message")
    if p.dry_run:
        return r.finish(SKIPPED, f"dry run: would send one text from {p.access_number} to {p.test_destination}")
    client = ctx.api_client()
    if client is None:
        r.actions = ["Complete step 03 (hand over the API secret) first."]
        return r.finish(ACTION_REQUIRED, "no API secret: the smoke test cannot send")
    sent = client.sms.send(p.test_destination, p.access_number, p.smoke_message)
    r.changed.append(f"sent one test message to {p.test_destination}")
    r.evidence["sid"] = sent.sid
    message, timeline = client.sms.wait_for_final(sent.sid, timeout=p.smoke_timeout, interval=p.poll_interval,
                                                  sleep=ctx.sleep)
    if timeline and timeline[0].status == sent.status:
        timeline = timeline[1:]  # the first read found it where the send left it
    changes = [StatusChange(0.0, sent.status)] + timeline
    r.evidence["timeline"] = [{"after (s)": c.elapsed, "status": c.status} for c in changes]
    path = " -> ".join(c.status for c in changes)
    r.evidence.update({"date_sent": message.date_sent, "segments": message.num_segments})
    if message.status == "delivered":
        return r.finish(OK, f"test message delivered to {p.test_destination} ({path})")
    if message.status == "failed":
        return r.finish(FAILED, f"test message failed: {message.error_code} {message.error_message} ({path})")
    return r.finish(FAILED, f"no delivery confirmation within {p.smoke_timeout:g} s (last status: {message.status}; {path})")


STEPS: dict[str, Step] = {s.id: s for s in (
    Step("00_preflight", "Preflight: parameters, secrets, tenant reachability, plan", "00_preflight.ipynb", preflight),
    Step("01_grant_privilege", "Grant the 'Use SMS/MMS API' privilege to a role", "01_grant_privilege.ipynb", grant_privilege),
    Step("02_define_user", "Define the API user with that role", "02_define_user.ipynb", define_user),
    Step("03_api_secret", "Generate and hand over the user's API secret (client_secret)", "03_api_secret.ipynb", api_secret),
    Step("04_access_token", "Request an access token and prove it carries the privilege", "04_access_token.ipynb", access_token),
    Step("05_chat_service", "Chat service with the SMS access number as outbound chat account", "05_chat_service.ipynb", chat_service),
    Step("06_smoke_test", "Smoke test: send one message and follow it", "06_smoke_test.ipynb", smoke_test),
)}


def run_step(step_id: str, params: RunbookParams, *, environ=None, sleep=time.sleep) -> StepResult:
    """Run one step; every expected failure becomes a FAILED StepResult with a safe message."""
    ctx = StepContext(params, environ=environ, sleep=sleep)
    try:
        result = STEPS[step_id].run(ctx)
    except RunbookError as exc:
        result = _result(step_id).finish(FAILED, str(exc))
    except Exception as exc:  # a bug must still leave a record, never a secret
        message = TOKEN_SHAPED.sub("[redacted]", str(exc))
        for value in ctx.secrets.known_values():
            message = message.replace(value, "[redacted]")
        result = _result(step_id).finish(FAILED, f"unexpected {type(exc).__name__}: {message}")
    result.notes = ctx.notes + result.notes
    return result
