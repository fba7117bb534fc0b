"""`python -m helpers plan`: what a run would do, per tenant and step, without changing anything.

The plan runs each step's own function (helpers.steps.run_step, what every notebook calls) with
`dry_run` forced on, one step after the other and sharing what earlier steps found exactly as a run
does (the run-context file, helpers.steps.findings), in this process: no papermill, no kernel, no run
record (a plan is not a run: it takes no lock and leaves no history row). Every step's dry-run branch
says what a run would do ("dry run: would …"); the plan sorts each result into

    nothing        the step finds the tenant as it should be (or the step is off)
    runbook acts   a run would act itself: create the user, send one text, (practice) use the console
    person acts    a person must do something in the admin UI (the step's instructions)
    run fails      a run would fail here, and stop: the later steps are `not reached`
                   (with --keep-going, as for run, they are planned and marked)

and prints it as a table, and writes plan.json and plan.html (one page for a fleet) through the gate.
Why not papermill: docs/decisions.md, "plan calls the steps".
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TextIO

from helpers.errors import ParameterError
from helpers.run.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from helpers.run.fleet import parameter_files
from helpers.run.logs import Printer, describe_os_error
from helpers.run.plan_page import html_page, table
from helpers.run.prepare import check_options, parameters, secrets_for_run, target
from helpers.safety.gate import Gate
from helpers.safety.private import make_private, sweep
from helpers.safety.secrets import SECRET_ENV, write_private_json
from helpers.steps import STEPS, findings, run_step
from helpers.steps.context import RUN_CONTEXT_ENV
from helpers.steps.params import refuse_secret_values
from helpers.steps.results import ACTION_REQUIRED, FAILED, OK, SKIPPED

WOULD = "dry run: would "  # how every dry-run branch of a step says what a run would do
NOTHING, RUNBOOK, PERSON, FAILS, UNREACHED = "nothing", "runbook acts", "person acts", "run fails", "not reached"
KINDS = (NOTHING, RUNBOOK, PERSON, FAILS, UNREACHED)


@dataclass
class PlanOptions:
    params: list[str]
    out_dir: str
    emulator: bool = False
    emulator_seed: str | None = None
    keep_going: bool = False  # as for run: without it, the steps after a failing one are not reached
    private_root: Path | None = None  # where the private 0700 folder of the run context goes (default: the system's)


def classify(result: dict) -> tuple[str, str]:
    """(kind, what) of one step's dry-run result (a StepResult's dict)."""
    kind, what = _classify(result)
    # What the dry run left undone and said so (practice mode: the admin's secret a run would generate).
    undone = [n.removeprefix("dry run: ") for n in result.get("notes") or [] if n.startswith("dry run: ")]
    return kind, " ".join([what, *(f"({n})" for n in undone)])


def _classify(result: dict) -> tuple[str, str]:
    status, summary, actions = result["status"], result["summary"], result.get("actions") or []
    if summary.startswith(WOULD):
        return RUNBOOK, summary.removeprefix("dry run: ")
    if status in (OK, SKIPPED):
        return NOTHING, summary
    if status == ACTION_REQUIRED:
        return PERSON, " ".join(actions) if actions else summary
    if status == FAILED:
        return FAILS, summary
    # A dry run that reports a change broke its promise: never shown as a plan.
    return FAILS, f"the dry run reported '{status}': a dry run must change nothing; report this as a bug ({summary})"


def steps_of(results: list[dict], keep_going: bool) -> list[dict]:
    """The plan's rows for one tenant, in step order. After a step where a run fails, a run stops (as
    `run` does): the later steps are not reached, or, with keep_going, planned and marked as such."""
    rows, failed = [], None
    for r in results:
        kind, what = classify(r)
        row = {"step": r["step"], "title": STEPS[r["step"]].title, "would": kind, "what": what,
               "status (dry run)": r["status"], "summary": r["summary"], "actions": r.get("actions") or []}
        if failed:
            row["reached"] = f"only with --keep-going: a run stops after {failed} fails"
        rows.append(row)
        if kind == FAILS and failed is None:
            failed = r["step"]
    for step_id in list(STEPS)[len(results):]:
        rows.append({"step": step_id, "title": STEPS[step_id].title, "would": UNREACHED,
                     "what": f"a run stops after {failed} fails (--keep-going runs the rest)", "actions": []})
    return rows


def dry_run(params, private_root, keep_going: bool) -> list[dict]:
    """Each step's result with dry_run on, in order, each seeing what the earlier ones found; up to the
    first that fails unless keep_going."""
    folder = make_private(private_root)
    try:
        context = folder / "run-context.json"
        environ = {**os.environ, RUN_CONTEXT_ENV: str(context)}
        results: list[dict] = []
        for step_id in STEPS:
            results.append(run_step(step_id, params, environ=environ).to_dict())
            write_private_json(context, findings.run_context(results))  # statuses and shared findings only
            if classify(results[-1])[0] == FAILS and not keep_going:
                break
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def plan_tenant(path: Path, options: PlanOptions, gate: Gate) -> dict:
    """One tenant's plan, or why a run would not start (exit 3)."""
    try:
        params = parameters(SimpleNamespace(params_path=str(path), dry_run=True, resend_unconfirmed=False,
                                            emulator=options.emulator))
        secrets = secrets_for_run(params, refuse_secret_values)
    except ParameterError as exc:
        return {"tenant": str(path), "params": str(path), "error": f"a run would not start: {exc}", "steps": [],
                "line": f"error: {exc}"}
    gate.know(secrets.known_values())
    gate.keep(str(v) for v in params.public().values() if isinstance(v, str))
    steps = steps_of(dry_run(params, options.private_root, options.keep_going), options.keep_going)
    return {"tenant": params.effective_scope, "params": str(path), "address": params.base_url, "steps": steps}


