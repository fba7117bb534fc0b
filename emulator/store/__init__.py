"""State and business rules of the emulated Bright Pattern tenants, kept in SQLite.

Routes and the console only parse and serialise; every rule lives here, one module per resource
(moto's habit), and every failure is an `EmulatorError` that knows its HTTP status:

    facade.py     Store: the one lock and the public methods, composing the modules below
    base.py       the SQLite schema and connection; digests and digits
    settings.py   behaviour switches: documented quirks, progression, unknown_message
    seeds.py      built-in seeds by name, YAML files, loading a seed
    tenants.py    tenants, teams, roles and privileges
    users.py      Configuration API users, lock state, roles (admin UI), the privilege check
    tokens.py     API secrets (admin UI) and OAuth access tokens
    numbers.py    access numbers, SMS accounts, chat services, messenger integrations; /phone views
    messages.py   SMS/MMS messages: send, status progression, get, message receivers
"""

from .facade import Store
from .seeds import DEFAULT_SEED, SEEDS_DIR, SeedError, resolve_seed, seed_names
from .settings import DEFAULT_CONFIG
from .tenants import KNOWN_PRIVILEGES, MANAGE_PHONES, MANAGE_USERS, USE_SMS_API

__all__ = ["DEFAULT_CONFIG", "DEFAULT_SEED", "KNOWN_PRIVILEGES", "MANAGE_PHONES", "MANAGE_USERS", "SEEDS_DIR",
           "USE_SMS_API", "SeedError", "Store", "resolve_seed", "seed_names"]
