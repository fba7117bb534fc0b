"""Execute the runbook: each notebook by papermill in a fresh kernel, then a scrubbed, scanned,
auditable record under outputs/<tenant>/<UTC timestamp>/ and an exit code a scheduler can act on."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .errors import ParameterError, RunbookError
from .params import EMULATOR, EMULATOR_URL_ENV, RunbookParams, load, refuse_secret_values
from .report import read_results
from .results import ACTION_REQUIRED, FAILED, SKIPPED, StepResult
from .runbook import HEADLESS_ENV, STEP_PARAMETERS
from .scrub import Scrubber, scrub_and_scan
from .secrets import HANDOFF_ENV, SECRET_ENV, SecretStore, read_handoff
from .steps import STEPS
from .summary import EXIT_MEANINGS, append_history, versions, who, write_html, write_json

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "outputs"
EXIT_OK, EXIT_FAILED, EXIT_ACTION, EXIT_BAD_INPUT, EXIT_LOCKED = 0, 1, 2, 3, 4
log = logging.getLogger("helpers.runner")


@dataclass
class RunOptions:
    params_path: Path
    emulator: bool = False
    emulator_seed: Path | None = None
    only: list[str] = field(default_factory=list)
    from_step: str | None = None
    dry_run: bool = False
    out_dir: Path = DEFAULT_OUT
    keep_going: bool = False
    log_level: str = "WARNING"
    cell_timeout: int = 600


@dataclass
class RunOutcome:
    exit_code: int
    run_dir: Path | None = None
    summary: dict | None = None


def resolve_step(token: str, option: str) -> str:
    """'3', '03' or '03_api_secret' -> '03_api_secret'."""
    token = token.strip()
    for step_id in STEPS:
        if token == step_id or (token.isdigit() and int(token) == int(step_id[:2])):
            return step_id
    raise ParameterError(option, f"{token!r} is not a step", f"use a number 0-6 or one of {', '.join(STEPS)}")


def select_steps(only: list[str], from_step: str | None) -> list[str]:
    if only and from_step:
        raise ParameterError("--only", "cannot be combined with --from", "use one of them")
    if only:
        chosen = {resolve_step(t, "--only") for item in only for t in item.split(",") if t.strip()}
        return [s for s in STEPS if s in chosen]
    if from_step:
        start = resolve_step(from_step, "--from")
        return [s for s in STEPS if s >= start]
    return list(STEPS)


def tenant_folder(params: RunbookParams) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", params.effective_scope or "tenant")
    return f"emulator_{name}" if params.targets_loopback else name


@contextlib.contextmanager
def patched_environ(changes: dict):
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update({k: v for k, v in changes.items() if v is not None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class MaskSecrets(logging.Filter):
    """python-gitlab's habit: a log record never carries a known secret or a token-shaped string."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.scrubber = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrubber.text(record.getMessage()), ()
        return True


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def run(options: RunOptions, out: TextIO) -> RunOutcome:
    """The whole runbook. Never raises for expected problems: the exit code says what happened."""
    try:
        steps = select_steps(options.only, options.from_step)
        params = load(options.params_path)
        if options.dry_run:
            params = params.replace(dry_run=True)
        if options.emulator and params.tenant_url != EMULATOR:
            raise ParameterError("tenant_url", f"is {params.tenant_url!r} but --emulator was given",
                                 "set tenant_url: emulator in the parameter file, or drop --emulator")
    except ParameterError as exc:
        _say(out, f"error: {exc}")
        return RunOutcome(EXIT_BAD_INPUT)

    emulator = None
    if options.emulator:
        from emulator import EmulatorServer
        emulator = EmulatorServer(seed=str(options.emulator_seed) if options.emulator_seed else None).start()
        _say(out, f"Embedded emulator started at {emulator.url} (practice and tests only)")
    try:
        with patched_environ({EMULATOR_URL_ENV: emulator.url} if emulator else {}):
            return _run_locked(options, params, steps, out)
    finally:
        if emulator:
            emulator.stop()


