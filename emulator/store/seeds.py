"""Seeds: the built-in ones (emulator/seeds/*.yaml, chosen by name), a YAML file, or a dict; and
how one fills a fresh database through the resource modules."""

from __future__ import annotations

import copy
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..errors import BadRequest, EmulatorError
from .numbers import Numbers
from .settings import Settings
from .tenants import Tenants
from .tokens import Tokens
from .users import SEED_ONLY_USER_FIELDS, Users

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
DEFAULT_SEED = SEEDS_DIR / "default.yaml"


class SeedError(ValueError):
    """A seed that cannot be found or read: says which value and what to give instead."""


def seed_names() -> list[str]:
    return sorted(p.stem for p in SEEDS_DIR.glob("*.yaml"))


def resolve_seed(seed: str | Path | dict | None) -> Path | dict:
    """A seed given as a built-in name ("default", "docs"), a YAML file (str or Path) or a dict.

    A bare name of a built-in seed wins over a file of that name in the current folder; give
    "./docs" for such a file.
    """
    if seed is None:
        return DEFAULT_SEED
    if isinstance(seed, dict):
        return seed
    text = str(seed)
    if text in seed_names():
        return SEEDS_DIR / f"{text}.yaml"
    path = Path(text).expanduser()
    if path.is_file():
        return path
    raise SeedError(f"seed {text!r} is neither a built-in seed ({', '.join(seed_names())}) nor an existing YAML file")


def read_seed(seed: Path | dict) -> dict:
    if isinstance(seed, dict):
        return copy.deepcopy(seed)
    try:
        data = yaml.safe_load(Path(seed).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SeedError(f"seed {str(seed)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SeedError(f"seed {str(seed)!r} must be a mapping with 'tenants' (and optionally 'config')")
    return data


def load_seed(seed: Path | dict, settings: Settings, tenants: Tenants, users: Users, tokens: Tokens,
              numbers: Numbers) -> None:
    """Fill an empty database with the seed's settings and tenants; a bad entry is a SeedError naming
    the seed, the tenant, the kind and number of the entry (counted from 1), the problem and the fix."""
    data = read_seed(seed)
    name = "(given as a dict)" if isinstance(seed, dict) else repr(str(seed))
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise SeedError(f"seed {name}, config: must be a mapping of settings (see DEFAULT_CONFIG in "
                        f"emulator/store/settings.py), not {type(config).__name__}")
    try:
        settings.reset(config)
    except BadRequest as exc:
        raise SeedError(f"seed {name}, config: {exc.description}") from None
    for t_index, t in enumerate(_entries(data, "tenants", f"seed {name}"), 1):
        with _entry(f"seed {name}: tenants #{t_index}"):
            tid = tenants.add(t["scope"], t.get("account_sid"), t.get("active", True))
        where = f"seed {name}: tenant {t['scope']}"
        for i, team in enumerate(_entries(t, "teams", where), 1):
            with _entry(f"{where}, teams #{i}"):
                tenants.add_team(tid, team)
        for i, role in enumerate(_entries(t, "roles", where), 1):
            with _entry(f"{where}, roles #{i}"):
                tenants.seed_role(tid, role["name"], role.get("privileges", []))
        for i, user in enumerate(_entries(t, "users", where), 1):
            with _entry(f"{where}, users #{i}"):
                _load_user(tid, dict(user), tenants, users, tokens)
        for i, account in enumerate(_entries(t, "sms_accounts", where), 1):
            with _entry(f"{where}, sms_accounts #{i}"):
                numbers.add_sms_account(tid, account)
        for i, number in enumerate(_entries(t, "access_numbers", where), 1):
            with _entry(f"{where}, access_numbers #{i}"):
                details = dict(number)
                numbers.add_number(tid, str(details.pop("number")), details)
        for i, service in enumerate(_entries(t, "services", where), 1):
            with _entry(f"{where}, services #{i}"):
                numbers.seed_service(tid, service["name"], service.get("outbound_chat_accounts", []))
        for i, integration in enumerate(_entries(t, "messenger_integrations", where), 1):
            with _entry(f"{where}, messenger_integrations #{i}"):
                numbers.add_integration(tid, integration["type"], integration["id"], integration.get("service"))


def _load_user(tid: int, user: dict, tenants: Tenants, users: Users, tokens: Tokens) -> None:
    # Checked here, before Create User's own checks, so that the message says how to mend the seed.
    if user.get("team") and not tenants.has_team(tid, user["team"]):
        raise SeedError(f"team {user['team']!r} does not exist; add it under teams or fix the user's team")
    roles = user.get("roles") or []
    missing = [r for r in roles if r not in tenants.role_names(tid)] if isinstance(roles, list) else []
    if missing:
        raise SeedError(f"role(s) {', '.join(map(repr, missing))} do not exist; add them under roles or fix "
                        "the user's roles")
    api_secret = user.pop("api_secret", None)  # a seed may plant a known secret (tests, docs samples)
    locked = user.pop("lockedOut", False)
    if not isinstance(locked, bool):  # "false" in quotes would lock the user
        raise SeedError(f"lockedOut must be true or false (a YAML boolean, no quotes), not {locked!r}")
    extra = {key: user.pop(key) for key in SEED_ONLY_USER_FIELDS if key in user}
    users.create(tid, user, extra)
    if api_secret:
        tokens.set_secret(tid, user["loginId"], api_secret)
    if locked:
        users.set_lock(tid, user["loginId"], True)


def _entries(parent: dict, kind: str, where: str) -> list:
    """parent[kind], a list (absent: none)."""
    entries = parent.get(kind) or []
    if not isinstance(entries, list):
        raise SeedError(f"{where}: {kind} must be a list of entries, not {type(entries).__name__}; write each "
                        "entry on its own '- ' line (see emulator/seeds/default.yaml)")
    return entries


@contextmanager
def _entry(where: str):
    """Turns whatever one seed entry makes go wrong into a SeedError that says where, what and the fix."""
    try:
        yield
    except SeedError as exc:
        raise SeedError(f"{where}: {exc}") from None
    except KeyError as exc:
        raise SeedError(f"{where}: has no {exc.args[0]!r}; add {exc.args[0]}: to the entry") from None
    except sqlite3.IntegrityError as exc:
        raise SeedError(f"{where}: repeats an earlier entry ({exc}); remove one of the two") from None
    except EmulatorError as exc:
        raise SeedError(f"{where}: {exc.description}; fix the entry (emulator/seeds/default.yaml shows the "
                        "format)") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise SeedError(f"{where}: is not written as a seed entry ({exc}); compare it with "
                        "emulator/seeds/default.yaml") from None
