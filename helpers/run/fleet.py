"""Many tenants in one run: one runbook per tenant, up to --jobs at once, on warm kernels.

Each tenant keeps exactly what a single run gives it (its own lock, record, history, secrets and
exit code): the fleet runs `helpers.run.runner` for each, and adds a fleet summary (fleet-summary.json
and .html under <out>/fleets/<UTC timestamp>/) whose exit code is the worst of the tenants' (the page:
helpers.run.fleet_page). Nothing below the runner knows about fleets.

--jobs N starts N worker processes. Each keeps one warm kernel pool (helpers.run.kernels) for all the
tenants it runs, one after the other, so no tenant pays for a pool's start; the workers are
processes, not threads, because one interpreter's lock would serialise the tenants' notebook
orchestration (measured: README, Benchmark). A worker runs a tenant in its main thread, so a signal
is handled there exactly as in a single run (the step interrupted, the record completed); the fleet
passes SIGTERM, SIGINT and SIGHUP on to its workers and records the tenants not started as not run.

Secrets: with several tenants, each tenant's secrets come from its own variables
(BP_API_SECRET__<TENANT>, BP_ADMIN_SECRET__<TENANT>; see helpers.safety.secrets.tenant_env_name), its
keyring entries or the handoff file, all keyed by the tenant. The generic BP_API_SECRET /
BP_ADMIN_SECRET are refused then: one value would be sent to every tenant.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from helpers.errors import ParameterError
from helpers.run import fleet_page
from helpers.run.execute import WARMUP
from helpers.run.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_MEANINGS
from helpers.run.interrupt import Interrupted, SignalGuard
from helpers.run.logs import Printer, describe_os_error
from helpers.run.options import RunOptions, RunOutcome
from helpers.run.prepare import patched_environ, start_emulator
from helpers.run.runner import run
from helpers.safety.gate import Gate
from helpers.safety.private import sweep
from helpers.safety.secrets import SECRET_ENV, secret_variables
from helpers.steps.params import EMULATOR, EMULATOR_URL_ENV, load

# Worst last: nothing to report, a person must act, nothing was done (lock), bad input, failed, interrupted.
SEVERITY = (0, 2, 4, 3, 1, 5)


def worst(codes) -> int:
    return max(codes, key=SEVERITY.index, default=0)


def parameter_files(paths: list[str | Path]) -> list[Path]:
    """The parameter files given, a folder standing for the *.yaml / *.yml files in it (sorted)."""
    files: list[Path] = []
    for given in paths:
        if not str(given).strip():
            raise ParameterError("--params", "is empty", "give parameter files or a folder of them")
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise ParameterError("--params", f"the folder {str(path)!r} holds no .yaml file",
                                     "put one parameter file per tenant in it")
            files += found
        else:
            files.append(path)
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


@dataclass
class FleetOutcome:
    exit_code: int
    tenants: dict[str, RunOutcome] = field(default_factory=dict)
    folder: Path | None = None


WORKER_OPTIONS = ("out_dir", "only", "from_step", "dry_run", "resend_unconfirmed", "keep_going", "log_level",
                  "cell_timeout", "private_root")


class _Lines:
    """A worker's stdout for one tenant: each line goes to the fleet, which prints it prefixed."""

    def __init__(self, send, tenant: str):
        self.send, self.tenant = send, tenant

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self.send({"tenant": self.tenant, "line": line})

    def flush(self) -> None:
        pass