def make_plan(options: PlanOptions, out: TextIO, gate: Gate, utc_now=lambda: datetime.now(UTC)) -> int:
    """The command: 0 the plan is made, 3 a tenant's parameters or secrets are wrong (its row says why, or
    nothing ran), 1 a plan file could not be written or was withheld."""
    printer = Printer(out, gate)
    sweep(options.private_root)
    try:
        check_options(SimpleNamespace(out_dir=options.out_dir, emulator_seed=options.emulator_seed,
                                      emulator=options.emulator))
        files = parameter_files(options.params)
        generic = [name for name in SECRET_ENV.values() if os.environ.get(name, "").strip()]
        if generic and len(files) > 1:  # the rule of a fleet's run: one value would go to every tenant
            raise ParameterError(generic[0], "is set, but the plan covers several tenants: one value would be sent to "
                                             "each", "name each tenant's secrets, e.g. BP_ADMIN_SECRET__ACME_BRIGHTPATTERN"
                                                     "_COM (README, Fleets), and unset the generic variables")
        started = time.time()
        with target(options, printer):
            tenants = [plan_tenant(path, options, gate) for path in files]
    except ParameterError as exc:
        printer.say(f"error: {exc}")
        return EXIT_BAD_INPUT
    if len(tenants) == 1 and "error" in tenants[0]:  # one tenant, as `run` would: one line, nothing written
        printer.say(tenants[0]["line"])
        return EXIT_BAD_INPUT
    for tenant in tenants:
        tenant.pop("line", None)
    now = utc_now()
    plan = {"plan_id": now.strftime("%Y%m%dT%H%M%SZ"), "made_at": now.isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started, 2),
            "how": "every step's checks with dry_run on, in this process; nothing was changed and nothing sent",
            "kinds": {NOTHING: "the tenant is as the step wants it, or the step is off",
                      RUNBOOK: "a run would act itself", PERSON: "a person must act in the admin UI",
                      FAILS: "a run would fail here", UNREACHED: "a run stops before it (after a failing step)"},
            "tenants": tenants}
    printer.say(table(plan))
    folder = _folder(Path(options.out_dir), plan["plan_id"])
    try:
        folder.mkdir(parents=True)
        withheld = gate.write_json(folder / "plan.json", plan)
        withheld += gate.write_text(folder / "plan.html", html_page(gate.data(plan)))
    except OSError as exc:
        printer.say(f"error: cannot write the plan in {folder}: {describe_os_error(exc)}")
        return EXIT_FAILED
    printer.say(f"Plan: {folder / 'plan.html'} and {folder / 'plan.json'}")
    if withheld:
        printer.say("error: a secret survived scrubbing in a plan file; the file was withheld")
        return EXIT_FAILED
    return EXIT_BAD_INPUT if any("error" in t for t in tenants) else EXIT_OK


def _folder(out_dir: Path, stamp: str) -> Path:
    folder, n = out_dir / "plans" / stamp, 1
    while folder.exists():
        n += 1
        folder = out_dir / "plans" / f"{stamp}-{n}"
    return folder


__all__ = ["KINDS", "PlanOptions", "classify", "make_plan"]
