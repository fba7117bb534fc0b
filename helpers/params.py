"""Runbook parameters: defaults, loading from YAML, and validation with errors that say what to fix.

No secret is ever a parameter: a key that looks like one is refused.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from .errors import TOKEN_SHAPED, ParameterError
from .transport import check_base_url, is_loopback

EMULATOR = "emulator"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8765"
EMULATOR_URL_ENV = "BP_EMULATOR_URL"
EXAMPLE_DESTINATION = "+15551234567"
SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|api[_-]?key", re.I)
LOGIN_ID = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")


@dataclass(frozen=True)
class RunbookParams:
    """Every runbook parameter with its default. Each notebook declares the ones it uses."""

    tenant_url: str = EMULATOR          # "emulator" = the local emulator ($BP_EMULATOR_URL or :8765)
    scope: str = ""                     # the tenant host name for the token request; "" = derive it
    role: str = "SMS API"               # the role that gets the "Use SMS/MMS API" privilege
    api_user: str = "api.sms"           # login ID of the API user (the OAuth client_id)
    api_user_first_name: str = "SMS"
    api_user_last_name: str = "API"
    api_user_team: str = "Admins"       # team for a user the runbook creates
    admin_user: str = "admin"           # login ID holding Manage users + Manage phones; "" = none
    access_number: str = "+16502505674"  # the tenant's SMS access number, E.164
    chat_service: str = "SMS Chat"      # the chat service that must use the number as outbound account
    smoke_test: bool = False            # step 06 sends a real text only when this is true
    test_destination: str = EXAMPLE_DESTINATION  # E.164 handset that receives the smoke test
    smoke_message: str = "Bright Pattern SMS/MMS API onboarding test"
    smoke_timeout: float = 60.0         # seconds to wait for delivered/failed
    poll_interval: float = 2.0          # seconds between Get Message polls
    practice_mode: bool = False         # emulator only: perform admin-UI steps through its console
    dry_run: bool = False               # observe and report, change nothing
    ca_bundle: str = ""                 # PEM bundle for a tenant behind a private CA
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    # ------------------------------------------------------------------ derived values
    @property
    def base_url(self) -> str:
        if self.tenant_url == EMULATOR:
            return os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL
        return self.tenant_url

    @property
    def effective_scope(self) -> str:
        if self.scope:
            return self.scope
        if self.tenant_url == EMULATOR:
            return "example.brightpattern.com"  # the default seed's tenant
        return urlsplit(self.base_url).hostname or ""

    @property
    def targets_loopback(self) -> bool:
        return is_loopback(urlsplit(self.base_url).hostname or "")

    def public(self) -> dict:
        """The parameters as a plain dict (they hold no secret by construction)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> RunbookParams:
        return validate(self.public() | changes)


PARAMETER_NAMES = tuple(f.name for f in fields(RunbookParams))
_TYPES = {f.name: f.type for f in fields(RunbookParams)}


def _coerce(name: str, value, kind: str):
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.strip().lower() in ("true", "yes", "1")
        raise ParameterError(name, f"{value!r} is not true or false", f"set {name}: true or {name}: false")
    if kind == "float":
        if isinstance(value, bool):
            raise ParameterError(name, f"{value!r} is not a number", f"give {name} in seconds, e.g. 30")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError(name, f"{value!r} is not a number", f"give {name} in seconds, e.g. 30") from None
        if number <= 0:
            raise ParameterError(name, f"{number} is not positive", f"give {name} as a positive number of seconds")
        return number
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML turns 16502505674 into an int and drops the '+': refuse rather than guess.
        raise ParameterError(name, f"{value!r} was read as a number, not text",
                             f"quote it in the YAML file, e.g. {name}: \"+{value}\"" if "number" in name or "destination" in name
                             else f"quote it in the YAML file, e.g. {name}: \"{value}\"")
    if not isinstance(value, str):
        raise ParameterError(name, f"{value!r} is not text", f"give {name} as a string")
    return value.strip()


