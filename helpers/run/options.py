"""What a run is asked to do (RunOptions), what it uses to do it (Collaborators), and how it ended
(RunOutcome).

The collaborators are the run's writers, clocks and outside parts, each with the real one as its
default: a test passes its own instead of patching a module.

    run(RunOptions(params_path="params/demo.yaml", emulator=True,
                   collaborators=Collaborators(write_manifest=full_disk, clock=lambda: 0.0)), out)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from helpers.run.execute import run_notebook
from helpers.run.prepare import embedded_emulator
from helpers.run.record import append_history, write_manifest
from helpers.run.step_page import render as render_step_page
from helpers.run.summary import write_html, write_json
from helpers.safety.scrub import scrub_and_scan
from helpers.steps.params import refuse_secret_values

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "outputs"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Collaborators:
    # the target and the steps
    start_emulator: Callable = embedded_emulator  # (seed or None) -> a started server (.url, .stop())
    refuse_secret_values: Callable = refuse_secret_values  # (params, secrets): ParameterError when one holds a secret
    execute_notebook: Callable[..., dict] = run_notebook  # (*, step_id, params, run_dir, cell_timeout, pool,
    #                                                        kernel_env, clock) -> the step's entry
    # the record
    scrub_and_scan: Callable = scrub_and_scan  # (paths, secrets) -> {file name: what survived}
    render_step_page: Callable[..., str] = render_step_page  # (notebook, Where) -> the step's HTML page
    write_summary_json: Callable = write_json  # (path, summary)
    write_summary_html: Callable = write_html  # (path, summary)
    write_manifest: Callable = write_manifest  # (run folder) -> the manifest's SHA-256
    append_history: Callable = append_history  # (path, row, fields) -> the row's chained hash
    # clocks
    clock: Callable[[], float] = time.time  # seconds since the epoch: the run's start, durations
    utc_now: Callable[[], datetime] = utc_now  # the run folder's UTC stamp, the time an interruption is noted


@dataclass
class RunOptions:
    params_path: Path | str
    emulator: bool = False
    emulator_seed: Path | str | None = None
    only: list[str] = field(default_factory=list)
    from_step: str | None = None
    dry_run: bool = False
    resend_unconfirmed: bool = False
    out_dir: Path | str = DEFAULT_OUT
    keep_going: bool = False
    log_level: str = "WARNING"
    cell_timeout: int = 600
    private_root: Path | None = None  # where the private 0700 temp folder goes (default: the system's)
    kernel_pool: object | None = None  # a warm KernelPool lent for this run (a fleet's worker); default: its own
    collaborators: Collaborators = field(default_factory=Collaborators)


@dataclass
class RunOutcome:
    exit_code: int
    run_dir: Path | None = None
    summary: dict | None = None
    gate: object | None = None  # the run's Gate (helpers/safety/gate.py): its ledger says what left the process
    # Why no step ran (exit 3 or 4): {"parameter", "problem", "fix", "message"} for a refused parameter,
    # {"message"} otherwise; the fleet shows it on its page (the console alone is gone by then).
    refusal: dict | None = None
