"""The first stage of a run: everything that can refuse it before a step runs.

The options and parameters (exit 3 when wrong), the steps chosen, the target (the embedded emulator
when asked for), the secrets (never in a parameter, never too short to scrub), the tenant's records
folder, its lock (exit 4 when another run holds it) and the run's own folder. With an S3 --out the
records folder is a private local working folder and the lock a lease on S3 (helpers/run/storage.py).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from helpers.errors import ParameterError
from helpers.run import storage
from helpers.run.exit_codes import EXIT_FAILED, EXIT_LOCKED
from helpers.run.logs import Printer, describe_os_error
from helpers.safety.private import sweep
from helpers.safety.secrets import MIN_SECRET_LENGTH, SECRET_ENV, SecretStore
from helpers.steps import STEPS, sends
from helpers.steps.params import EMULATOR, EMULATOR_URL_ENV, RunbookParams, load
from helpers.tenant.practice import emulator_tenants

LOCK = ".run.lock"


class NotStarted(Exception):  # noqa: N818 (an outcome, not an error)
    """The run stops before its first step, with this exit code and this one line."""

    def __init__(self, exit_code: int, line: str):
        super().__init__(line)
        self.exit_code, self.line = exit_code, line


# ------------------------------------------------------------------------------ options and steps
def check_options(options) -> None:
    if options.out_dir is None or not str(options.out_dir).strip():
        raise ParameterError("--out", "is empty", "give a folder for the run records, e.g. outputs")
    if storage.is_remote(options.out_dir):
        storage.check_url(str(options.out_dir))  # before anything runs: no credentials in it, a bucket named
    if options.emulator_seed is not None and not options.emulator:
        raise ParameterError("--emulator-seed", "needs --emulator", "add --emulator, or drop --emulator-seed")


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


def parameters(options) -> RunbookParams:
    """The parameter file, with the command line's overrides."""
    params = load(options.params_path)
    if options.dry_run:
        params = params.replace(dry_run=True)
    if options.resend_unconfirmed:
        params = params.replace(resend_unconfirmed=True)
    if options.emulator and params.tenant_url != EMULATOR:
        raise ParameterError("tenant_url", "is not 'emulator' but --emulator was given",
                             "set tenant_url: emulator in the parameter file, or drop --emulator")
    return params


# ------------------------------------------------------------------------------ the target
def embedded_emulator(seed: str | None):
    """The emulator in this process, started from a seed (a built-in name or a YAML file; None: the default)."""
    from emulator import EmulatorServer

    return EmulatorServer(seed=seed).start()


def start_emulator(seed, printer: Printer, factory: Callable = embedded_emulator):
    from emulator.store import SeedError

    try:
        server = factory(str(seed) if seed is not None else None)
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


@contextlib.contextmanager
def target(options, printer: Printer, factory: Callable = embedded_emulator):
    """With --emulator, the embedded emulator for the duration, its address in the environment."""
    emulator = start_emulator(options.emulator_seed, printer, factory) if options.emulator else None
    try:
        with patched_environ({EMULATOR_URL_ENV: emulator.url} if emulator else {}):
            yield emulator
    finally:
        if emulator:
            emulator.stop()


# ------------------------------------------------------------------------------ secrets
@dataclass
class RunSecrets:
    store: SecretStore
    found: dict[str, str]  # {role: value} of the secrets the run uses

    def known_values(self) -> list[str]:
        return self.store.known_values()


def secrets_for_run(params: RunbookParams, refuse_secret_values: Callable) -> RunSecrets:
    """Every secret the run may use, from the environment, the caller's handoff file or the keyring,
    checked: never in a parameter, never too short to scrub."""
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
    return RunSecrets(store, found)


# ------------------------------------------------------------------------------ the records folder
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


@dataclass
class Prepared:
    """A run that may start: the lock is held and its folder exists."""

    options: object  # RunOptions
    params: RunbookParams
    steps: list[str]
    secrets: RunSecrets
    emulator: bool  # the target answers as the emulator
    tenant_dir: Path
    run_dir: Path
    started: float  # seconds since the epoch
    ledger: Path  # the tenant's pending-send ledger (helpers.steps.sends)
    records: LocalRecords | storage.RemoteRecords | None = None  # where the record goes (helpers/run/storage.py)

    def where(self, path: Path) -> str:
        """A file of the record as a reader finds it: its path, or its URL when the records are on S3."""
        return self.records.where(path) if self.records is not None else str(path)


