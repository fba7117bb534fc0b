"""`python -m helpers snapshot`: what a tenant's Configuration API shows, as YAML, and a proposed
parameter file for the runbook.

Read-only by construction: one token request for the administrator, then GETs only (Get Teams, Get
Directory, Get User and Get User Lock State per user of the directory, Get Access Numbers), all through
helpers/tenant (the one place that talks HTTP). What no published API shows (roles' privileges, API
secrets, chat services and their outbound chat accounts beyond an access number's `textOutService`,
scenario entries, SMS/MMS accounts) is listed under `not read`, with why. Both files pass the gate
(scrubbed, then scanned, fail closed) like every record.

    BP_ADMIN_SECRET=… python -m helpers snapshot --tenant-url https://acme.brightpattern.com \\
        --admin-user admin --out snapshots/acme
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TextIO

import yaml

from helpers.errors import ApiError, AuthenticationError, ParameterError, PermissionDeniedError
from helpers.run.exit_codes import EXIT_ACTION, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from helpers.run.logs import Printer
from helpers.run.prepare import target
from helpers.safety.gate import Gate
from helpers.safety.secrets import MIN_SECRET_LENGTH, SECRET_ENV, SecretStore
from helpers.steps.params import RunbookParams, validate
from helpers.tenant.client import BrightPatternClient
from helpers.tenant.practice import emulator_tenants
from helpers.tenant.transport import RetryPolicy
from helpers.tools.proposal import proposal

FORMAT = "bp-sms-runbook tenant snapshot, version 1"
SNAPSHOT_FILE, PARAMS_FILE = "snapshot.yaml", "params.yaml"
# What the published APIs cannot show; each snapshot says so, so that nobody reads an absence as "none".
NOT_READABLE = (
    {"what": "roles and their privileges (which role holds 'Use SMS/MMS API')",
     "why": "no published Bright Pattern API reads roles or privileges; only the role names users hold (Get User)"},
    {"what": "API secrets",
     "why": "no published API generates or reads an API secret (admin UI only); never recorded in any case"},
    {"what": "chat services and their outbound chat accounts",
     "why": "no published API reads services; the services listed here are those an access number names in "
            "textOutService (Get Access Numbers), so a chat service no access number names is not seen"},
    {"what": "Messaging/Chat scenario entries",
     "why": "no published API reads scenario entries; an access number's 'scenario' field is shown as given"},
    {"what": "SMS/MMS (SMPP) accounts",
     "why": "provider-level configuration: the tenant's APIs do not show it"},
)
# Options of the command, by the parameter that validates them: errors name the option a person typed.
OPTIONS = {"tenant_url": "--tenant-url", "scope": "--scope", "admin_user": "--admin-user", "ca_bundle": "--ca-bundle"}


@dataclass
class SnapshotOptions:
    tenant_url: str
    scope: str
    admin_user: str
    out: str
    emulator: bool = False
    emulator_seed: str | None = None
    ca_bundle: str = ""


def check(options: SnapshotOptions) -> RunbookParams:
    """The options as runbook parameters (the same checks as a parameter file's); ParameterError names the option."""
    if not str(options.out).strip():
        raise ParameterError("--out", "is empty", "give a folder for the snapshot, e.g. snapshots/acme")
    if options.emulator_seed is not None and not options.emulator:
        raise ParameterError("--emulator-seed", "needs --emulator", "add --emulator, or drop --emulator-seed")
    if options.emulator and options.tenant_url != "emulator":
        raise ParameterError("--tenant-url", "is not 'emulator' but --emulator was given",
                             "give --tenant-url emulator, or drop --emulator")
    admin = (options.admin_user or "").strip()
    values = {"tenant_url": options.tenant_url, "scope": options.scope or "", "admin_user": admin,
              "api_user": "api.sms" if admin != "api.sms" else "api.sms2", "ca_bundle": options.ca_bundle or ""}
    if not admin:
        raise ParameterError("--admin-user", "is empty", "give the login ID of an administrator with Manage users "
                                                         "and Manage phones, e.g. --admin-user admin")
    try:
        return validate(values)
    except ParameterError as exc:
        raise ParameterError(OPTIONS.get(exc.parameter, exc.parameter), exc.problem, exc.fix) from None


def folder(out: str) -> Path:
    """The snapshot's folder: new, or without an earlier snapshot (a person may have edited its params.yaml)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ParameterError("--out", "is a file, not a folder", "give a folder for the snapshot")
    taken = [name for name in (SNAPSHOT_FILE, PARAMS_FILE) if (path / name).exists()]
    if taken:
        raise ParameterError("--out", f"already holds {' and '.join(taken)} (an earlier snapshot, perhaps edited)",
                             "give a new folder, or move the earlier snapshot away")
    return path


# ------------------------------------------------------------------------------ reading
def said(exc: ApiError) -> str:
    """An error as the snapshot quotes it: request, answer and detail (ApiError's text is already scrubbed)."""
    return f"{exc.method} {exc.path} answered {exc.answer}: {exc.detail}"


class Reader:
    """The Configuration API's answers, GETs only; each call that fails is noted, never guessed."""

    def __init__(self, client: BrightPatternClient):
        self.client = client
        self.problems: list[dict] = []

    def _try(self, what: str, call):
        try:
            return call()
        except ApiError as exc:
            # A refusal (401, 403) is for a person to lift; anything else failed.
            self.problems.append({"what": what, "answer": said(exc), "fix": _fix(exc),
                                  "refused": isinstance(exc, (AuthenticationError, PermissionDeniedError))})
            return None

    def teams(self) -> list[str] | None:
        return self._try("teams (Get Teams)", self.client.teams.names)

    def users(self) -> list[dict] | None:
        directory = self._try("users (Get Directory, /phone/user)", self.client.phones.directory)
        if directory is None:
            return None
        users = []
        for entry in sorted(directory, key=lambda e: e.login_id):
            login = entry.login_id
            row: dict = {"login_id": login}
            user = self._try(f"user '{login}' (Get User)", lambda login=login: self.client.users.get(login))
            if user is not None:
                row.update({"team": user.team, "roles": list(user.roles), "disabled": user.disabled})
            locked = self._try(f"lock state of '{login}' (Get User Lock State)",
                               lambda login=login: self.client.users.is_locked(login))
            row["locked_out"] = locked if locked is not None else "not read"
            row["extension"] = entry.extension
            users.append(row)
        return users

    def access_numbers(self) -> list[dict] | None:
        numbers = self._try("access numbers (Get Access Numbers, /phone/ext)", self.client.phones.access_numbers)
        if numbers is None:
            return None
        rows = []
        for n in sorted(numbers, key=lambda n: n.number):
            row = {"number": n.number, "media": n.media or "(not given)", "type": n.type or "(not given)",
                   "text_out_services": list(n.text_out_services)}
            if n.scenario:
                row["scenario"] = n.scenario
            for key in ("extension", "loginId"):  # a user's DID: whose it is
                if n.raw.get(key):
                    row["extension" if key == "extension" else "login_id"] = str(n.raw[key])
            rows.append(row)
        return rows


def _fix(exc: ApiError) -> str:
    if isinstance(exc, PermissionDeniedError):
        privilege = "Manage phones" if "/phone/" in exc.path else "Manage users"
        return f"give the administrator a role with '{privilege}', then take the snapshot again"
    if isinstance(exc, AuthenticationError):
        return "check that the administrator is enabled and its API secret current"
    return "take the snapshot again later; if it persists, ask your service provider"


def chat_services(numbers: list[dict] | None) -> list[dict] | None:
    """The services access numbers name in textOutService, with the numbers that name them."""
    if numbers is None:
        return None
    found: dict[str, list[str]] = {}
    for n in numbers:
        for name in n["text_out_services"]:
            found.setdefault(name, []).append(n["number"])
    return [{"name": name, "access_numbers": found[name], "seen in": "textOutService of Get Access Numbers"}
            for name in sorted(found)]


def read(client: BrightPatternClient, params: RunbookParams, emulator: bool, taken_at: datetime) -> tuple[dict, int]:
    """The snapshot as data (what was read, what could not be, and why), and how many parts a refusal kept out."""
    reader = Reader(client)
    teams, users, numbers = reader.teams(), reader.users(), reader.access_numbers()
    not_read = list(NOT_READABLE) + [{"what": p["what"], "why": p["answer"], "fix": p["fix"]} for p in reader.problems]
    refused = sum(p["refused"] for p in reader.problems)
    return {"snapshot": FORMAT,
            "tenant": {"address": params.tenant_url, "scope": params.effective_scope,
                       "answers as": "the local emulator" if emulator else "a tenant (not the emulator)"},
            "taken at (UTC)": taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "read as": params.admin_user,
            "how": "read-only: one token request for the administrator, then GET requests of the Configuration API",
            "teams": teams if teams is not None else "not read (see 'not read')",
            "users": users if users is not None else "not read (see 'not read')",
            "access numbers": numbers if numbers is not None else "not read (see 'not read')",
            "chat services": chat_services(numbers) if numbers is not None else "not read (see 'not read')",
            "not read": not_read}, refused


# ------------------------------------------------------------------------------ the command
def admin_secret(params: RunbookParams):
    """The administrator's secret from the usual sources, as `run` finds it; ParameterError when there is none."""
    store = SecretStore.for_params(params)
    secret = store.get("admin")
    if secret is None:
        raise ParameterError(SECRET_ENV["admin"], f"no secret for the admin user '{params.admin_user}'",
                             f"set {SECRET_ENV['admin']} (or store it in the keyring) to the administrator's API secret")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ParameterError(SECRET_ENV["admin"], f"the admin secret ({secret.source}) is shorter than "
                             f"{MIN_SECRET_LENGTH} characters, too short to be kept out of the files reliably",
                             "use the API secret generated in the admin UI (64 characters)")
    values = store.known_values()
    for name, value in params.public().items():
        if isinstance(value, str) and any(s in value for s in values if len(s) >= MIN_SECRET_LENGTH):
            raise ParameterError(OPTIONS.get(name, name), "holds the value of a secret",
                                 "give the option its own value; secrets come from the environment or the keyring")
    return secret, values


def snapshot(options: SnapshotOptions, out: TextIO, gate: Gate, utc_now=lambda: datetime.now(UTC)) -> int:
    """The whole command: 0 written and complete, 2 written with parts a person must unlock (a privilege),
    1 written with parts that failed or a secret withheld, 3 bad input (nothing written)."""
    printer = Printer(out, gate)
    try:
        params = check(options)  # URL checks of "emulator" need the emulator's address: checked again below
        where = folder(options.out)
        emulator_options = SimpleNamespace(emulator=options.emulator, emulator_seed=options.emulator_seed)
        with target(emulator_options, printer):
            params = check(options)
            secret, known = admin_secret(params)
            gate.know(known)
            return _take(params, secret, where, printer, utc_now())
    except ParameterError as exc:
        printer.say(f"error: {exc}")
        return EXIT_BAD_INPUT


def _take(params: RunbookParams, secret, where: Path, printer: Printer, now: datetime) -> int:
    gate = printer.gate
    gate.keep([params.tenant_url, params.effective_scope, params.admin_user])
    client = BrightPatternClient(params.base_url, params.effective_scope, params.admin_user, secret,
                                 ca_bundle=params.ca_bundle or None, connect_timeout=params.connect_timeout,
                                 read_timeout=params.read_timeout, retry=RetryPolicy(max_attempts=2))
    try:
        token = client.tokens.token()
    except ApiError as exc:
        if isinstance(exc, AuthenticationError):
            printer.say(f"error: the admin user's token request was refused ({exc.answer}: {exc.detail}); nothing was "
                        f"read. Fix: check --admin-user and its API secret ({SECRET_ENV['admin']})")
            return EXIT_ACTION
        printer.say(f"error: the tenant did not give the admin user a token ({said(exc)}); nothing was read")
        return EXIT_FAILED
    gate.know([token.value.reveal()])
    emulator = emulator_tenants(params.base_url) is not None
    data, refused = read(client, params, emulator, now)
    proposed = proposal(data, params)  # before anything is written: a proposal that cannot be made writes nothing
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError("--out", f"cannot be created ({exc.strerror or type(exc).__name__})",
                             "give a writable folder") from None
    header = (f"# What the Configuration API of {params.effective_scope} showed at {data['taken at (UTC)']}, read by "
              f"`python -m helpers snapshot` (read-only).\n# 'not read' lists what no published API shows, and what "
              "failed.\n")
    leaks = gate.write_text(where / SNAPSHOT_FILE, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True,
                                                                           width=110))
    leaks += gate.write_text(where / PARAMS_FILE, proposed)
    problems = [p for p in data["not read"] if "fix" in p]
    printer.say(f"Snapshot of {params.effective_scope}: {_count(data['users'], 'user')}, "
                f"{_count(data['teams'], 'team')}, {_count(data['access numbers'], 'access number')}, "
                f"{_count(data['chat services'], 'chat service')} (named by access numbers)")
    printer.say(f"Wrote {where / SNAPSHOT_FILE} and the proposed parameter file {where / PARAMS_FILE} (review the "
                "values marked 'not decided')")
    for problem in problems:
        printer.say(f"not read: {problem['what']}: {problem['why']}. Fix: {problem['fix']}")
    if leaks:
        printer.say("error: a secret survived scrubbing in a snapshot file; the file was withheld")
        return EXIT_FAILED
    if len(problems) > refused:  # a part failed (not refused): the snapshot is incomplete for no one's choice
        return EXIT_FAILED
    return EXIT_ACTION if refused else EXIT_OK


def _count(value, noun: str) -> str:
    if not isinstance(value, list):
        return f"{noun}s not read"
    return f"{len(value)} {noun}{'' if len(value) == 1 else 's'}"


__all__ = ["SnapshotOptions", "read", "snapshot"]
