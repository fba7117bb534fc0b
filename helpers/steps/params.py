"""Runbook parameters: the one typed schema (RunbookParams), loading from YAML, and validation with
errors that say what to fix.

Each field says once what it is (helpers.steps.schema): its type, default, one-line comment, kind of
value and bounds. Validation here, the notebooks' parameters cells and the forms' widgets all read
that. No secret is ever a parameter: a field typed as one, or named like one, is refused when the
class is defined; a key that looks like one, or a Secret given as a value, is refused by `validate`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import urlsplit

from helpers.errors import TOKEN_SHAPED, ParameterError
from helpers.safety.secrets import MIN_SECRET_LENGTH, Secret
from helpers.steps.schema import (
    DEFAULT_EMULATOR_URL,
    EMULATOR,
    EMULATOR_URL_ENV,
    FILE,
    FLAG,
    HOST,
    KINDS,
    LOGIN,
    PHONE,
    SECONDS,
    SECRET_KEY,
    TEXT,
    URL,
    Kind,
    check_kind,
    check_required,
    coerce,
    emulator_url,
    param,
    parameters_of,
    schema,
)
from helpers.tenant.transport import is_loopback, normalise_host

EXAMPLE_DESTINATION = "+15551234567"

MIN_POLL_INTERVAL = 0.5  # seconds: Get Message at most twice a second, whatever a parameter file says


# The comments are what `papermill --help-notebook` shows: short, so no line runs off the page.
@schema
class RunbookParams:
    """Every runbook parameter with its default. Each notebook declares the ones its step uses."""

    tenant_url: str = param(EMULATOR, URL, "emulator (the local one), or https://<tenant host>")
    scope: str = param("", HOST, "tenant host for the token request; empty: from tenant_url",
                        advanced=True)
    role: str = param("SMS API", TEXT, "role that must hold 'Use SMS/MMS API'", required=True, advanced=True)
    api_user: str = param("api.sms", LOGIN, "login ID of the API user (the OAuth client_id)", required=True,
                         advanced=True)
    api_user_first_name: str = param("SMS", TEXT, "if the runbook creates the user", required=True,
                                    advanced=True)
    api_user_last_name: str = param("API", TEXT, "if the runbook creates the user", required=True,
                                   advanced=True)
    api_user_team: str = param("Admins", TEXT, "team, if the runbook creates the user", required=True,
                               advanced=True)
    admin_user: str = param("admin", LOGIN, "holds Manage users + Manage phones; empty: none", advanced=True)
    access_number: str = param("+16502505674", PHONE, "the tenant's SMS access number, E.164", advanced=True)
    chat_service: str = param("SMS Chat", TEXT, "its Outbound chat accounts must hold the number", required=True,
                             advanced=True)
    smoke_test: bool = param(False, FLAG, "True sends ONE real text message")
    test_destination: str = param(EXAMPLE_DESTINATION, PHONE, "E.164 handset that receives it")
    smoke_message: str = param("Bright Pattern SMS/MMS API onboarding test", TEXT, "text of the test message",
                              advanced=True)
    # Seconds have bounds (more than, at most): a timeout of days is a typo, and NaN or infinity would never end.
    smoke_timeout: float = param(60.0, SECONDS, "seconds to wait for delivered / failed", bounds=(0, 3600),
                                 advanced=True)
    # A minimum protects the tenant: Get Message at most twice a second (docs/running.md, Bounds).
    poll_interval: float = param(2.0, SECONDS, "seconds between Get Message calls",
                                 bounds=(MIN_POLL_INTERVAL, 600), advanced=True)
    resend_unconfirmed: bool = param(False, FLAG, "True: send although an earlier text may have gone",
                                     advanced=True)
    practice_mode: bool = param(False, FLAG, "emulator only: act through its console")
    dry_run: bool = param(False, FLAG, "observe and report; change nothing", advanced=True)
    ca_bundle: str = param("", FILE, "PEM bundle of a private CA; empty: system trust", advanced=True)
    # The forms show tenant_url, practice_mode, smoke_test and test_destination (and the step's secret fields):
    # what a person at a page changes; the rest is folded under "Advanced". They leave the network timeouts
    # out: a person at a page has no reason to change them.
    connect_timeout: float = param(5.0, SECONDS, "seconds to connect", bounds=(0, 300), in_form=False)
    read_timeout: float = param(30.0, SECONDS, "seconds to wait for an answer", bounds=(0, 3600), in_form=False)

    # ------------------------------------------------------------------ derived values
    @property
    def base_url(self) -> str:
        return emulator_url() if self.tenant_url == EMULATOR else self.tenant_url

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


PARAMETERS = parameters_of(RunbookParams)  # name -> Param (kind, comment, bounds, required, in_form)
PARAMETER_NAMES = tuple(PARAMETERS)
SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,40}$")
NO_SECRETS = ("secrets are never parameters (papermill writes parameters into every output notebook in plain text)",
              "remove it from the parameters and provide it through BP_API_SECRET / BP_ADMIN_SECRET or the keyring "
              "(see README, Secrets)")

# Error messages never repeat a parameter's value: a value may be a secret pasted by mistake.


def describe_key(key) -> str:
    """A YAML key as an error message may show it: its name when it looks like one, else its shape."""
    if isinstance(key, str) and SAFE_NAME.match(key) and not TOKEN_SHAPED.search(key):
        return key
    return f"<a key of {len(key)} characters>" if isinstance(key, str) else f"<a {type(key).__name__} key>"


def _distinct_users(params: RunbookParams) -> RunbookParams:
    if params.admin_user and params.admin_user == params.api_user:
        raise ParameterError("admin_user", "is the same user as api_user",
                             "use a separate administrator (Manage users, Manage phones), or '' for none")
    return params


def _poll_within_timeout(params: RunbookParams) -> RunbookParams:
    if params.poll_interval > params.smoke_timeout:
        raise ParameterError("poll_interval", "is longer than smoke_timeout", "poll more often than the timeout")
    return params


def _no_example_destination(params: RunbookParams) -> RunbookParams:
    # Only the named emulator may text the example number: a loopback address may be a tunnel to a tenant.
    if params.smoke_test and params.tenant_url != EMULATOR and params.test_destination == EXAMPLE_DESTINATION:
        raise ParameterError("test_destination", "is still the example number while smoke_test is on for a real tenant",
                             "set test_destination to a handset you own, or set smoke_test: false")
    return params


def _practice_on_loopback(params: RunbookParams) -> RunbookParams:
    if params.practice_mode and not params.targets_loopback:
        raise ParameterError("practice_mode", "is only allowed against the local emulator",
                             "set practice_mode: false for a real tenant; the admin-UI steps stay guided")
    return params


# After each value has its type, in this order (the first problem found is the one reported): each
# kind's own check over every parameter of that kind, "required" (not empty), and the rules that
# relate two parameters.
STAGES = (HOST, URL, "required", LOGIN, _distinct_users, _poll_within_timeout, PHONE, _no_example_destination, FILE,
          _practice_on_loopback)
if not {k for k in KINDS if k.check} <= set(STAGES):
    raise TypeError("a kind with a check is missing from STAGES")


def validate(values: dict) -> RunbookParams:
    """Build RunbookParams from a mapping; raise ParameterError for the first problem found."""
    if not isinstance(values, dict):
        raise ParameterError("<parameters>", "the parameters are not a mapping of name to value",
                             "write one 'name: value' per line in the YAML file")
    for key, value in values.items():
        if not isinstance(key, str):
            raise ParameterError(describe_key(key), "is not a parameter name",
                                 "write one 'name: value' per line, names as text")
        if SECRET_KEY.search(key):
            raise ParameterError(describe_key(key), *NO_SECRETS)
        if isinstance(value, Secret):
            raise ParameterError(describe_key(key), f"is a Secret: {NO_SECRETS[0]}", NO_SECRETS[1])
    unknown = sorted(set(values) - set(PARAMETER_NAMES))
    if unknown:
        raise ParameterError(describe_key(unknown[0]), "is not a runbook parameter",
                             f"remove it or check the spelling; known parameters: {', '.join(PARAMETER_NAMES)}")
    clean = {name: coerce(name, value, PARAMETERS[name]) for name, value in values.items()}
    for name, value in clean.items():
        if isinstance(value, str) and not PARAMETERS[name].kind.may_look_like_token and TOKEN_SHAPED.search(value):
            raise ParameterError(name, "holds a value shaped like an API secret or token",
                                 "remove it: secrets come from BP_API_SECRET / BP_ADMIN_SECRET or the keyring, never parameters")
    params = RunbookParams(**clean)
    for stage in STAGES:
        if stage == "required":
            params = check_required(params, PARAMETERS)
        elif isinstance(stage, Kind):
            params = check_kind(params, stage, PARAMETERS)
        else:
            params = stage(params)
    return params


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


def _not_a_file(path: Path) -> str:
    """Why `path` is not a regular file, in words: a device, a folder or a fifo is named as such."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    kinds = ((stat.S_ISDIR, "is a folder, not a file (one file here; a folder of them runs a fleet)"),
             (stat.S_ISCHR, "is a device, not a regular file"), (stat.S_ISBLK, "is a device, not a regular file"),
             (stat.S_ISFIFO, "is a fifo (named pipe), not a regular file"),
             (stat.S_ISSOCK, "is a socket, not a regular file"))
    return next((what for test, what in kinds if test(mode)), "is not a regular file")


def load(path: str | Path) -> RunbookParams:
    """Read a YAML parameter file and validate it."""
    import yaml

    if not str(path).strip():
        raise ParameterError("--params", "is empty", "give the path of a YAML file such as params/demo.yaml")
    path = Path(path)
    if not path.is_file():
        raise ParameterError("--params", f"{str(path)!r} {_not_a_file(path)}",
                             "give the path of a YAML file such as params/demo.yaml")
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


__all__ = ["DEFAULT_EMULATOR_URL", "EMULATOR", "EMULATOR_URL_ENV", "EXAMPLE_DESTINATION", "PARAMETERS", "PARAMETER_NAMES",
           "RunbookParams", "from_namespace", "load", "refuse_secret_values", "validate"]