def worker_main(stdin: TextIO, stdout: TextIO) -> int:
    """`python -m helpers.run.fleet --worker`: a warm kernel pool, then one tenant after the other as the
    fleet hands them out on stdin (one JSON object a line); lines and outcomes go back on stdout."""
    from helpers.run.kernels.pool import KernelPool
    from helpers.run.logs import quiet_event_loop_noise

    quiet_event_loop_noise()

    def send(event: dict) -> None:
        stdout.write(json.dumps(event) + "\n")
        stdout.flush()

    # Outside a tenant's run a signal is noted, never fatal: the outcome of the tenant just finished
    # still reaches the fleet, and no further tenant starts (during a run, the runner's own guard acts).
    between = SignalGuard()
    between.stop_raising()
    try:
        with between.installed(), KernelPool(size=1, warmup=WARMUP) as pool:
            send({"ready": True})
            for line in stdin:
                task = json.loads(line)
                options = RunOptions(params_path=task["params"], kernel_pool=pool, **task["options"])
                gate = Gate()
                outcome = run(options, _Lines(send, task["tenant"]), gate)
                # Through the run's gate, which knows the tenant's secrets (the fleet does not), or not at all.
                summary = gate.handed(outcome.summary, "summary for the fleet") if outcome.summary else None
                refusal = gate.handed(outcome.refusal, "refusal for the fleet") if outcome.refusal else None
                code = max(outcome.exit_code, 1) if outcome.summary and summary is None else outcome.exit_code
                send({"tenant": task["tenant"], "exit_code": code, "gated": sorted(gate.ledger),
                      "run_dir": str(outcome.run_dir) if outcome.run_dir else None, "summary": summary,
                      "refusal": refusal})
                if outcome.exit_code == EXIT_INTERRUPTED or between.signame:
                    return EXIT_INTERRUPTED  # a signal reached this worker: no further tenant
        return EXIT_INTERRUPTED if between.signame else 0
    except Exception as exc:  # noqa: BLE001 (e.g. no kernel can start here): said in one line, never a traceback
        send({"error": f"{type(exc).__name__}: {exc}"[:300]})
        return 1


def run_fleet(options: RunOptions, params: list[str | Path], jobs: int, out: TextIO,
              gate: Gate | None = None) -> FleetOutcome:
    """One runbook per tenant, `jobs` at once. Never raises: the exit code says what happened. The fleet's
    files and lines pass `gate`; each tenant's run its worker's own."""
    printer = Printer(out, gate)
    printer.know(list(secret_variables(os.environ).values()))  # every tenant's: workers' stray lines pass here
    guard = SignalGuard()
    try:
        with guard.installed():
            return _run_fleet(options, params, jobs, printer, guard)
    except ParameterError as exc:
        printer.say(f"error: {exc}")
        return FleetOutcome(EXIT_BAD_INPUT)
    except Interrupted as exc:
        printer.say(f"Interrupted by {exc.signame} before any tenant ran: nothing was done.")
        return FleetOutcome(EXIT_INTERRUPTED)


def _check(params: list[Path], jobs: int) -> dict[Path, str]:
    """{file: tenant scope} for the files that load; bad files are left to their own run (exit 3)."""
    if not isinstance(jobs, int) or not 1 <= jobs <= 32:
        raise ParameterError("--jobs", "must be a whole number from 1 to 32", "e.g. --jobs 2 (about one per core)")
    generic = [name for name in SECRET_ENV.values() if os.environ.get(name, "").strip()]
    if generic and len(params) > 1:
        raise ParameterError(generic[0], "is set, but a fleet has several tenants: one value would be sent to each",
                             "name each tenant's secrets, e.g. BP_ADMIN_SECRET__ACME_BRIGHTPATTERN_COM for "
                             "acme.brightpattern.com (README, Fleets), and unset the generic variables")
    scopes: dict[Path, str] = {}
    for path in params:
        try:
            scopes[path] = load(path).effective_scope
        except ParameterError:
            continue
    doubles = sorted({s for s in scopes.values() if list(scopes.values()).count(s) > 1})
    if doubles:
        raise ParameterError("--params", f"several files name the tenant {doubles[0]}",
                             "give each tenant once (one lock, one record per tenant)")
    return scopes


