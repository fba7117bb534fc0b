"""Execute the runbook for one tenant: each notebook by papermill in a fresh kernel, then a scrubbed,
scanned, tamper-evident record under outputs/<tenant>/<UTC timestamp>/ and an exit code a scheduler
can act on.

Every way a run can end leaves a record: a failed step, an interruption (SIGTERM, SIGINT, SIGHUP),
a full disk (as much as can be written, and one line saying where and why), an unexpected error
(one line, never a traceback). Secrets reach the kernels only through a private handoff file in a
0700 temp folder that is removed however the run ends.
"""

from __future__ import annotations

import contextlib
import json
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

from helpers.errors import ParameterError, RunbookError
from helpers.notebook.page import HEADLESS_ENV
from helpers.notebook.report import read_results
from helpers.run.interrupt import Interrupted, SignalGuard, held_signals
from helpers.run.record import HISTORY, append_history, write_manifest
from helpers.run.summary import EXIT_MEANINGS, HISTORY_FIELDS, history_row, versions, who, write_html, write_json
from helpers.safety.scrub import Scanner, Scrubber, scrub_and_scan
from helpers.safety.secrets import (
    HANDOFF_ENV,
    MIN_SECRET_LENGTH,
    SECRET_ENV,
    SecretStore,
    read_handoff,
    secret_variables,
    write_private_json,
)
from helpers.steps import STEPS, sends
from helpers.steps.context import RUN_CONTEXT_ENV
from helpers.steps.params import EMULATOR, EMULATOR_URL_ENV, RunbookParams, load, refuse_secret_values
from helpers.steps.results import ACTION_REQUIRED, FAILED, INTERRUPTED, SKIPPED, StepResult
from helpers.tenant.practice import emulator_tenants

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "outputs"
EXIT_OK, EXIT_FAILED, EXIT_ACTION, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5
SCAN_FAILED = "secret scan failed: a secret survived scrubbing (the file was withheld)"
ENGINE = "bp-kernel-pool"
WARMUP = "import helpers.notebook"  # a warm kernel has imported the runbook before any notebook ran in it
log = logging.getLogger("helpers.run.runner")


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


@dataclass
class RunOutcome:
    exit_code: int
    run_dir: Path | None = None
    summary: dict | None = None


class Printer:
    """The runner's own output: every line passes the scrubber first, so stdout (and a scheduler's
    log of it) never carries a secret, whatever a step recorded."""

    def __init__(self, out: TextIO):
        self.out = out
        self.know([])

    def know(self, secrets: list[str]) -> None:
        self.scrubber, self.scanner = Scrubber(secrets), Scanner(secrets)

    def say(self, text: str) -> None:
        text = self.scrubber.text(text)
        if self.scanner.text_leaks(text):
            text = "(line withheld: a secret survived scrubbing)"
        self.out.write(text + "\n")
        self.out.flush()


def resolve_step(token: str, option: str) -> str:
    """'3', '03' or '03_api_secret' -> '03_api_secret'."""
    token = token.strip()
    for step_id in STEPS:
        if token == step_id or (token.isdigit() and int(token) == int(step_id[:2])):
            return step_id
    raise ParameterError(option, "does not name a step", f"use a number 0-6 or one of {', '.join(STEPS)}")


def select_steps(only: list[str], from_step: str | None) -> list[str]:
    if only and from_step is not None:
        raise ParameterError("--only", "cannot be combined with --from", "use one of them")
    if only:
        tokens = [t for item in only for t in item.split(",") if t.strip()]
        if not tokens:
            raise ParameterError("--only", "names no step", "give step numbers, e.g. --only 4,5")
        chosen = {resolve_step(t, "--only") for t in tokens}
        return [s for s in STEPS if s in chosen]
    if from_step is not None:
        if not from_step.strip():
            raise ParameterError("--from", "names no step", "give a step number, e.g. --from 3")
        start = resolve_step(from_step, "--from")
        return [s for s in STEPS if s >= start]
    return list(STEPS)


