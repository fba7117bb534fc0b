"""A masked Secret type: its repr, str and format never show the value.

The value leaves the object only through `reveal()`, which the HTTP layer calls when it builds a
form body or an Authorization header. Nothing else should.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MASK = "********"
# Shorter secrets are refused: they cannot be told from ordinary words, so they could not be
# scrubbed from records reliably (and no real API secret is that short).
MIN_SECRET_LENGTH = 8


class Secret:
    __slots__ = ("_value", "name", "source")

    def __init__(self, value: str, *, name: str = "secret", source: str = "unknown"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"secret {name!r} from {source} is empty")
        self._value = value.strip()
        self.name, self.source = name, source

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """A short, non-reversible tag to tell two secrets apart in a record."""
        return "sha256:" + hashlib.sha256(self._value.encode()).hexdigest()[:10]

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, source={self.source!r}, value={MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        # Pickling would write the value somewhere we do not control.
        raise TypeError("Secret cannot be pickled")


# ---------------------------------------------------------------------------------------------
# Where secrets come from. Never from parameters; in this order:
#   1. this process's memory (the notebook form's Password field),
#   2. environment variables,
#   3. the private handoff file (0600; the runner's, or the interactive default under ~/.cache),
#   4. the OS keyring, when the `keyring` package is installed and has a usable backend.

SECRET_ENV = {"api": "BP_API_SECRET", "admin": "BP_ADMIN_SECRET"}


def tenant_env_name(role: str, scope: str) -> str:
    """The variable that holds one tenant's secret: BP_API_SECRET__ACME_BRIGHTPATTERN_COM for the scope
    acme.brightpattern.com. A fleet names each tenant's secrets so; one tenant alone may use either."""
    key = "".join(ch if ch.isalnum() else "_" for ch in scope.strip().lower().rstrip(".")).upper()
    return f"{SECRET_ENV[role]}__{key}"


def secret_variables(environ) -> dict[str, str]:
    """Every BP_API_SECRET / BP_ADMIN_SECRET variable, generic or per tenant, with a value."""
    return {name: value.strip() for name, value in environ.items()
            if name.split("__")[0] in SECRET_ENV.values() and isinstance(value, str) and value.strip()}
HANDOFF_ENV = "BP_RUNBOOK_HANDOFF"
# In the runner's private handoff file: where each secret came from ({key: source}), so that a refusal names
# the file a person can delete (their handoff file), not the runner's temporary copy. Never a secret.
SOURCES_KEY = "_sources"
DEFAULT_HANDOFF = Path.home() / ".cache" / "bp-sms-runbook" / "handoff.json"
KEYRING_SERVICE = "bp-sms-runbook"

_memory: dict[str, str] = {}


def clear_memory() -> None:
    """Forget the secrets handed over in this process (tests; a new tenant in the same kernel)."""
    _memory.clear()


def handoff_path(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(HANDOFF_ENV) or DEFAULT_HANDOFF)


def read_handoff(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_private_json(path: Path, data: dict) -> None:
    """Write JSON readable by the owner only (directory 0700, file 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _drop_source(data: dict, key: str) -> None:
    if isinstance(data.get(SOURCES_KEY), dict):
        data[SOURCES_KEY].pop(key, None)


def _keyring():
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration must not break the runbook
        return None
    return None if isinstance(backend, fail.Keyring) else keyring


class SecretStore:
    """Finds the API user's and the admin's secrets for one tenant without ever storing them in
    a parameter. `role` is "api" (the API user's secret) or "admin"."""

    def __init__(self, base_url: str, scope: str, logins: dict[str, str], environ=None, use_keyring: bool = True):
        self.base_url, self.scope, self.logins = base_url, scope, logins
        self.environ = os.environ if environ is None else environ
        self.use_keyring = use_keyring

    @classmethod
    def for_params(cls, params, environ=None) -> SecretStore:
        """The store for a runbook's parameters (a RunbookParams): its tenant, API user and admin."""
        return cls(params.base_url, params.effective_scope, {"api": params.api_user, "admin": params.admin_user}, environ)

    def _key(self, role: str) -> str:
        return f"{self.base_url} {self.scope} {self.logins.get(role, '')}"

    def get(self, role: str) -> Secret | None:
        login = self.logins.get(role)
        if not login:
            return None
        name = f"{role} secret ({login})"
        key = self._key(role)
        if key in _memory:
            return Secret(_memory[key], name=name, source="entered in the form")
        for env in (tenant_env_name(role, self.scope), SECRET_ENV[role]):  # the tenant's own variable first
            if self.environ.get(env, "").strip():
                return Secret(self.environ[env], name=name, source=f"environment variable {env}")
        path = handoff_path(self.environ)
        data = read_handoff(path)
        value = data.get(key)
        if value and isinstance(value, str):
            origin = data.get(SOURCES_KEY, {}).get(key) if isinstance(data.get(SOURCES_KEY), dict) else None
            return Secret(value, name=name, source=origin if isinstance(origin, str) else f"handoff file {path}")
        ring = _keyring() if self.use_keyring else None
        if ring is not None:
            try:
                value = ring.get_password(KEYRING_SERVICE, f"{self.scope}/{login}")
            except Exception:
                value = None
            if value:
                return Secret(value, name=name, source=f"keyring ({KEYRING_SERVICE}, {self.scope}/{login})")
        return None

    def remember(self, role: str, value: str, *, persist: bool = True) -> Secret:
        """Keep a secret handed over during the run; `persist` also writes the private handoff file
        so the next notebook (a fresh kernel) finds it."""
        secret = Secret(value, name=f"{role} secret ({self.logins.get(role)})", source="entered in the form")
        key = self._key(role)
        _memory[key] = secret.reveal()
        if persist:
            path = handoff_path(self.environ)
            data = read_handoff(path)
            data[key] = secret.reveal()
            _drop_source(data, key)  # a new value: where the old one came from no longer applies
            write_private_json(path, data)
            secret.source = f"handoff file {path}"
        return secret

    def forget(self, role: str) -> None:
        key = self._key(role)
        _memory.pop(key, None)
        path = handoff_path(self.environ)
        data = read_handoff(path)
        if data.pop(key, None) is not None:
            _drop_source(data, key)
            write_private_json(path, data)

    def describe(self) -> list[dict]:
        """Which secrets are available and from where; never their values."""
        rows = []
        for role in ("api", "admin"):
            secret = self.get(role)
            rows.append({"secret": f"{role} secret", "user": self.logins.get(role) or "(none)",
                         "available": secret is not None, "source": secret.source if secret else
                         f"not found (set {SECRET_ENV[role]}, the form, the handoff file or the keyring)"})
        return rows

    def known_values(self) -> list[str]:
        """Every secret value this store can see, for the scrubber."""
        values = [s.reveal() for s in (self.get("api"), self.get("admin")) if s is not None]
        # Every tenant's variables, not only this one's: another tenant's secret in this record is a leak too.
        values += list(secret_variables(self.environ).values())
        values += list(_memory.values()) + [v for v in read_handoff(handoff_path(self.environ)).values() if isinstance(v, str)]
        return sorted(set(values) - {""})