def _run_fleet(options, given, jobs, printer, guard) -> FleetOutcome:
    sweep(options.private_root)  # what a hard-killed run left
    files = parameter_files(given)
    scopes = _check(files, jobs)
    emulator = None
    if options.emulator:
        if any(load(p).tenant_url != EMULATOR for p in scopes):
            raise ParameterError("tenant_url", "is not 'emulator' in every file but --emulator was given",
                                 "set tenant_url: emulator in each file, or drop --emulator")
        emulator = start_emulator(options.emulator_seed, printer, options.collaborators.start_emulator)
    started = time.time()
    outcomes: dict[str, RunOutcome] = {}
    worker_output: list[str] = []
    interrupted = None
    try:
        # Workers inherit the environment (the emulator's address, each tenant's secret variables).
        with patched_environ({EMULATOR_URL_ENV: emulator.url} if emulator else {}):
            printer.say(f"Fleet: {len(files)} tenants, {jobs} at a time")
            interrupted = _drive(replace(options, emulator=False, emulator_seed=None), files, scopes, jobs,
                                 printer, guard, outcomes, worker_output)
    finally:
        if emulator:
            emulator.stop()
    for path in files:  # tenants that never started: a signal, or no worker left to run them
        outcomes.setdefault(_name(path, scopes), RunOutcome(EXIT_INTERRUPTED if interrupted else EXIT_FAILED))
    code = EXIT_INTERRUPTED if interrupted else worst(o.exit_code for o in outcomes.values())
    folder = _write_summary(Path(options.out_dir), outcomes, code, started, jobs, printer)
    if folder is not None and any(where.startswith("fleet-summary") for where in printer.gate.leaks):
        printer.say(f"error: secret scan: a secret survived scrubbing in the fleet summary in {folder}; withheld")
        code = worst([code, EXIT_FAILED])
    if worker_output and folder is not None:
        log = folder / "workers.log"
        try:
            printer.gate.write_text(log, "\n".join(worker_output) + "\n")
            printer.say(f"note: the workers wrote {len(worker_output)} lines to their error output: {log}")
        except OSError as exc:
            printer.say(f"error: the workers' error output could not be kept in {log}: {describe_os_error(exc)}")
    printer.say(f"Fleet exit {code}: {EXIT_MEANINGS.get(code)}")
    return FleetOutcome(code, outcomes, folder)