def tenant_folder(params: RunbookParams, emulator: bool) -> str:
    """The tenant's records folder; `emulator_<scope>` only for a target that answers as the emulator
    (a loopback address proves nothing: an SSH tunnel to a real tenant is on loopback too)."""
    name = re.sub(r"[^a-z0-9.-]", "_", params.effective_scope or "tenant").strip(".") or "tenant"
    return f"emulator_{name}" if emulator else name


def records_folder(out_dir: Path, name: str) -> Path:
    """outputs/<tenant>, resolved, and refused unless it stays inside --out."""
    root = out_dir.resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise ParameterError("scope", "would put the record outside --out", "give the tenant's host name")
    return folder


@contextlib.contextmanager
def patched_environ(changes: dict):
    """Set (or, with None, remove) environment variables for the duration."""
    saved = {k: os.environ.get(k) for k in changes}
    for key, value in changes.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class OneLine(logging.Formatter):
    """A terminal log line: the message only, never a traceback (it goes to run.log, scrubbed)."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(record)


class MaskSecrets(logging.Filter):
    """python-gitlab's habit: a log record never carries a known secret or a token-shaped string."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.scrubber = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrubber.text(record.getMessage()), ()
        return True


class RunLogHandler(logging.FileHandler):
    """run.log. A failed write (a full disk) is remembered, never printed as a traceback."""

    def __init__(self, path: Path):
        super().__init__(path, encoding="utf-8")
        self.failure: OSError | None = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, OSError) and self.failure is None:
            self.failure = error


@contextlib.contextmanager
def run_log(path: Path, level: str, secrets: list[str]):
    """run.log gets the runner's and papermill's records (cell outputs included), masked as written."""
    handler = RunLogHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secrets))
    handler.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    loggers = [logging.getLogger(n) for n in ("papermill", "helpers", "asyncio")]
    saved_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(min(handler.level, logging.INFO))
    try:
        yield handler
    finally:
        for lg, saved in zip(loggers, saved_levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(saved)
        handler.close()


def quiet_event_loop_noise() -> None:
    """An interrupted notebook leaves nbclient's tasks behind, and asyncio reports them ("Task exception
    was never retrieved", with a traceback) whenever they are collected. During a run they go to
    run.log; outside one, nowhere: the step was already recorded as interrupted, and no user is ever
    shown a traceback."""
    noise = logging.getLogger("asyncio")
    noise.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in noise.handlers):
        noise.addHandler(logging.NullHandler())


def describe_os_error(error: OSError) -> str:
    return error.strerror or type(error).__name__


