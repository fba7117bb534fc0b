"""The second stage of a run: each chosen step's notebook by papermill, in a warm single-use kernel.

Secrets reach the kernels only through a private handoff file in a 0700 temp folder, removed however
the stage ends. A step that fails stops the run (unless --keep-going); a signal stops it at once, and
the notebook that was running says so at its top. Whatever happens, the stage ends by telling the
record stage what ran (`Executed`); it raises nothing but what it cannot handle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from helpers.errors import RunbookError
from helpers.notebook.page import HEADLESS_ENV
from helpers.notebook.report import read_results
from helpers.run.interrupt import Interrupted, SignalGuard, held_signals
from helpers.run.logs import Printer, run_log
from helpers.safety.private import make_private
from helpers.safety.secrets import (
    HANDOFF_ENV,
    SECRET_ENV,
    SOURCES_KEY,
    read_handoff,
    secret_variables,
    write_private_json,
)
from helpers.steps import STEPS, findings, sends
from helpers.steps.context import RUN_CONTEXT_ENV
from helpers.steps.params import EMULATOR_URL_ENV, RunbookParams
from helpers.steps.results import FAILED, INTERRUPTED, SKIPPED, StepResult

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ENGINE = "bp-kernel-pool"
WARMUP = "import helpers.notebook"  # a warm kernel has imported the runbook before any notebook ran in it
log = logging.getLogger("helpers.run.runner")


@dataclass
class Executed:
    """What the steps did, for the record: one entry per step that ran or was passed over."""

    entries: list[dict] = field(default_factory=list)
    interrupted: str | None = None  # the signal's name
    unexpected: str | None = None  # a bug or a broken environment, in one line
    log_failure: OSError | None = None  # run.log could not be written
    secrets: list[str] = field(default_factory=list)  # every secret the run could have seen


def entry(step_id: str, why: str, status: str = SKIPPED) -> dict:
    """The entry of a step that did not run."""
    result = StepResult(step_id, STEPS[step_id].title).finish(status, why)
    return {"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0}


def run_notebook(*, step_id: str, params: RunbookParams, run_dir: Path, cell_timeout: int, pool, kernel_env: dict,
                 clock: Callable[[], float]) -> dict:
    """One step: its notebook by papermill, with the parameters it declares; returns its entry."""
    import papermill as pm

    notebook = STEPS[step_id].notebook
    output = run_dir / notebook
    parameters = {k: v for k, v in params.public().items() if k in STEPS[step_id].parameters}
    started = clock()
    failure = None
    try:
        # A warm, single-use kernel from the pool (helpers.run.kernels), its environment and working
        # directory applied at handover, so papermill never changes this process's folder. Immediate
        # shutdown: every output is in hand by then (make bench: figures).
        pm.execute_notebook(str(NOTEBOOKS / notebook), str(output), parameters=parameters, kernel_name="python3",
                            progress_bar=False, log_output=True, execution_timeout=cell_timeout,
                            shutdown_kernel="immediate", engine_name=ENGINE, kernel_pool=pool, kernel_env=kernel_env,
                            kernel_cwd=str(NOTEBOOKS))
    except pm.PapermillExecutionError as exc:
        failure = f"cell [{exc.exec_count}] (cell {exc.cell_index + 1} of the notebook) raised {exc.ename}: {exc.evalue}"
    except (OSError, RuntimeError, TimeoutError, ValueError, RunbookError) as exc:
        failure = f"the notebook could not run: {type(exc).__name__}: {exc}"
    results = read_results(output) if output.exists() else []
    if results:
        result = results[-1]
    else:
        result = StepResult(step_id, STEPS[step_id].title, started_at=started).finish(
            FAILED, f"no result was recorded: {failure or 'the notebook recorded nothing'}")
    return {"result": result.to_dict(), "notebook": notebook if output.exists() else None, "failure": failure,
            "seconds": round(clock() - started, 2)}


def mark_interrupted(notebook: Path, signame: str, when: datetime) -> bool:
    """Say at the top of an interrupted notebook that it was interrupted, and by what. Interrupted
    before papermill wrote anything, the committed notebook stands in for it, without outputs."""
    source = notebook if notebook.exists() else NOTEBOOKS / notebook.name
    try:
        nb = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    note = (f"**Interrupted by {signame}** at {when.strftime('%Y-%m-%d %H:%M:%S')} UTC: the cells "
            "below without output did not run, and the step's result is not recorded.")
    nb.setdefault("cells", []).insert(0, {"cell_type": "markdown", "id": "interrupted", "metadata": {}, "source": note})
    nb.setdefault("metadata", {})["bp_runbook"] = {"interrupted": signame}
    try:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError:
        return False
    return True


class Steps:
    """The chosen steps, one after the other, in the private folder's company."""

    def __init__(self, run, printer: Printer, done: Executed):
        self.run, self.options, self.using = run, run.options, run.options.collaborators
        self.printer, self.done = printer, done
        self.private = self.handoff = self.context = None
        self.log = None  # run.log's handler, once open

    def hand_over_secrets(self) -> None:
        """The secrets the run found go to a private handoff file, keyed as SecretStore reads them, in a
        folder that is 0700 by mkdtemp and outside outputs/: the kernels' only way to the secrets."""
        with held_signals():  # a folder made is a folder known, to be removed
            self.private = make_private(self.options.private_root)  # names its owner: a kill -9 is swept later
        self.handoff, self.context = self.private / "handoff.json", self.private / "run-context.json"
        store = self.run.secrets.store
        handed = {store._key(role): value for role, value in self.run.secrets.found.items()}
        sources = {store._key(role): secret.source for role in self.run.secrets.found
                   if (secret := store.get(role)) is not None}
        write_private_json(self.handoff, {**handed, SOURCES_KEY: sources})

    def remove_private(self) -> None:
        if self.private is not None:
            with held_signals():  # not cut in two by a signal
                shutil.rmtree(self.private, ignore_errors=True)

    def kernel_environment(self) -> dict:
        """What a kernel gets at handover: never a secret variable (None unsets it); the handoff file
        instead. Pool kernels start without secret-like variables anyway (helpers.run.kernels.environ)."""
        env = {HANDOFF_ENV: str(self.handoff), HEADLESS_ENV: "1", RUN_CONTEXT_ENV: str(self.context),
               sends.LEDGER_ENV: str(self.run.ledger.parent),
               **{name: None for name in [*SECRET_ENV.values(), *secret_variables(os.environ)]}}
        if os.environ.get(EMULATOR_URL_ENV):
            env[EMULATOR_URL_ENV] = os.environ[EMULATOR_URL_ENV]
        return env

    def all_secrets(self) -> list[str]:
        """Every secret this run could have seen, including those generated during it (practice mode)."""
        generated = [v for v in read_handoff(self.handoff).values() if isinstance(v, str)] if self.handoff else []
        found = self.run.secrets.found.values()
        return sorted(set(self.run.secrets.known_values()) | set(generated) | set(found))

    def run_all(self) -> str | None:
        """Every step, or up to the first failure; the signal's name when one stopped them."""
        from helpers.run.kernels.pool import KernelPool

        run, entries = self.run, self.done.entries
        with run_log(run.run_dir / "run.log", self.options.log_level, run.secrets.known_values(),
                     self.printer.gate) as self.log:
            log.info("run %s: tenant %s, steps %s, parameters file %s", run.run_dir.name, run.params.effective_scope,
                     ", ".join(run.steps), self.options.params_path)
            try:
                pool = self.options.kernel_pool or KernelPool(size=1, warmup=WARMUP)
            except Exception as exc:  # noqa: BLE001 (no kernel can start: every step is recorded as not run)
                self.printer.say(f"error: the kernels could not start ({type(exc).__name__}: {exc})")
                entries.append(entry(run.steps[0], f"not run: the kernels could not start ({exc})", FAILED))
                entries.extend(entry(later, "not run: the kernels could not start") for later in run.steps[1:])
                return None
            # A pool of our own is closed on every way out, an interruption included: no kernel survives.
            with contextlib.nullcontext(pool) if self.options.kernel_pool else pool:
                return self._each(pool)

    def _each(self, pool) -> str | None:
        run, entries, total = self.run, self.done.entries, len(self.run.steps)
        stopped_after = None
        for index, step_id in enumerate(run.steps, 1):
            if stopped_after:
                entries.append(entry(step_id, f"not run: stopped after {stopped_after} failed (use --keep-going to "
                                              "run the rest)"))
                continue
            try:
                log.info("step %s: started", step_id)
                done = self.using.execute_notebook(step_id=step_id, params=run.params, run_dir=run.run_dir,
                                                   cell_timeout=self.options.cell_timeout, pool=pool,
                                                   kernel_env=self.kernel_environment(), clock=self.using.clock)
            except Interrupted as exc:
                if self.options.kernel_pool:  # a pool lent by a fleet's worker: this run's kernel goes too
                    self.options.kernel_pool.close()
                self._interrupted(step_id, exc.signame)
                return exc.signame
            entries.append(done)
            self._write_context()
            self.printer.know(self.all_secrets())
            r = done["result"]
            self.printer.say(f"[{index}/{total}] {step_id:<20} {r['status']:<16} {done['seconds']:5.1f} s  "
                             f"{r['summary']}")
            if r["status"] == FAILED and not self.options.keep_going:
                stopped_after = step_id
        return None

    def _write_context(self) -> None:
        # Later steps read what earlier ones concluded and observed: statuses and shared findings only
        # (helpers.steps.findings: answers and verdicts, never a secret or a token).
        self.context.write_text(json.dumps(findings.run_context([e["result"] for e in self.done.entries])),
                                encoding="utf-8")

    def _interrupted(self, step_id: str, signame: str) -> None:
        notebook = self.run.run_dir / STEPS[step_id].notebook
        marked = mark_interrupted(notebook, signame, self.using.utc_now())
        result = StepResult(step_id, STEPS[step_id].title).finish(
            INTERRUPTED, f"interrupted by {signame} while the notebook ran; the cells that finished are in its output")
        self.done.entries.append({"result": result.to_dict(), "notebook": notebook.name if marked else None,
                                  "failure": f"interrupted by {signame}", "seconds": 0.0})  # the record skips the rest


def execute(run, printer: Printer, guard: SignalGuard, done: Executed) -> None:
    """Run the steps of a Prepared run, filling `done`. From its end on a signal is noted, never
    raised: the record completes."""
    steps = Steps(run, printer, done)
    try:
        steps.hand_over_secrets()
        done.interrupted = steps.run_all()
    except Interrupted as exc:
        done.interrupted = exc.signame
    except Exception as exc:  # a bug or a broken environment: the run is recorded as failed, never as ok
        done.unexpected = f"unexpected {type(exc).__name__}: {exc}"
    finally:
        guard.stop_raising()  # from here on a signal is noted, never raised: the record completes
        done.secrets = steps.all_secrets()
        done.log_failure = steps.log.failure if steps.log is not None else None
        steps.remove_private()
        if done.interrupted is None and guard.signame:
            done.interrupted = guard.signame
