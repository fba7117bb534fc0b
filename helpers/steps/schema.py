"""The typed parameter schema: each parameter says once what it is, and everything else is derived.

A field of a `@schema` dataclass is declared with `param(default, KIND, "one-line comment", ...)`:
its Python type (str, bool or float, from the kind), its default, the comment the notebook's
parameters cell shows (what `papermill --help-notebook` prints), bounds for seconds, whether it
must not be empty, and whether the notebook form shows it. Validation (helpers.steps.params), the
notebooks' parameters cells (helpers.tools.build) and the forms' widgets (helpers.notebook.forms)
read these, and nothing else.

No secret is ever a parameter (papermill writes parameters into every output notebook in plain
text): `@schema` refuses, when the class is defined, a field typed as `Secret` (or any type but
str, bool and float) and a field whose name looks like a secret's.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from helpers.errors import ParameterError
from helpers.safety.secrets import Secret
from helpers.tenant.transport import check_base_url, is_host_name, normalise_host

EMULATOR = "emulator"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8765"
EMULATOR_URL_ENV = "BP_EMULATOR_URL"
SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|api[_-]?key", re.I)
LOGIN_ID = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")
META = "runbook parameter"  # the key of a field's metadata that holds its Param


def emulator_url() -> str:
    """Where "emulator" points: $BP_EMULATOR_URL, else the default port on loopback."""
    return os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL


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


def _url(name: str, value: str) -> str:
    if value == EMULATOR:
        check_base_url(emulator_url(), EMULATOR_URL_ENV)
    else:
        check_base_url(value, name)
    return value


def _host(name: str, value: str) -> str:
    if value and (not is_host_name(value) or not normalise_host(value)):
        raise ParameterError(name, "is not a host name", "give the tenant host, e.g. example.brightpattern.com")
    return normalise_host(value) if value else value


def _login(name: str, value: str) -> str:
    if value and not LOGIN_ID.match(value):
        raise ParameterError(name, "is not a valid login ID", "use at most 128 letters, digits and . _ @ + -")
    return value


def _file(name: str, value: str) -> str:
    if value and not Path(value).is_file():
        raise ParameterError(name, "is not a file", "give the path of a PEM CA bundle, or ''")
    return value


@dataclass(frozen=True)
class Kind:
    """What kind of value a parameter holds: its Python type, the form's widget, and its own check
    (a function of the parameter's name and value that returns the value normalised, or raises)."""

    name: str
    type: type
    widget: str  # "text", "float" or "checkbox"
    check: Callable[[str, str], str] | None = None
    example: str = '"text"'  # how the YAML file should spell it, when YAML read it as a number
    may_look_like_token: bool = False  # a login ID may be long and plain: checked against the known secrets instead


TEXT = Kind("text", str, "text")
PHONE = Kind("phone number", str, "text", e164, example='"+16502505674"')
LOGIN = Kind("login ID", str, "text", _login, may_look_like_token=True)
URL = Kind("URL", str, "text", _url)
HOST = Kind("host", str, "text", _host)
FILE = Kind("file", str, "text", _file)
SECONDS = Kind("seconds", float, "float")
FLAG = Kind("flag", bool, "checkbox")
KINDS = (TEXT, PHONE, LOGIN, URL, HOST, FILE, SECONDS, FLAG)


@dataclass(frozen=True)
class Param:
    kind: Kind
    comment: str  # one line, shown in the parameters cell, by `papermill --help-notebook` and as the form's tooltip
    bounds: tuple[float, float] | None = None  # seconds: (more than 0, or at least a minimum > 0; at most)
    required: bool = False  # must not be empty
    in_form: bool = True  # whether a notebook's form shows it
    advanced: bool = False  # in the form, folded under "Advanced": what a person rarely needs to change


def param(default, kind: Kind, comment: str, *, bounds: tuple[float, float] | None = None, required: bool = False,
          in_form: bool = True, advanced: bool = False):
    """A field of a `@schema` dataclass: its default and everything else known about it."""
    return field(default=default, metadata={META: Param(kind, comment, bounds, required, in_form, advanced)})


def _type_name(annotation) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))