# ------------------------------------------------------------------------------------------ run
def run(options: RunOptions, out: TextIO) -> RunOutcome:
    """The whole runbook for one tenant. Never raises: the exit code and one line say what happened."""
    printer = Printer(out)
    guard = SignalGuard()
    try:
        with guard.installed():
            return _run(options, printer, guard)
    except ParameterError as exc:
        printer.say(f"error: {exc}")
        return RunOutcome(EXIT_BAD_INPUT)
    except Interrupted as exc:  # before any step ran: nothing to record
        printer.say(f"Interrupted by {exc.signame} before any step ran: nothing was done.")
        return RunOutcome(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: one line, never a traceback, never a secret
        printer.say(f"error: unexpected {type(exc).__name__}: {printer.scrubber.text(str(exc))[:300]}")
        return RunOutcome(EXIT_FAILED)


def _check_options(options: RunOptions) -> None:
    if options.out_dir is None or not str(options.out_dir).strip():
        raise ParameterError("--out", "is empty", "give a folder for the run records, e.g. outputs")
    if options.emulator_seed is not None and not options.emulator:
        raise ParameterError("--emulator-seed", "needs --emulator", "add --emulator, or drop --emulator-seed")


def _run(options: RunOptions, printer: Printer, guard: SignalGuard) -> RunOutcome:
    _check_options(options)
    steps = select_steps(options.only, options.from_step)
    params = load(options.params_path)
    if options.dry_run:
        params = params.replace(dry_run=True)
    if options.resend_unconfirmed:
        params = params.replace(resend_unconfirmed=True)
    if options.emulator and params.tenant_url != EMULATOR:
        raise ParameterError("tenant_url", "is not 'emulator' but --emulator was given",
                             "set tenant_url: emulator in the parameter file, or drop --emulator")
    emulator = start_emulator(options.emulator_seed, printer) if options.emulator else None
    try:
        with patched_environ({EMULATOR_URL_ENV: emulator.url} if emulator else {}):
            return _run_tenant(options, params, steps, printer, guard)
    finally:
        if emulator:
            emulator.stop()


def start_emulator(seed, printer: Printer):
    from emulator import EmulatorServer
    from emulator.store import SeedError

    try:
        server = EmulatorServer(seed=str(seed) if seed is not None else None).start()
    except (OSError, ValueError, LookupError, TypeError, KeyError) as exc:  # a seed file that is not a seed
        if isinstance(exc, OSError):
            reason = describe_os_error(exc)
        elif isinstance(exc, SeedError):  # it says which entry of which seed is wrong, and how to mend it
            reason = str(exc)
        else:
            reason = type(exc).__name__
        raise ParameterError("--emulator-seed", f"cannot be used ({reason})",
                             "give a built-in seed name (default, docs, fleet) or a seed YAML file like "
                             "emulator/seeds/default.yaml") from None
    printer.say(f"Embedded emulator started at {server.url} (practice and tests only)")
    return server


def _secrets_for_run(params: RunbookParams) -> tuple[SecretStore, dict[str, str]]:
    """Every secret the run may use, from the environment, the caller's handoff file or the keyring,
    checked: never in a parameter, never too short to scrub. Returns the store and {role: value}."""
    store = SecretStore.for_params(params)
    found = {}
    for role in ("api", "admin"):
        secret = store.get(role)
        if secret is None:
            continue
        if len(secret) < MIN_SECRET_LENGTH:
            raise ParameterError(secret.source.removeprefix("environment variable ") if "environment" in secret.source
                                 else f"{role} secret",
                                 f"the {role} secret ({secret.source}) is shorter than {MIN_SECRET_LENGTH} characters, "
                                 "too short to be kept out of the records reliably",
                                 "use the API secret generated in the admin UI (64 characters)")
        found[role] = secret.reveal()
    refuse_secret_values(params, store.known_values())
    if params.admin_user and not params.practice_mode and "admin" not in found:
        raise ParameterError(SECRET_ENV["admin"], f"no secret for the admin user '{params.admin_user}'",
                             f"set {SECRET_ENV['admin']} (or store it in the keyring), or set admin_user: \"\" to run "
                             "the admin steps as guided steps")
    return store, found


def _run_tenant(options, params, steps, printer: Printer, guard: SignalGuard) -> RunOutcome:
    from filelock import FileLock, Timeout

    store, found = _secrets_for_run(params)
    printer.know(store.known_values())
    emulator = emulator_tenants(params.base_url) is not None
    tenant_dir = records_folder(Path(options.out_dir), tenant_folder(params, emulator))
    try:
        tenant_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError("--out", f"cannot create {tenant_dir} ({describe_os_error(exc)})",
                             "give a writable folder") from None
    lock = FileLock(str(tenant_dir / ".run.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        printer.say(f"error: another runbook run for {tenant_dir.name} is in progress (lock {tenant_dir / '.run.lock'}); "
                    "nothing was done. Try again when it has finished.")
        return RunOutcome(EXIT_LOCKED)
    try:
        return TenantRun(options, params, steps, tenant_dir, store, found, printer, guard, emulator).go()
    finally:
        lock.release()


class TenantRun:
    """One tenant's run once the lock is held: execute, then record, whatever happens."""

    def __init__(self, options, params, steps, tenant_dir, store, found, printer, guard, emulator):
        self.options, self.params, self.steps = options, params, steps
        self.tenant_dir, self.store, self.found = tenant_dir, store, found
        self.printer, self.guard, self.emulator = printer, guard, emulator
        self.entries: list[dict] = []
        self.storage_problems: list[str] = []
        self.unexpected: str | None = None
        self.ledger = sends.ledger_path(params.effective_scope, params.base_url)

    def go(self) -> RunOutcome:
        try:
            self.run_dir = _new_run_dir(self.tenant_dir)
        except OSError as exc:
            self.printer.say(f"error: cannot create a run folder in {self.tenant_dir}: {describe_os_error(exc)}")
            return RunOutcome(EXIT_FAILED)
        self.started = time.time()
        # 0700 by mkdtemp, outside outputs/: the kernels' only way to the secrets.
        self.private = Path(tempfile.mkdtemp(prefix="bp-runbook-", dir=self.options.private_root))
        self.handoff = self.private / "handoff.json"
        self.context = self.private / "run-context.json"
        interrupted = None
        try:
            self._hand_over_secrets()
            interrupted = self._execute_steps()
        except Interrupted as exc:
            interrupted = exc.signame
        except Exception as exc:  # a bug or a broken environment: the run is recorded as failed, never as ok
            self.unexpected = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            self.guard.stop_raising()  # from here on a signal is noted, never raised: the record completes
            secrets = self._all_secrets()
            with held_signals():
                shutil.rmtree(self.private, ignore_errors=True)
            if interrupted is None and self.guard.signame:
                interrupted = self.guard.signame
            outcome = self._record(secrets, interrupted)
        return outcome

    def _hand_over_secrets(self) -> None:
        """The secrets the run found go to the private handoff file, keyed as SecretStore reads them."""
        data = {self.store._key(role): value for role, value in self.found.items()}
        write_private_json(self.handoff, data)

    def _kernel_environment(self) -> dict:
        """What a kernel gets at handover: never a secret variable (None unsets it); the handoff file
        instead. Pool kernels start without secret-like variables anyway (helpers.run.kernels.environ)."""
        env = {HANDOFF_ENV: str(self.handoff), HEADLESS_ENV: "1", RUN_CONTEXT_ENV: str(self.context),
               sends.LEDGER_ENV: str(self.ledger.parent),
               **{name: None for name in [*SECRET_ENV.values(), *secret_variables(os.environ)]}}
        if os.environ.get(EMULATOR_URL_ENV):
            env[EMULATOR_URL_ENV] = os.environ[EMULATOR_URL_ENV]
        return env

    def _all_secrets(self) -> list[str]:
        """Every secret this run could have seen, including those generated during it (practice mode)."""
        generated = [v for v in read_handoff(self.handoff).values() if isinstance(v, str)]
        return sorted(set(self.store.known_values()) | set(generated) | set(self.found.values()))

    # -------------------------------------------------------------------------------- execute
    def _execute_steps(self) -> str | None:
        import papermill as pm

        from helpers.run.kernels.pool import KernelPool

        total = len(self.steps)
        with run_log(self.run_dir / "run.log", self.options.log_level, self.store.known_values()) as handler:
            self.log_handler = handler
            log.info("run %s: tenant %s, steps %s, parameters file %s", self.run_dir.name, self.params.effective_scope,
                     ", ".join(self.steps), self.options.params_path)
            try:
                pool = self.options.kernel_pool or KernelPool(size=1, warmup=WARMUP)
            except Exception as exc:  # noqa: BLE001 (no kernel can start: every step is recorded as not run)
                self.printer.say(f"error: the kernels could not start ({type(exc).__name__}: {exc})")
                self._skip(self.steps[0], f"not run: the kernels could not start ({exc})", FAILED)
                for later in self.steps[1:]:
                    self._skip(later, "not run: the kernels could not start")
                return None
            # A pool of our own is closed on every way out, an interruption included: no kernel survives.
            with contextlib.nullcontext(pool) if self.options.kernel_pool else pool:
                stopped_after = None
                for index, step_id in enumerate(self.steps, 1):
                    if stopped_after:
                        self._skip(step_id, f"not run: stopped after {stopped_after} failed (use --keep-going to run "
                                            "the rest)")
                        continue
                    try:
                        log.info("step %s: started", step_id)
                        entry = _execute(pm, step_id, self.params, self.run_dir, self.options.cell_timeout, pool,
                                         self._kernel_environment())
                    except Interrupted as exc:
                        if self.options.kernel_pool:  # a pool lent by a fleet's worker: this run's kernel goes too
                            self.options.kernel_pool.close()
                        self._interrupted(step_id, exc.signame)
                        return exc.signame
                    self.entries.append(entry)
                    self._write_context()
                    self.printer.know(self._all_secrets())
                    r = entry["result"]
                    self.printer.say(f"[{index}/{total}] {step_id:<20} {r['status']:<16} {entry['seconds']:5.1f} s  "
                                     f"{r['summary']}")
                    if r["status"] == FAILED and not self.options.keep_going:
                        stopped_after = step_id
        return None

    def _write_context(self) -> None:
        # Later steps read what earlier ones concluded (statuses only: no secret, no evidence).
        self.context.write_text(json.dumps({"steps": {e["result"]["step"]: {"status": e["result"]["status"]}
                                                      for e in self.entries}}), encoding="utf-8")

    def _skip(self, step_id: str, why: str, status: str = SKIPPED) -> None:
        result = StepResult(step_id, STEPS[step_id].title).finish(status, why)
        self.entries.append({"result": result.to_dict(), "notebook": None, "failure": None, "seconds": 0.0})

    def _interrupted(self, step_id: str, signame: str) -> None:
        notebook = self.run_dir / STEPS[step_id].notebook
        marked = _mark_interrupted(notebook, signame)
        result = StepResult(step_id, STEPS[step_id].title).finish(
            INTERRUPTED, f"interrupted by {signame} while the notebook ran; the cells that finished are in its output")
        self.entries.append({"result": result.to_dict(), "notebook": notebook.name if marked else None,
                             "failure": f"interrupted by {signame}", "seconds": 0.0})  # _record skips the rest

    # -------------------------------------------------------------------------------- record
    def _record(self, secrets: list[str], interrupted: str | None) -> RunOutcome:
        done = {e["result"]["step"] for e in self.entries}
        missing = [step_id for step_id in self.steps if step_id not in done]
        if missing and interrupted:
            for step_id in missing:
                self._skip(step_id, f"not run: the run was interrupted by {interrupted}")
        elif missing:  # every selected step has an entry: a run never looks ok by having none
            why = self.unexpected or "the run ended before this step"
            self._skip(missing[0], f"not run: {Scrubber(secrets).text(why)[:300]}", FAILED)
            for step_id in missing[1:]:
                self._skip(step_id, f"not run: {missing[0]} could not run")
        self.printer.know(secrets)
        failure = getattr(getattr(self, "log_handler", None), "failure", None)
        if failure is not None:
            self.storage_problems.append(f"run.log: {describe_os_error(failure)}")
        leaks = self._guarded("scrub", lambda: scrub_and_scan(
            sorted(self.run_dir.glob("*.ipynb")) + [p for p in [self.run_dir / "run.log"] if p.exists()], secrets))
        if leaks is None:  # the scrub itself could not run: nothing may be called clean
            leaks = {"(the run's files)": ["not scrubbed"]}
        statuses = [e["result"]["status"] for e in self.entries]
        exit_code = (EXIT_INTERRUPTED if interrupted else EXIT_FAILED if FAILED in statuses or self.storage_problems
                     else EXIT_ACTION if ACTION_REQUIRED in statuses else EXIT_OK)
        pending = sends.read(self.ledger) if self.ledger.exists() else None
        summary = {
            "run_id": self.run_dir.name, "tenant": self.params.effective_scope,
            "target": {"address": self.params.base_url, "emulator": self.emulator},
            "started_at": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self.started, 2), "exit_code": exit_code,
            "exit_meaning": EXIT_MEANINGS[exit_code], "interrupted": interrupted,
            "parameters": self.params.public(), "steps": self.entries, "versions": versions(), "run_by": who(),
            "pending_send": sends.describe(pending) if pending else None,
            "report": str(self.run_dir / "summary.html"), "secret_scan": "clean",
            "record_problems": list(self.storage_problems),
        }
        # The summary is built from what the notebooks recorded before they were scrubbed: scrub it too.
        summary = Scrubber(secrets).data(summary)
        if leaks:
            summary.update(exit_code=EXIT_FAILED, exit_meaning=SCAN_FAILED, secret_scan=leaks)
        self._guarded("summary.json", lambda: write_json(self.run_dir / "summary.json", summary))
        self._guarded("summary.html", lambda: write_html(self.run_dir / "summary.html", summary))
        late = self._guarded("scan of the summaries", lambda: scrub_and_scan(
            [p for p in (self.run_dir / "summary.json", self.run_dir / "summary.html") if p.exists()], secrets)) or {}
        if late:
            leaks.update(late)
            summary.update(exit_code=EXIT_FAILED, exit_meaning=SCAN_FAILED, secret_scan=leaks)
        manifest = self._guarded("manifest.json", lambda: write_manifest(self.run_dir))
        if self.storage_problems and summary["exit_code"] != EXIT_FAILED:  # the history row says what we exit with
            summary.update(exit_code=EXIT_FAILED, exit_meaning=EXIT_MEANINGS[EXIT_FAILED])
        row = history_row(summary) | {"manifest_sha256": manifest or ""}
        chained = self._guarded(HISTORY, lambda: append_history(self.tenant_dir / HISTORY, row, HISTORY_FIELDS))
        for name, kinds in leaks.items():
            self.printer.say(f"error: secret scan: {', '.join(kinds)} survived in {self.run_dir / name}; "
                             "the file was withheld")
        if self.unexpected:
            self.printer.say(f"error: {self.unexpected[:300]} (recorded as a failed step)")
        if interrupted:
            self.printer.say(f"Interrupted by {interrupted}: the steps not run are recorded as skipped.")
        if self.storage_problems:
            summary["exit_code"] = EXIT_FAILED
            self.printer.say(f"error: the run record in {self.run_dir} is incomplete: "
                             f"{'; '.join(self.storage_problems)}")
        self.printer.say(f"Exit {summary['exit_code']}: {EXIT_MEANINGS.get(summary['exit_code'], summary['exit_meaning'])}")
        self.printer.say(f"Report: {self.run_dir / 'summary.html'}")
        if chained:  # the first 16 of 64 hex digits: enough to compare with a copy kept elsewhere
            self.printer.say(f"History chain head: {chained[:16]} (python -m helpers verify {self.tenant_dir})")
        return RunOutcome(summary["exit_code"], self.run_dir, summary)

    def _guarded(self, what: str, write):
        """Write one part of the record; a storage failure is noted and the other parts still written."""
        try:
            return write()
        except OSError as exc:
            self.storage_problems.append(f"{what}: {describe_os_error(exc)}")
        except ValueError as exc:  # e.g. a notebook cut short by a full disk is not JSON
            self.storage_problems.append(f"{what}: unreadable ({type(exc).__name__})")
        return None


def _new_run_dir(tenant_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir, n = tenant_dir / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = tenant_dir / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def _mark_interrupted(notebook: Path, signame: str) -> bool:
    """Say at the top of an interrupted notebook that it was interrupted, and by what. Interrupted
    before papermill wrote anything, the committed notebook stands in for it, without outputs."""
    source = notebook if notebook.exists() else NOTEBOOKS / notebook.name
    try:
        nb = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    note = (f"**Interrupted by {signame}** at {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC: the cells "
            "below without output did not run, and the step's result is not recorded.")
    nb.setdefault("cells", []).insert(0, {"cell_type": "markdown", "id": "interrupted", "metadata": {}, "source": note})
    nb.setdefault("metadata", {})["bp_runbook"] = {"interrupted": signame}
    try:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError:
        return False
    return True


def _execute(pm, step_id: str, params: RunbookParams, run_dir: Path, cell_timeout: int, pool, kernel_env: dict) -> dict:
    notebook = STEPS[step_id].notebook
    output = run_dir / notebook
    parameters = {k: v for k, v in params.public().items() if k in STEPS[step_id].parameters}
    started = time.time()
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
            "seconds": round(time.time() - started, 2)}
