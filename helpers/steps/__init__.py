"""The runbook's steps: one check-then-act-then-verify function per step, each in its own module,
each returning a StepResult.

Steps 01, 03 and 05 can only be done in the admin UI: they give exact instructions and verify
through the APIs that exist. In practice mode (emulator only) they act through the emulator's
console instead, and say so in the result. `checks` maps every answer the tenant can give to a
verdict; `diagnosis` looks across steps; `instructions` holds what a person does in the admin UI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from helpers.errors import TOKEN_SHAPED, RunbookError
from helpers.safety.scrub import Scrubber
from helpers.steps.access_token import access_token
from helpers.steps.api_secret import api_secret
from helpers.steps.chat_service import chat_service
from helpers.steps.context import SECRET_ACCEPTED, StepContext
from helpers.steps.define_user import define_user
from helpers.steps.grant_privilege import grant_privilege
from helpers.steps.params import PARAMETER_NAMES, RunbookParams
from helpers.steps.preflight import preflight
from helpers.steps.results import FAILED, StepResult
from helpers.steps.smoke_test import smoke_test

# The parameters each notebook declares (its parameters cell); the runner passes only these.
COMMON = ("tenant_url", "scope", "practice_mode", "dry_run", "ca_bundle", "connect_timeout", "read_timeout")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    notebook: str
    run: Callable[[StepContext], StepResult]
    parameters: tuple[str, ...] = PARAMETER_NAMES
    form_secrets: tuple[str, ...] = ()  # the secrets its form can take over ("api", "admin")


STEPS: dict[str, Step] = {s.id: s for s in (
    Step("00_preflight", "Preflight: parameters, secrets, tenant reachability, plan", "00_preflight.ipynb", preflight,
         PARAMETER_NAMES, ("api", "admin")),
    Step("01_grant_privilege", "Grant the 'Use SMS/MMS API' privilege to a role", "01_grant_privilege.ipynb",
         grant_privilege, COMMON + ("role", "api_user", "admin_user")),
    Step("02_define_user", "Define the API user with that role", "02_define_user.ipynb", define_user,
         COMMON + ("role", "api_user", "api_user_first_name", "api_user_last_name", "api_user_team", "admin_user"),
         ("admin",)),
    Step("03_api_secret", "Generate and hand over the user's API secret (client_secret)", "03_api_secret.ipynb",
         api_secret, COMMON + ("api_user", "admin_user"), ("api",)),
    Step("04_access_token", "Request an access token and prove it carries the privilege", "04_access_token.ipynb",
         access_token, COMMON + ("role", "api_user", "admin_user")),
    Step("05_chat_service", "Chat service with the SMS access number as outbound chat account", "05_chat_service.ipynb",
         chat_service, COMMON + ("admin_user", "access_number", "chat_service"), ("admin",)),
    Step("06_smoke_test", "Smoke test: send one message and follow it", "06_smoke_test.ipynb", smoke_test,
         COMMON + ("api_user", "access_number", "test_destination", "smoke_test", "smoke_message", "smoke_timeout",
                   "poll_interval", "resend_unconfirmed")),
)}


def run_step(step_id: str, params: RunbookParams, *, environ=None, sleep=time.sleep,
             clock=time.monotonic) -> StepResult:
    """Run one step; every expected failure becomes a FAILED StepResult with a safe message."""
    step = STEPS[step_id]
    ctx = StepContext(step_id, step.title, params, environ=environ, sleep=sleep, clock=clock)
    try:
        result = step.run(ctx)
    except RunbookError as exc:
        result = ctx.result().finish(FAILED, str(exc))
    except Exception as exc:  # a bug must still leave a record, never a secret
        message = TOKEN_SHAPED.sub("[redacted]", str(exc))
        for value in ctx.secrets.known_values():
            message = message.replace(value, "[redacted]")
        result = ctx.result().finish(FAILED, f"unexpected {type(exc).__name__}: {message}")
    result.notes = ctx.notes + result.notes
    for role, accepted in ctx.secrets_accepted.items():  # the form forgets a secret the tenant refused
        result.observed.setdefault(SECRET_ACCEPTED[role], accepted)
    # A tenant may quote a credential back in an error body, and steps quote error bodies: the result
    # leaves the step scrubbed, before any table or HTML is made of it.
    return StepResult.from_dict(Scrubber(ctx.secrets.known_values()).data(result.to_dict()))


__all__ = ["STEPS", "Step", "StepContext", "run_step"]
