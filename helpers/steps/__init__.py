"""The runbook's steps: one check-then-act-then-verify function per step, each in its own module,
each returning a StepResult, and each declared there once (`STEP = Step(...)`, helpers.steps.declaration):
its title, parameters, form secrets, page text, README row and plan line. STEPS is found by scanning
this package's modules for a STEP, ordered by id; adding a step is adding its module.

Steps 01, 03 and 05 can only be done in the admin UI: they give exact instructions and verify
through the APIs that exist. In practice mode (emulator only) they act through the emulator's
console instead, and say so in the result. `checks` maps every answer the tenant can give to a
verdict; `diagnosis` looks across steps; `instructions` holds what a person does in the admin UI.
"""

from __future__ import annotations

import importlib
import pkgutil
import time

from helpers.errors import TOKEN_SHAPED, RunbookError
from helpers.safety.scrub import Scrubber
from helpers.steps import findings
from helpers.steps.context import SECRET_ACCEPTED, StepContext
from helpers.steps.declaration import Step
from helpers.steps.params import RunbookParams
from helpers.steps.results import FAILED, StepResult


def discover(package: str = __name__, path=None) -> dict[str, Step]:
    """Every step declared in the modules of `package` (a module-level `STEP`), ordered by id.

    Nothing else lists the steps: a new module with a `STEP` is a new step, everywhere."""
    path = __path__ if path is None else path
    found: dict[str, tuple[Step, str]] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        step = getattr(module, "STEP", None)
        if step is None:
            continue
        if not isinstance(step, Step):
            raise TypeError(f"{module.__name__}.STEP is not a Step (helpers.steps.declaration)")
        if step.id in found and found[step.id][0] is not step:
            raise ValueError(f"step {step.id!r} is declared twice: in {found[step.id][1]} and {module.__name__}")
        found.setdefault(step.id, (step, module.__name__))
    return {step_id: found[step_id][0] for step_id in sorted(found)}


STEPS: dict[str, Step] = discover()


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
    if findings.PROBE in ctx.memo:  # the latest probe of the API user's token: later steps read it
        findings.note(result, findings.PROBE, *ctx.memo[findings.PROBE])
        verdict, answer = ctx.memo[findings.PROBE]
        if verdict != "no-secret":  # without a secret nothing of the tenant was asked
            findings.observe(result, "SMS/MMS API probe", f"{verdict}: {answer}")
    for role, accepted in ctx.secrets_accepted.items():  # the form forgets a secret the tenant refused
        result.observed.setdefault(SECRET_ACCEPTED[role], accepted)
    # A tenant may quote a credential back in an error body, and steps quote error bodies: the result
    # leaves the step scrubbed, before any table or HTML is made of it.
    # A value the parameters gave (a long login ID, say) is the record's subject, never taken for a token.
    given = [value for value in params.public().values() if isinstance(value, str)]
    scrubber = Scrubber(ctx.secrets.known_values(), keep=given)
    findings.digested(result, lambda text: scrubber.text(text) != text)  # compared by digest, never shown
    return StepResult.from_dict(scrubber.data(result.to_dict()))


__all__ = ["STEPS", "Step", "StepContext", "discover", "run_step"]