def _run_locked(options: RunOptions, params: RunbookParams, steps: list[str], out: TextIO) -> RunOutcome:
    from filelock import FileLock, Timeout

    store = SecretStore.for_params(params)
    try:
        refuse_secret_values(params, store.known_values())
    except ParameterError as exc:
        _say(out, f"error: {exc}")
        return RunOutcome(EXIT_BAD_INPUT)
    if params.admin_user and not params.practice_mode and store.get("admin") is None:
        _say(out, f"error: no secret for the admin user '{params.admin_user}'. Fix: set {SECRET_ENV['admin']} "
                  "(or store it in the keyring), or set admin_user: \"\" to run the admin steps as guided steps")
        return RunOutcome(EXIT_BAD_INPUT)

    tenant_dir = Path(options.out_dir) / tenant_folder(params)
    try:
        tenant_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(out, f"error: parameter '--out': cannot create {tenant_dir} ({exc.strerror}). Fix: give a writable folder")
        return RunOutcome(EXIT_BAD_INPUT)
    lock = FileLock(str(tenant_dir / ".run.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        _say(out, f"error: another runbook run for {tenant_dir.name} is in progress (lock {tenant_dir / '.run.lock'}); "
                  "nothing was done. Try again when it has finished.")
        return RunOutcome(EXIT_LOCKED)
    try:
        return _run_steps(options, params, steps, tenant_dir, store, out)
    finally:
        lock.release()


def _new_run_dir(tenant_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir, n = tenant_dir / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = tenant_dir / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def _run_steps(options, params, steps, tenant_dir, store, out) -> RunOutcome:
    run_dir = _new_run_dir(tenant_dir)
    started = time.time()
    caller_handoff = os.environ.get(HANDOFF_ENV)
    private_dir = None if caller_handoff else Path(tempfile.mkdtemp(prefix="bp-runbook-"))  # 0700, outside outputs/
    handoff = Path(caller_handoff) if caller_handoff else private_dir / "handoff.json"
    try:
        with run_log(run_dir / "run.log", options.log_level, store.known_values()), \
                patched_environ({HANDOFF_ENV: str(handoff), HEADLESS_ENV: "1"}):
            log.info("run %s: tenant %s, steps %s, parameters file %s", run_dir.name, params.effective_scope,
                     ", ".join(steps), options.params_path)
            entries = _execute_all(params, steps, run_dir, options, out)
        # Every secret this run could have seen, including those generated during it (practice mode).
        secrets = store.known_values() + [v for v in read_handoff(handoff).values() if isinstance(v, str)]
    finally:
        if private_dir:
            shutil.rmtree(private_dir, ignore_errors=True)
    return _record(run_dir, tenant_dir, params, entries, secrets, started, out)


@contextlib.contextmanager
def run_log(path: Path, level: str, secrets: list[str]):
    """run.log gets the runner's and papermill's records (cell outputs included), masked as written."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secrets))
    handler.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    loggers = [logging.getLogger(n) for n in ("papermill", "helpers")]
    saved_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(min(handler.level, logging.INFO))
    try:
        yield
    finally:
        for lg, saved in zip(loggers, saved_levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(saved)
        handler.close()


def _execute_all(params, steps, run_dir, options, out) -> list[dict]:
    from .kernels.pool import KernelPool

    # Warm, single-use kernels: the next notebook's kernel starts while one runs; closed on every exit.
    with KernelPool(size=1, warmup="import helpers.runbook") as pool:
        return _execute_steps(params, steps, run_dir, options, out, pool)


def _execute_steps(params, steps, run_dir, options, out, pool) -> list[dict]:
    import papermill as pm

    entries: list[dict] = []
    stopped_after = None
    for index, step_id in enumerate(steps, 1):
        if stopped_after:
            result = StepResult(step_id, STEPS[step_id].title).finish(
                SKIPPED, f"not run: stopped after {stopped_after} failed (use --keep-going to run the rest)")
            entries.append({"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0})
            continue
        entry = _execute(pm, step_id, params, run_dir, options.cell_timeout, pool)
        entries.append(entry)
        r = entry["result"]
        _say(out, f"[{index}/{len(steps)}] {step_id:<20} {r['status']:<16} {entry['seconds']:5.1f} s  {r['summary']}")
        if r["status"] == FAILED and not options.keep_going:
            stopped_after = step_id
    return entries


def _record(run_dir, tenant_dir, params, entries, secrets, started, out) -> RunOutcome:
    """Scrub and scan the notebooks and the log, write the summaries (scrubbed and scanned too), history."""
    statuses = [e["result"]["status"] for e in entries]
    exit_code = EXIT_FAILED if FAILED in statuses else EXIT_ACTION if ACTION_REQUIRED in statuses else EXIT_OK
    leaks = scrub_and_scan(sorted(run_dir.glob("*.ipynb")) + [run_dir / "run.log"], secrets)
    summary = {
        "run_id": run_dir.name, "tenant": params.effective_scope, "target": params.base_url,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 2), "exit_code": exit_code, "exit_meaning": EXIT_MEANINGS[exit_code],
        "parameters": params.public(), "steps": entries, "versions": versions(), "run_by": who(),
        "report": str(run_dir / "summary.html"), "secret_scan": "clean",
    }
    if leaks:
        summary.update(exit_code=EXIT_FAILED, exit_meaning="secret scan failed: a secret survived scrubbing",
                       secret_scan=leaks)
    write_json(run_dir / "summary.json", summary)
    write_html(run_dir / "summary.html", summary)
    late = scrub_and_scan([run_dir / "summary.json", run_dir / "summary.html"], secrets)
    if late:
        leaks.update(late)
        summary["exit_code"] = EXIT_FAILED
    append_history(tenant_dir / "history.csv", summary)
    for name, kinds in leaks.items():
        _say(out, f"error: secret scan: {', '.join(kinds)} survived in {run_dir / name}")
    _say(out, f"Exit {summary['exit_code']}: {summary['exit_meaning']}")
    _say(out, f"Report: {run_dir / 'summary.html'}")
    return RunOutcome(summary["exit_code"], run_dir, summary)


def _kernel_env() -> dict:
    """What a notebook's kernel gets at handover: pooled kernels start without secret-like variables.
    The secrets' variables are passed on until the handoff file carries them."""
    names = [HANDOFF_ENV, HEADLESS_ENV, EMULATOR_URL_ENV, *SECRET_ENV.values()]
    return {name: os.environ[name] for name in names if name in os.environ}


def _execute(pm, step_id: str, params: RunbookParams, run_dir: Path, cell_timeout: int, pool) -> dict:
    notebook = STEPS[step_id].notebook
    output = run_dir / notebook
    parameters = {k: v for k, v in params.public().items() if k in STEP_PARAMETERS[step_id]}
    started = time.time()
    failure = None
    try:
        # Immediate kernel shutdown: every output is in hand by then, and a graceful one stalled
        # about one notebook in three by 3 s here (make bench shows the figures).
        pm.execute_notebook(str(NOTEBOOKS / notebook), str(output), parameters=parameters, kernel_name="python3",
                            cwd=str(NOTEBOOKS), progress_bar=False, log_output=True, execution_timeout=cell_timeout,
                            shutdown_kernel="immediate", engine_name="bp-kernel-pool", kernel_pool=pool,
                            kernel_env=_kernel_env())
    except pm.PapermillExecutionError as exc:
        failure = f"cell [{exc.exec_count}] (cell {exc.cell_index + 1} of the notebook) raised {exc.ename}: {exc.evalue}"
    except (RunbookError, OSError, RuntimeError, TimeoutError) as exc:
        failure = f"the notebook could not run: {type(exc).__name__}: {exc}"
    results = read_results(output) if output.exists() else []
    if results:
        result = results[-1]
    else:
        result = StepResult(step_id, STEPS[step_id].title, started_at=started).finish(
            FAILED, f"no result was recorded: {failure or 'the notebook recorded nothing'}")
    return {"result": result.to_dict(), "notebook": notebook if output.exists() else None, "failure": failure,
            "seconds": round(time.time() - started, 2)}