class Worker:
    """One worker process and the thread that reads what it says."""

    def __init__(self, index: int, events: queue.Queue):
        self.proc = subprocess.Popen([sys.executable, "-m", "helpers.run.fleet", "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parents[2])
        self.index, self.busy, self.stderr = index, None, []
        threading.Thread(target=self._read, args=(events,), daemon=True, name=f"fleet-worker-{index}").start()
        # What a worker writes to its error output is kept for the fleet's workers.log, never shown raw.
        self.stderr_reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self.stderr_reader.start()

    def _read(self, events: queue.Queue) -> None:
        for line in self.proc.stdout:
            try:
                events.put((self, json.loads(line)))
            except ValueError:  # not a worker event: shown as it is (the printer scrubs it)
                events.put((self, {"tenant": f"worker {self.index}", "line": line.rstrip()}))
        events.put((self, {"gone": True}))

    def give(self, task: dict | None) -> None:
        self.busy = task["tenant"] if task else None
        try:
            if task is None:
                self.proc.stdin.close()
            else:
                self.proc.stdin.write(json.dumps(task) + "\n")
                self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass


def _drive(options, files, scopes, jobs, printer, guard, outcomes, worker_output) -> str | None:
    """Start the workers, hand out the tenants one at a time, print their lines, collect outcomes."""
    # Paths as absolute: the workers run in the project's folder, wherever the fleet was started.
    task_options = {name: getattr(options, name) for name in WORKER_OPTIONS}
    task_options.update(out_dir=str(Path(options.out_dir).resolve()),
                        private_root=str(Path(options.private_root).resolve()) if options.private_root else None)
    todo = [{"params": str(path.resolve()), "tenant": _name(path, scopes), "options": task_options} for path in files]
    events: queue.Queue = queue.Queue()
    workers = [Worker(i, events) for i in range(min(jobs, len(files)))]
    alive, interrupted = len(workers), None

    def handle(worker: Worker, event: dict) -> None:
        nonlocal alive
        if "line" in event:
            printer.say(f"{event['tenant']:<24} {event['line']}")
        elif "error" in event:
            printer.say(f"error: fleet worker {worker.index}: {event['error']}")
        elif "exit_code" in event:
            run_dir = Path(event["run_dir"]) if event["run_dir"] else None
            outcomes[event["tenant"]] = RunOutcome(event["exit_code"], run_dir, event["summary"],
                                                   refusal=event.get("refusal"))
            printer.gate.ledger.update({name: f"worker {worker.index}" for name in event.get("gated", [])})
            worker.give(todo.pop(0) if todo and not interrupted else None)
        elif "ready" in event:
            worker.give(todo.pop(0) if todo and not interrupted else None)
        elif "gone" in event:
            alive -= 1
            if worker.busy and worker.busy not in outcomes:  # it stopped in the middle of a tenant
                outcomes[worker.busy] = RunOutcome(EXIT_INTERRUPTED if interrupted else EXIT_FAILED)

    try:
        while alive:  # short waits: the main thread must stay free to take a signal
            try:
                handle(*events.get(timeout=0.2))
            except queue.Empty:
                continue
    except Interrupted as exc:
        interrupted = exc.signame
        guard.stop_raising()  # from here on a signal is noted: the workers' outcomes and the summary complete
        for worker in workers:  # each worker's runner records its tenant as interrupted
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.Signals[exc.signame])
        # Every worker's last words (its outcome line, then end of output): a worker that has exited may
        # still have an outcome on its way through the reader thread.
        deadline = time.monotonic() + 120
        while alive and time.monotonic() < deadline:
            try:
                handle(*events.get(timeout=0.2))
            except queue.Empty:
                continue
    finally:
        guard.stop_raising()
        for worker in workers:
            try:
                worker.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a worker that will not stop is stopped
                worker.proc.kill()
                worker.proc.wait()
            worker.stderr_reader.join(timeout=10)
    worker_output[:] = [f"worker {w.index}: {line.rstrip()}" for w in workers for line in w.stderr]
    return interrupted


def _name(path: Path, scopes: dict[Path, str]) -> str:
    return scopes.get(path, path.name)


def _write_summary(out_dir: Path, outcomes: dict[str, RunOutcome], code: int, started: float, jobs: int,
                   printer: Printer) -> Path | None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, n = out_dir / "fleets" / stamp, 1
    while folder.exists():
        n += 1
        folder = out_dir / "fleets" / f"{stamp}-{n}"
    tenants = []
    for name, outcome in sorted(outcomes.items()):
        summary = outcome.summary or {}
        steps = {e["result"]["step"]: {"status": e["result"]["status"], "summary": e["result"]["summary"],
                                       "notebook": e.get("notebook"), "page": e.get("page"),
                                       "actions": e["result"]["actions"], "failure": e.get("failure")}
                 for e in summary.get("steps", [])}
        tenants.append({"tenant": name, "exit_code": outcome.exit_code,
                        "exit_meaning": EXIT_MEANINGS.get(outcome.exit_code, ""),
                        "run_dir": str(outcome.run_dir) if outcome.run_dir else None, "refusal": outcome.refusal,
                        "steps": steps, "changed_since_last_run": (summary.get("drift") or {}).get("headline", "not run")})
    fleet = {"fleet_id": folder.name, "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
             "duration_s": round(time.time() - started, 2), "jobs": jobs, "exit_code": code,
             "exit_meaning": EXIT_MEANINGS.get(code), "tenants": tenants}
    try:
        folder.mkdir(parents=True)
        printer.gate.write_json(folder / "fleet-summary.json", fleet)
        printer.gate.write_text(folder / "fleet-summary.html", fleet_page.render(printer.gate.data(fleet), folder))
    except OSError as exc:
        printer.say(f"error: cannot write the fleet summary in {folder}: {exc.strerror}")
        return None
    printer.say(f"Fleet report: {folder / 'fleet-summary.html'}")
    return folder


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    raise SystemExit(worker_main(sys.stdin, sys.stdout))
