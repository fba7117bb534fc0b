"""What a runbook notebook calls: one `StepNotebook` per notebook, made from its parameters cell.

    nb = StepNotebook("01_grant_privilege", globals())   # the parameters cell's variables
    nb.form()                  # interactive form (inert headless)
    result = nb.run()          # check, act, verify -> StepResult (never raises for expected failures)
    nb.show(result)            # readable table + machine-readable record
    nb.raise_if_failed(result) # last cell: makes papermill mark a failed step
"""

from __future__ import annotations

import os
import time

from .errors import ParameterError, RunbookError
from .params import PARAMETER_NAMES, from_namespace
from .report import show
from .results import FAILED, StepResult
from .steps import STEPS, run_step

HEADLESS_ENV = "BP_RUNBOOK_HEADLESS"

# The parameters each notebook declares (its parameters cell); the runner passes only these.
COMMON = ["tenant_url", "scope", "practice_mode", "dry_run", "ca_bundle", "connect_timeout", "read_timeout"]
STEP_PARAMETERS = {
    "00_preflight": list(PARAMETER_NAMES),
    "01_grant_privilege": COMMON + ["role", "api_user", "admin_user"],
    "02_define_user": COMMON + ["role", "api_user", "api_user_first_name", "api_user_last_name", "api_user_team",
                                "admin_user"],
    "03_api_secret": COMMON + ["api_user"],
    "04_access_token": COMMON + ["role", "api_user"],
    "05_chat_service": COMMON + ["admin_user", "access_number", "chat_service"],
    "06_smoke_test": COMMON + ["api_user", "access_number", "test_destination", "smoke_test", "smoke_message",
                               "smoke_timeout", "poll_interval", "resend_unconfirmed"],
}


class StepFailed(RunbookError):
    """Raised by the last cell of a notebook whose step failed, after the result was recorded."""


class StepNotebook:
    def __init__(self, step_id: str, namespace: dict):
        if step_id not in STEPS:
            raise ValueError(f"unknown step {step_id!r}; known: {', '.join(STEPS)}")
        self.step_id, self.namespace = step_id, namespace

    @property
    def step(self):
        return STEPS[self.step_id]

    def params(self):
        return from_namespace(self.namespace, STEP_PARAMETERS[self.step_id])

    def form(self):
        """The interactive form; headless runs (the runner sets BP_RUNBOOK_HEADLESS) skip it."""
        if os.environ.get(HEADLESS_ENV):
            print("Form not shown: headless run (the parameters cell is the input).")
            return None
        from IPython.display import display

        from .forms import StepForm
        try:
            params = self.params()
        except ParameterError as exc:
            print(f"The parameters are not valid yet: {exc}")
            return None
        fields = [f for f in STEP_PARAMETERS[self.step_id] if f not in ("connect_timeout", "read_timeout")]
        form = StepForm(self.step_id, params, fields, namespace=self.namespace,
                        secret_field=self.step_id == "03_api_secret")
        display(form.widget())
        return form

    def run(self) -> StepResult:
        started = time.time()
        try:
            params = self.params()
        except ParameterError as exc:
            result = StepResult(self.step_id, self.step.title, started_at=started)
            return result.finish(FAILED, f"bad parameter: {exc}")
        return run_step(self.step_id, params)

    @staticmethod
    def show(result: StepResult) -> None:
        show(result)

    @staticmethod
    def raise_if_failed(result: StepResult) -> None:
        if result.status == FAILED:
            raise StepFailed(result.headline())
        print(f"Step finished: {result.status}.")
