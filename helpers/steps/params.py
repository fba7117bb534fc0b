"""Runbook parameters: defaults, loading from YAML, and validation with errors that say what to fix.

No secret is ever a parameter: a key that looks like one is refused.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from helpers.errors import TOKEN_SHAPED, ParameterError
from helpers.safety.secrets import MIN_SECRET_LENGTH
from helpers.tenant.transport import check_base_url, is_host_name, is_loopback, normalise_host

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
    resend_unconfirmed: bool = False    # send although an earlier text may have gone out (its fate unknown)
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
        """The tenant host for the token request, lower case without a trailing dot, so that one
        tenant always gets one lock, one record folder and one history."""
        if self.scope:
            return normalise_host(self.scope)
        if self.tenant_url == EMULATOR:
            return "example.brightpattern.com"  # the default seed's tenant
        return normalise_host(urlsplit(self.base_url).hostname or "")

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
# Seconds: (more than, at most). A timeout of days is a typo, and NaN or infinity would never end.
BOUNDS = {"connect_timeout": (0, 300), "read_timeout": (0, 3600), "smoke_timeout": (0, 3600), "poll_interval": (0, 600)}
LOGIN_FIELDS = ("api_user", "admin_user")
SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,40}$")

# Error messages never repeat a parameter's value: a value may be a secret pasted by mistake.


def describe_key(key) -> str:
    """A YAML key as an error message may show it: its name when it looks like one, else its shape."""
    if isinstance(key, str) and SAFE_NAME.match(key) and not TOKEN_SHAPED.search(key):
        return key
    return f"<a key of {len(key)} characters>" if isinstance(key, str) else f"<a {type(key).__name__} key>"


def _coerce(name: str, value, kind: str):
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.strip().lower() in ("true", "yes", "1")
        raise ParameterError(name, "is not true or false", f"set {name}: true or {name}: false")
    if kind == "float":
        low, high = BOUNDS.get(name, (0, float("inf")))
        fix = f"give {name} in seconds, more than {low:g} and at most {high:g}, e.g. 30"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ParameterError(name, "is not a number", fix)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(name, "is not a number", fix) from None
        if not math.isfinite(number):
            raise ParameterError(name, "is not a finite number", fix)
        if not low < number <= high:
            raise ParameterError(name, f"is out of range (more than {low:g} and at most {high:g} seconds)", fix)
        return number
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML turns 16502505674 into an int and drops the '+': refuse rather than guess.
        example = '"+16502505674"' if "number" in name or "destination" in name else '"text"'
        raise ParameterError(name, "was read as a number, not text", f"quote it in the YAML file, e.g. {name}: {example}")
    if not isinstance(value, str):
        raise ParameterError(name, f"is not text (it is a {type(value).__name__})", f"give {name} as a string")
    return value.strip()


def e164(name: str, value: str) -> str:
    """Validate and normalise a phone number to E.164 with the phonenumbers library."""
    import phonenumbers  # imported here: only validation needs it

    fix = f"give {name} in E.164 form with country code, e.g. +16502505674"
    if any(ch.isalpha() for ch in value):
        raise ParameterError(name, "contains letters (vanity numbers are not accepted)", fix)
    if not value.startswith("+"):
        raise ParameterError(name, "has no leading '+' and country code", fix)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ParameterError(name, "is not a phone number", fix) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ParameterError(name, "is not a possible phone number", fix)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate(values: dict) -> RunbookParams:
    """Build RunbookParams from a mapping; raise ParameterError for the first problem found."""
    if not isinstance(values, dict):
        raise ParameterError("<parameters>", "the parameters are not a mapping of name to value",
                             "write one 'name: value' per line in the YAML file")
    for key in values:
        if not isinstance(key, str):
            raise ParameterError(describe_key(key), "is not a parameter name",
                                 "write one 'name: value' per line, names as text")
        if SECRET_KEY.search(key):
            raise ParameterError(describe_key(key), "secrets are never parameters (papermill writes parameters into "
                                 "every output notebook in plain text)",
                                 "remove it from the parameters and provide it through BP_API_SECRET / BP_ADMIN_SECRET "
                                 "or the keyring (see README, Secrets)")
    unknown = sorted(set(values) - set(PARAMETER_NAMES))
    if unknown:
        raise ParameterError(describe_key(unknown[0]), "is not a runbook parameter",
                             f"remove it or check the spelling; known parameters: {', '.join(PARAMETER_NAMES)}")
    clean = {name: _coerce(name, value, _TYPES[name]) for name, value in values.items()}
    for name, value in clean.items():
        # Login IDs may be long and plain; they are checked against the known secrets instead.
        if isinstance(value, str) and name not in LOGIN_FIELDS and TOKEN_SHAPED.search(value):
            raise ParameterError(name, "holds a value shaped like an API secret or token",
                                 "remove it: secrets come from BP_API_SECRET / BP_ADMIN_SECRET or the keyring, never parameters")
    if clean.get("scope"):
        if not is_host_name(clean["scope"]) or not normalise_host(clean["scope"]):
            raise ParameterError("scope", "is not a host name", "give the tenant host, e.g. example.brightpattern.com")
        clean["scope"] = normalise_host(clean["scope"])
    params = RunbookParams(**clean)

    if params.tenant_url != EMULATOR:
        check_base_url(params.tenant_url, "tenant_url")
    else:
        check_base_url(params.base_url, EMULATOR_URL_ENV)
    for name in ("role", "api_user", "api_user_first_name", "api_user_last_name", "api_user_team", "chat_service"):
        if not getattr(params, name):
            raise ParameterError(name, "is empty", f"give the {name.replace('_', ' ')}")
    for name in LOGIN_FIELDS:
        value = getattr(params, name)
        if value and not LOGIN_ID.match(value):
            raise ParameterError(name, "is not a valid login ID", "use at most 128 letters, digits and . _ @ + -")
    if params.admin_user and params.admin_user == params.api_user:
        raise ParameterError("admin_user", "is the same user as api_user",
                             "use a separate administrator (Manage users, Manage phones), or '' for none")
    if params.poll_interval > params.smoke_timeout:
        raise ParameterError("poll_interval", "is longer than smoke_timeout", "poll more often than the timeout")
    changes = {"access_number": e164("access_number", params.access_number),
               "test_destination": e164("test_destination", params.test_destination)}
    # Only the named emulator may text the example number: a loopback address may be a tunnel to a tenant.
    if params.smoke_test and params.tenant_url != EMULATOR and changes["test_destination"] == EXAMPLE_DESTINATION:
        raise ParameterError("test_destination", "is still the example number while smoke_test is on for a real tenant",
                             "set test_destination to a handset you own, or set smoke_test: false")
    if params.ca_bundle and not Path(params.ca_bundle).is_file():
        raise ParameterError("ca_bundle", "is not a file", "give the path of a PEM CA bundle, or ''")
    if params.practice_mode and not params.targets_loopback:
        raise ParameterError("practice_mode", "is only allowed against the local emulator",
                             "set practice_mode: false for a real tenant; the admin-UI steps stay guided")
    return dataclasses.replace(params, **changes)


class _UniqueKeyLoader:
    """PyYAML's safe loader, refusing a key given twice (PyYAML keeps the last one silently)."""

    @staticmethod
    def build():
        import yaml

        class Loader(yaml.SafeLoader):
            def construct_mapping(self, node, deep=False):
                seen = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=deep)
                    if isinstance(key, str) and key in seen:
                        raise ParameterError("--params", f"the key {describe_key(key)} appears twice (line "
                                             f"{key_node.start_mark.line + 1})", "keep one of them")
                    if isinstance(key, str):
                        seen.add(key)
                return super().construct_mapping(node, deep=deep)

        return Loader


