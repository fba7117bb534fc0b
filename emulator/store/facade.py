"""`Store`: the one object routes, the console and tests talk to. It owns the database and the one
lock, and composes the resource modules; each public method takes the lock and delegates."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .base import Database
from .messages import Messages
from .numbers import Numbers
from .seeds import load_seed, resolve_seed
from .settings import Settings
from .tenants import Tenants
from .tokens import Tokens
from .users import Users


class Store:
    """All emulated tenants. Thread-safe: every public method holds one lock."""

    def __init__(self, db_path: str | Path | None = None, seed: str | Path | dict | None = None, clock=time.time):
        self._lock = threading.RLock()
        self._seed = resolve_seed(seed)
        self._db = Database(db_path, clock)
        self.settings = Settings(self._db)
        self.tenants = Tenants(self._db)
        self.users = Users(self._db, self.tenants)
        self.tokens = Tokens(self._db, self.settings, self.tenants, self.users)
        self.numbers = Numbers(self._db, self.settings, self.users)
        self.messages = Messages(self._db, self.settings, self.tenants, self.numbers)
        with self._lock:
            if self._db.is_empty():  # a --db file that holds tenants is reused, not re-seeded
                self._load_seed()

    def _load_seed(self) -> None:
        load_seed(self._seed, self.settings, self.tenants, self.users, self.tokens, self.numbers)

    def reset(self) -> None:
        with self._lock:
            self._db.clear()
            self._load_seed()

    # ------------------------------------------------------------------ settings
    def config(self) -> dict:
        with self._lock:
            return self.settings.config()

    def update_config(self, changes: dict) -> dict:
        with self._lock:
            return self.settings.update(changes)

    def quirk(self, name: str) -> bool:
        with self._lock:
            return self.settings.quirk(name)

    # ------------------------------------------------------------------ tenants, teams, roles
    def tenant_id(self, scope: str) -> int:
        with self._lock:
            return self.tenants.tenant_id(scope)

    def account_sid(self, tid: int) -> str:
        with self._lock:
            return self.tenants.account_sid(tid)

    def scopes(self) -> list[str]:
        with self._lock:
            return self.tenants.scopes()

    def teams(self, tid: int) -> list[dict]:
        with self._lock:
            return self.tenants.teams(tid)

    def roles(self, tid: int) -> list[dict]:
        with self._lock:
            return self.tenants.roles(tid)

    def put_role(self, tid: int, name: str, privileges: list[str]) -> dict:
        with self._lock:
            return self.tenants.put_role(tid, name, privileges)

    def set_privilege(self, tid: int, role: str, privilege: str, granted: bool) -> dict:
        with self._lock:
            return self.tenants.set_privilege(tid, role, privilege, granted)

    # ------------------------------------------------------------------ users
    def create_user(self, tid: int, user: dict) -> None:
        with self._lock:
            self.users.create(tid, user)

    def get_user(self, tid: int, login_id: str) -> dict:
        with self._lock:
            return self.users.get(tid, login_id)

    def update_user(self, tid: int, login_id: str, changes: dict) -> dict:
        with self._lock:
            return self.users.update(tid, login_id, changes)

    def delete_user(self, tid: int, login_id: str) -> None:
        with self._lock:
            self.users.delete(tid, login_id)
            self.tokens.forget_user(tid, login_id)

    def lock_state(self, tid: int, login_id: str) -> bool:
        with self._lock:
            return self.users.lock_state(tid, login_id)

    def set_lock(self, tid: int, login_id: str, locked: bool) -> bool:
        with self._lock:
            return self.users.set_lock(tid, login_id, locked)

    def set_user_roles(self, tid: int, login_id: str, roles: list[str]) -> dict:
        with self._lock:
            return self.users.set_roles(tid, login_id, roles)

    def set_user_disabled(self, tid: int, login_id: str, disabled: bool) -> dict:
        with self._lock:
            return self.users.update(tid, login_id, {"disabled": disabled})

    def privileges_of(self, tid: int, login_id: str) -> set[str]:
        with self._lock:
            return self.users.privileges_of(tid, login_id)

    def require_privilege(self, tid: int, login_id: str, *privileges: str) -> None:
        with self._lock:
            self.users.require_privilege(tid, login_id, *privileges)

    # ------------------------------------------------------------------ API secrets and tokens
    def generate_api_secret(self, tid: int, login_id: str) -> str:
        with self._lock:
            return self.tokens.generate_secret(tid, login_id)

    def revoke_api_secret(self, tid: int, login_id: str) -> None:
        with self._lock:
            self.tokens.revoke_secret(tid, login_id)

    def issue_token(self, form: dict) -> dict:
        with self._lock:
            return self.tokens.issue(form)

    def authenticate(self, token: str | None) -> tuple[int, str]:
        with self._lock:
            return self.tokens.authenticate(token)

    def expire_tokens(self) -> int:
        with self._lock:
            return self.tokens.expire_all()

    # ------------------------------------------------------------------ numbers and chat services
    def access_numbers(self, tid: int) -> list[dict]:
        with self._lock:
            return self.numbers.access_numbers(tid)

    def phone_users(self, tid: int) -> list[dict]:
        with self._lock:
            return self.numbers.directory(tid)

    def services(self, tid: int) -> list[dict]:
        with self._lock:
            return self.numbers.services(tid)

    def put_service(self, tid: int, name: str, outbound: list[str]) -> dict:
        with self._lock:
            return self.numbers.put_service(tid, name, outbound)

    def text_out_numbers(self, tid: int) -> list[str]:
        """The numbers this tenant can send from (SMS-capable outbound chat accounts), digits only."""
        with self._lock:
            return sorted(self.numbers.text_out_numbers(tid))

    # ------------------------------------------------------------------ messages
    def send_message(self, tid: int, to: str, from_: str, body: str | None, media: list[str],
                     status_callback: str | None = None) -> dict:
        with self._lock:
            return self.messages.send(tid, to, from_, body, media, status_callback)

    def get_message(self, tid: int, sid: str) -> dict:
        with self._lock:
            return self.messages.get(tid, sid)

    def set_msg_receiver(self, tid: int, url: str, number: str) -> dict:
        with self._lock:
            return self.messages.set_receiver(tid, url, number)

    # ------------------------------------------------------------------ the whole state
    def dump(self) -> dict:
        """The whole state as JSON. Secrets and tokens are never included, not even hashed."""
        with self._lock:
            tenants = []
            for t in self.tenants.all():
                tid = t["id"]
                tenants.append({
                    "scope": t["scope"], "account_sid": t["account_sid"], "active": bool(t["active"]),
                    "teams": [x["name"] for x in self.tenants.teams(tid)], "roles": self.tenants.roles(tid),
                    "users": self.users.state(tid), "access_numbers": self.numbers.access_numbers(tid),
                    "services": self.numbers.services(tid), **self.messages.state(tid),
                    "active_tokens": self.tokens.active_count(tid),
                })
            return {"config": self.settings.config(), "tenants": tenants}
