"""Seeds: the built-in ones (emulator/seeds/*.yaml, chosen by name), a YAML file, or a dict; and
how one fills a fresh database through the resource modules."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..errors import BadRequest
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
    """Fill an empty database with the seed's settings and tenants."""
    data = read_seed(seed)
    try:
        settings.reset(data.get("config") or {})
    except BadRequest as exc:
        raise SeedError(f"seed {str(seed)!r}, config: {exc.description}") from None
    for t in data.get("tenants", []):
        tid = tenants.add(t["scope"], t.get("account_sid"), t.get("active", True))
        for team in t.get("teams", []):
            tenants.add_team(tid, team)
        for role in t.get("roles", []):
            tenants.seed_role(tid, role["name"], role.get("privileges", []))
        for user in t.get("users", []):
            user = dict(user)
            api_secret = user.pop("api_secret", None)  # a seed may plant a known secret (tests, docs samples)
            locked = bool(user.pop("lockedOut", False))
            extra = {key: user.pop(key) for key in SEED_ONLY_USER_FIELDS if key in user}
            users.create(tid, user, extra)
            if api_secret:
                tokens.set_secret(tid, user["loginId"], api_secret)
            if locked:
                users.set_lock(tid, user["loginId"], True)
        for name in t.get("sms_accounts", []):
            numbers.add_sms_account(tid, name)
        for number in t.get("access_numbers", []):
            details = dict(number)
            numbers.add_number(tid, str(details.pop("number")), details)
        for service in t.get("services", []):
            numbers.seed_service(tid, service["name"], service.get("outbound_chat_accounts", []))
        for integration in t.get("messenger_integrations", []):
            numbers.add_integration(tid, integration["type"], integration["id"], integration.get("service"))