def load(path: str | Path) -> RunbookParams:
    """Read a YAML parameter file and validate it."""
    import yaml

    if not str(path).strip():
        raise ParameterError("--params", "is empty", "give the path of a YAML file such as params/demo.yaml")
    path = Path(path)
    if not path.is_file():
        raise ParameterError("--params", f"{str(path)!r} does not exist", "give the path of a YAML file such as params/demo.yaml")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ParameterError("--params", f"{path} is not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise ParameterError("--params", f"{path} cannot be read ({exc.strerror})", "check its permissions") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader.build())
    except RecursionError:
        raise ParameterError("--params", f"{path} nests too deeply to be a parameter file",
                             "write one 'name: value' per line") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParameterError("--params", f"{path} is not valid YAML{where}", "fix the syntax (one 'name: value' per line)") from None
    if data is None:
        raise ParameterError("--params", f"{path} is empty", "write one 'name: value' per line, at least tenant_url")
    return validate(data)


def refuse_secret_values(params: RunbookParams, secrets: list[str]) -> None:
    """A parameter whose value is a known secret would be written in clear into every output notebook."""
    for name, value in params.public().items():
        if isinstance(value, str) and any(s in value for s in secrets if len(s) >= MIN_SECRET_LENGTH):
            raise ParameterError(name, "holds the value of a secret",
                                 "remove it from the parameter file; secrets come from the environment or the keyring")


def from_namespace(namespace: dict, names=PARAMETER_NAMES) -> RunbookParams:
    """The parameters a notebook's parameters cell defined: its variables with these names."""
    return validate({name: namespace[name] for name in names if name in namespace})