def e164(name: str, value: str) -> str:
    """Validate and normalise a phone number to E.164 with the phonenumbers library."""
    import phonenumbers  # imported here: only validation needs it

    fix = f"give {name} in E.164 form with country code, e.g. +16502505674"
    if not value.startswith("+"):
        raise ParameterError(name, f"{value!r} has no leading '+' and country code", fix)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ParameterError(name, f"{value!r} is not a phone number ({exc})", fix) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ParameterError(name, f"{value!r} is not a possible phone number", fix)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate(values: dict) -> RunbookParams:
    """Build RunbookParams from a mapping; raise ParameterError for the first problem found."""
    if not isinstance(values, dict):
        raise ParameterError("<parameters>", "the parameters are not a mapping of name to value",
                             "write one 'name: value' per line in the YAML file")
    for key in values:
        if SECRET_KEY.search(str(key)):
            raise ParameterError(key, "secrets are never parameters (papermill writes parameters into every output notebook in plain text)",
                                 "remove it from the parameters and provide it through BP_API_SECRET / BP_ADMIN_SECRET "
                                 "or the keyring (see README, Secrets)")
    unknown = sorted(set(values) - set(PARAMETER_NAMES))
    if unknown:
        raise ParameterError(unknown[0], "is not a runbook parameter",
                             f"remove it or check the spelling; known parameters: {', '.join(PARAMETER_NAMES)}")
    clean = {name: _coerce(name, value, _TYPES[name]) for name, value in values.items()}
    for name, value in clean.items():
        if isinstance(value, str) and TOKEN_SHAPED.fullmatch(value):
            raise ParameterError(name, "holds a value shaped like an API secret or token",
                                 "remove it: secrets come from BP_API_SECRET / BP_ADMIN_SECRET or the keyring, never parameters")
    params = RunbookParams(**clean)

    if params.tenant_url != EMULATOR:
        check_base_url(params.tenant_url, "tenant_url")
    else:
        check_base_url(params.base_url, EMULATOR_URL_ENV)
    if params.scope and not re.fullmatch(r"[A-Za-z0-9.-]+", params.scope):
        raise ParameterError("scope", f"{params.scope!r} is not a host name", "give the tenant host, e.g. example.brightpattern.com")
    for name in ("role", "api_user", "api_user_first_name", "api_user_last_name", "api_user_team", "chat_service"):
        if not getattr(params, name):
            raise ParameterError(name, "is empty", f"give the {name.replace('_', ' ')}")
    for name in ("api_user", "admin_user"):
        value = getattr(params, name)
        if value and not LOGIN_ID.match(value):
            raise ParameterError(name, f"{value!r} is not a valid login ID", "use letters, digits and . _ @ + -")
    if params.admin_user and params.admin_user == params.api_user:
        raise ParameterError("admin_user", "is the same user as api_user",
                             "use a separate administrator (Manage users, Manage phones), or '' for none")
    changes = {"access_number": e164("access_number", params.access_number),
               "test_destination": e164("test_destination", params.test_destination)}
    if params.smoke_test and not params.targets_loopback and changes["test_destination"] == EXAMPLE_DESTINATION:
        raise ParameterError("test_destination", "is still the example number while smoke_test is on for a real tenant",
                             "set test_destination to a handset you own, or set smoke_test: false")
    if params.ca_bundle and not Path(params.ca_bundle).is_file():
        raise ParameterError("ca_bundle", f"{params.ca_bundle!r} is not a file", "give the path of a PEM CA bundle, or ''")
    if params.practice_mode and not params.targets_loopback:
        raise ParameterError("practice_mode", "is only allowed against the local emulator",
                             "set practice_mode: false for a real tenant; the admin-UI steps stay guided")
    return dataclasses.replace(params, **changes)


def load(path: str | Path) -> RunbookParams:
    """Read a YAML parameter file and validate it."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParameterError("--params", f"{str(path)!r} does not exist", "give the path of a YAML file such as params/demo.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParameterError("--params", f"{path} is not valid YAML{where}", "fix the syntax (one 'name: value' per line)") from None
    return validate(data)


def refuse_secret_values(params: RunbookParams, secrets: list[str]) -> None:
    """A parameter whose value is a known secret would be written in clear into every output notebook."""
    for name, value in params.public().items():
        if isinstance(value, str) and any(s in value for s in secrets if len(s) >= 6):
            raise ParameterError(name, "holds the value of a secret",
                                 "remove it from the parameter file; secrets come from the environment or the keyring")


def from_namespace(namespace: dict, names=PARAMETER_NAMES) -> RunbookParams:
    """The parameters a notebook's parameters cell defined: its variables with these names."""
    return validate({name: namespace[name] for name in names if name in namespace})
