"""What a runbook notebook calls: one `StepNotebook` per notebook, made from its parameters cell.

    nb = StepNotebook("01_grant_privilege", globals())   # the parameters cell's variables
    nb.form()                  # interactive form (inert headless)
    result = nb.run()          # check, act, verify; shows the result (never raises for expected failures)
    nb.verdict(result)         # the one-line verdict (what nbval compares)
    nb.raise_if_failed(result) # last cell: makes papermill mark a failed step

One result per page: the result table and the verdict line are displays with fixed ids, and the
form's button replaces them (and the notebook's `result`) instead of showing a second answer.
"""

from __future__ import annotations

import os
import time

from helpers.errors import ParameterError, RunbookError
from helpers.notebook.guide import first_steps
from helpers.notebook.report import show, verdict_line
from helpers.steps import STEPS, findings, run_step
from helpers.steps.context import RUN_CONTEXT_ENV
from helpers.steps.params import from_namespace
from helpers.steps.results import FAILED, StepResult

HEADLESS_ENV = "BP_RUNBOOK_HEADLESS"


def in_lab(result: StepResult, params, environ=None) -> None:
    """A page run by hand (not by the runner, which keeps the run's own record) records its status and
    findings for the pages after it: step 04 then names the steps it verified, step 06 knows a refusal."""
    environ = os.environ if environ is None else environ
    if not environ.get(RUN_CONTEXT_ENV):
        findings.record_in_lab(result, params, environ)

class StepFailed(RunbookError):
    """Raised by the last cell of a notebook whose step failed, after the result was recorded."""


class StepNotebook:
    def __init__(self, step_id: str, namespace: dict):
        if step_id not in STEPS:
            raise ValueError(f"unknown step {step_id!r}; known: {', '.join(STEPS)}")
        self.step_id, self.namespace = step_id, namespace
        self.shown = False  # whether this page already shows a result (the form then replaces it)

    @property
    def step(self):
        return STEPS[self.step_id]

    @property
    def ids(self) -> tuple[str, str]:
        return f"{self.step_id}-result", f"{self.step_id}-verdict"

    def guide(self, result: StepResult, *, update: bool = False) -> None:
        """Step 00 only, and only by hand (the runner's records stay as they were): what to do first when
        practising on the emulator, or nothing. Always displayed, so that a form's result can update it."""
        if self.step_id != next(iter(STEPS)) or os.environ.get(HEADLESS_ENV):
            return
        from IPython.display import display, update_display

        ids = list(STEPS)
        try:
            text = first_steps(result, self.params(), STEPS[ids[1]].notebook)
        except ParameterError:
            text = ""
        data, guide_id = {"text/html": text or "<span></span>", "text/plain": ""}, f"{self.step_id}-first-steps"
        (update_display if update else display)(data, raw=True, display_id=guide_id)

    def params(self):
        return from_namespace(self.namespace, self.step.parameters)

    def form(self):
        """The interactive form; headless runs (the runner sets BP_RUNBOOK_HEADLESS) skip it."""
        if os.environ.get(HEADLESS_ENV):
            print("Form not shown: headless run (the parameters cell is the input).")
            return None
        from IPython.display import display

        from helpers.notebook.forms import StepForm
        try:
            params = self.params()
        except ParameterError as exc:
            print(f"The parameters are not valid yet: {exc}")
            return None
        form = StepForm(self.step_id, params, list(self.step.form_fields), namespace=self.namespace,
                        secrets=self.step.form_secrets, on_result=self.replace)
        display(form.widget())
        return form

    def run(self) -> StepResult:
        started = time.time()
        try:
            params = self.params()
        except ParameterError as exc:
            result = StepResult(self.step_id, self.step.title, started_at=started)
            result = result.finish(FAILED, f"bad parameter: {exc}")
        else:
            result = run_step(self.step_id, params)
            in_lab(result, params)
        show(result, display_id=self.ids[0])
        self.guide(result)
        return result

    def verdict(self, result: StepResult) -> None:
        from IPython.display import display

        display({"text/plain": verdict_line(result)}, raw=True, display_id=self.ids[1])
        self.shown = True

    def replace(self, result: StepResult) -> bool:
        """The form's result takes the place of the page's result; False when the page shows none yet."""
        self.namespace["result"] = result
        try:
            in_lab(result, self.params())
        except ParameterError:  # the form validated them; nothing to record otherwise
            pass
        if not self.shown:
            return False
        from IPython.display import update_display

        show(result, display_id=self.ids[0], update=True)
        self.guide(result, update=True)
        update_display({"text/plain": verdict_line(result)}, raw=True, display_id=self.ids[1])
        return True

    @staticmethod
    def raise_if_failed(result: StepResult) -> None:
        """Silent unless the step failed: the verdict line above says how it ended."""
        if result.status == FAILED:
            raise StepFailed(result.headline())
