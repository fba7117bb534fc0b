"""Execute the runbook for one tenant: each notebook by papermill in a fresh kernel, then a scrubbed,
scanned, tamper-evident record under outputs/<tenant>/<UTC timestamp>/ and an exit code a scheduler
can act on.

Three stages, composed here:

    prepare.py    options, parameters, secrets, target (the embedded emulator), lock, records folder
    execute.py    the kernels, papermill for each step, the private handoff of the secrets
    recording.py  scrub and scan, summary.json / .html, manifest, history row, the exit code
                  (decided by exit_codes.py)

Every way a run can end leaves a record: a failed step, an interruption (SIGTERM, SIGINT, SIGHUP),
a full disk (as much as can be written, and one line saying where and why), an unexpected error
(one line, never a traceback). Secrets reach the kernels only through a private handoff file in a
0700 temp folder that is removed however the run ends. What a run writes with and reads the time
from are its collaborators (RunOptions.collaborators), which tests replace.
"""

from __future__ import annotations

from typing import TextIO

from helpers.errors import ParameterError
from helpers.run import execute, prepare, recording
from helpers.run.execute import WARMUP
from helpers.run.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from helpers.run.interrupt import Interrupted, SignalGuard
from helpers.run.logs import MaskSecrets, OneLine, Printer, quiet_event_loop_noise
from helpers.run.options import DEFAULT_OUT, Collaborators, RunOptions, RunOutcome
from helpers.run.prepare import tenant_folder
from helpers.safety.gate import Gate

__all__ = ["DEFAULT_OUT", "WARMUP", "Collaborators", "MaskSecrets", "OneLine", "RunOptions", "RunOutcome", "run",
           "quiet_event_loop_noise", "tenant_folder"]


def run(options: RunOptions, out: TextIO, gate: Gate | None = None) -> RunOutcome:
    """The whole runbook for one tenant. Never raises: the exit code and one line say what happened.
    Everything it writes or prints passes `gate` (its own when none is given)."""
    printer = Printer(out, gate)
    guard = SignalGuard()
    try:
        with guard.installed():
            return _run(options, printer, guard)
    except ParameterError as exc:
        printer.say(f"error: {exc}")
        return RunOutcome(EXIT_BAD_INPUT, refusal={"parameter": exc.parameter, "problem": exc.problem,
                                                   "fix": exc.fix, "message": str(exc)})
    except prepare.NotStarted as exc:
        printer.say(exc.line)
        return RunOutcome(exc.exit_code, refusal={"message": exc.line.removeprefix("error: ")})
    except Interrupted as exc:  # before any step ran: nothing to record
        printer.say(f"Interrupted by {exc.signame} before any step ran: nothing was done.")
        return RunOutcome(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: one line, never a traceback, never a secret
        printer.say(f"error: unexpected {type(exc).__name__}: {printer.scrubber.text(str(exc))[:300]}")
        return RunOutcome(EXIT_FAILED)


def _run(options: RunOptions, printer: Printer, guard: SignalGuard) -> RunOutcome:
    with prepare.prepared(options, printer) as ready:
        done = execute.Executed()
        try:
            execute.execute(ready, printer, guard, done)
        finally:  # whatever happened, the record (an exception still unhandled goes on after it)
            outcome = recording.record(ready, done, printer)
        return outcome