@dataclass
class LocalRecords:
    """The records in a local folder, as they always were: written in place, nothing to publish."""

    tenant_dir: Path
    remote = False

    def where(self, path: Path) -> str:
        return str(path)

    def taken(self, run_id: str) -> bool:
        return False

    def close(self) -> None:
        pass


@contextlib.contextmanager
def tenant_lock(tenant_dir: Path):
    """This tenant's lock for the duration; NotStarted (exit 4) when another run holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(tenant_dir / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise NotStarted(EXIT_LOCKED, f"error: another runbook run for {tenant_dir.name} is in progress (lock "
                                      f"{tenant_dir / LOCK}); nothing was done. Try again when it has finished.") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def remote_lock(records: storage.RemoteRecords, printer: Printer, clock: Callable[[], float]):
    """The tenant's lock on S3 for the duration (helpers/run/storage.py: a lease taken and released by
    conditional writes); NotStarted (exit 4) when another run holds it, as locally."""
    def unusable(exc: OSError) -> ParameterError:
        return ParameterError("--out", f"cannot be used ({exc.strerror or exc})",
                              "give an S3 URL whose bucket exists and that the credentials boto finds (AWS_ACCESS_KEY_ID "
                              "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE) may write; AWS_ENDPOINT_URL_S3 for another S3 API")

    lease = records.lock(printer.gate.handed, clock)
    try:
        lease.acquire()
    except storage.Held as held:
        raise NotStarted(EXIT_LOCKED, f"error: another runbook run for {records.tenant} is in progress (lock "
                                      f"{held}); nothing was done. Try again when it has finished (a lock whose "
                                      "owner is gone is broken when its lease ends).") from None
    except OSError as exc:
        raise unusable(exc) from None
    try:  # from here on the lock is ours: released however the run ends
        try:
            records.fetch()
        except OSError as exc:
            raise unusable(exc) from None
        lease.start_renewing()
        yield
    finally:
        lease.release()


def new_run_dir(tenant_dir: Path, utc_now: Callable[[], datetime], taken: Callable[[str], bool] = lambda _: False) -> Path:
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    run_dir, n = tenant_dir / stamp, 1
    while run_dir.exists() or taken(run_dir.name):
        n += 1
        run_dir = tenant_dir / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


@contextlib.contextmanager
def prepared(options, printer: Printer):
    """The whole stage: yields the Prepared run while the target runs and the tenant's lock is held.
    Raises ParameterError (exit 3) or NotStarted (exit 4, or 1 when no run folder can be made)."""
    using = options.collaborators
    sweep(options.private_root)  # what a hard-killed run left (helpers/safety/private.py)
    check_options(options)
    steps = select_steps(options.only, options.from_step)
    params = parameters(options)
    with target(options, printer, using.start_emulator):
        secrets = secrets_for_run(params, using.refuse_secret_values)
        printer.know(secrets.known_values())
        # A parameter value is never a secret (refused above): never redacted as a token-shaped string.
        printer.gate.keep(str(v) for v in params.public().values() if isinstance(v, str))
        emulator = emulator_tenants(params.base_url) is not None
        with contextlib.closing(records_for(options, tenant_folder(params, emulator))) as records:
            tenant_dir = records.tenant_dir
            try:
                tenant_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ParameterError("--out", f"cannot create {tenant_dir} ({describe_os_error(exc)})",
                                     "give a writable folder") from None
            if records.remote:  # the gate learns boto's secrets: none reaches an object it publishes
                printer.know(storage.credentials(os.environ))
            with remote_lock(records, printer, using.clock) if records.remote else tenant_lock(tenant_dir):
                try:
                    run_dir = new_run_dir(tenant_dir, using.utc_now, records.taken)
                except OSError as exc:
                    raise NotStarted(EXIT_FAILED, f"error: cannot create a run folder in {tenant_dir}: "
                                                  f"{describe_os_error(exc)}") from None
                yield Prepared(options, params, steps, secrets, emulator, tenant_dir, run_dir, using.clock(),
                               sends.ledger_path(params.effective_scope, params.base_url), records)


def records_for(options, tenant: str) -> LocalRecords | storage.RemoteRecords:
    """The tenant's records: under a local --out folder, or made in a private working folder and
    published to an S3 --out URL."""
    if storage.is_remote(options.out_dir):
        return storage.RemoteRecords(str(options.out_dir).strip(), tenant, options.private_root)
    return LocalRecords(records_folder(Path(options.out_dir), tenant))