def _refuse(cls, name: str, why: str):
    raise TypeError(f"{cls.__name__}.{name}: {why}")


def schema(cls):
    """Make `cls` a frozen dataclass of parameters, and refuse at once a field that could carry a
    secret or that lacks what the notebooks, forms and validation need."""
    for name, annotation in inspect.get_annotations(cls).items():
        typed = _type_name(annotation)
        if annotation is Secret or (isinstance(annotation, type) and issubclass(annotation, Secret)) or re.search(
                r"\bSecret\b", typed):
            _refuse(cls, name, "a Secret can never be a parameter (papermill writes parameters into every output "
                               "notebook in plain text); secrets come from BP_API_SECRET / BP_ADMIN_SECRET or the keyring")
        if SECRET_KEY.search(name):
            _refuse(cls, name, "the name looks like a secret's, and secrets are never parameters")
    cls = dataclass(frozen=True)(cls)
    for f in fields(cls):
        meta = f.metadata.get(META)
        if not isinstance(meta, Param):
            _refuse(cls, f.name, "declare it with param(default, KIND, comment)")
        if _type_name(f.type) != meta.kind.type.__name__:
            _refuse(cls, f.name, f"a {meta.kind.name} is typed {meta.kind.type.__name__}, not {_type_name(f.type)}")
        if type(f.default) is not meta.kind.type:
            _refuse(cls, f.name, f"the default is not a {meta.kind.type.__name__}")
        if "\n" in meta.comment or '"' in meta.comment or not meta.comment.strip():
            _refuse(cls, f.name, "the comment must be one line without double quotes (papermill's parser stops at one)")
        if (meta.kind is SECONDS) != (meta.bounds is not None):
            _refuse(cls, f.name, "seconds, and only seconds, have bounds")
        if meta.bounds and not meta.bounds[0] < f.default <= meta.bounds[1]:
            _refuse(cls, f.name, "the default is out of its bounds")
    return cls


def parameters_of(cls) -> dict[str, Param]:
    """Every parameter of a `@schema` class with its Param, in declaration order."""
    return {f.name: f.metadata[META] for f in fields(cls)}


def coerce(name: str, value, spec: Param):
    """A value read from YAML, a form or a notebook as the parameter's type; raises ParameterError."""
    if spec.kind.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.strip().lower() in ("true", "yes", "1")
        raise ParameterError(name, "is not true or false", f"set {name}: true or {name}: false")
    if spec.kind.type is float:
        low, high = spec.bounds or (0, float("inf"))
        # A zero lower bound is exclusive (0 s never makes sense); a positive one is a minimum, inclusive.
        floor = f"at least {low:g}" if low > 0 else f"more than {low:g}"
        example = max(30.0, low) if high >= 30 else high
        fix = f"give {name} in seconds, {floor} and at most {high:g}, e.g. {example:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ParameterError(name, "is not a number", fix)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(name, "is not a number", fix) from None
        if not math.isfinite(number):
            raise ParameterError(name, "is not a finite number", fix)
        if not (low <= number if low > 0 else low < number) or number > high:
            raise ParameterError(name, f"is out of range ({floor} and at most {high:g} seconds)", fix)
        return number
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML turns 16502505674 into an int and drops the '+': refuse rather than guess.
        raise ParameterError(name, "was read as a number, not text",
                             f"quote it in the YAML file, e.g. {name}: {spec.kind.example}")
    if not isinstance(value, str):
        raise ParameterError(name, f"is not text (it is a {type(value).__name__})", f"give {name} as a string")
    return value.strip()


def check_kind(params, kind: Kind, specs: dict[str, Param]):
    """Every parameter of this kind passes its kind's check, in declaration order; normalised values replace."""
    changes = {name: kind.check(name, getattr(params, name)) for name, spec in specs.items() if spec.kind is kind}
    return dataclasses.replace(params, **changes) if changes else params


def check_required(params, specs: dict[str, Param]):
    for name, spec in specs.items():
        if spec.required and not getattr(params, name):
            raise ParameterError(name, "is empty", f"give the {name.replace('_', ' ')}")
    return params
