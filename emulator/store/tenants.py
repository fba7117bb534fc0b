"""Tenants and what the admin UI defines inside one: teams, roles and the roles' privileges.

No public API edits roles or privileges; the console does (see console.py).
"""

from __future__ import annotations

import json
import sqlite3
import uuid

from ..errors import BadRequest, NotFound
from .base import Database

USE_SMS_API = "Use SMS/MMS API"
MANAGE_USERS = "Manage users"
MANAGE_PHONES = "Manage phones"
KNOWN_PRIVILEGES = (USE_SMS_API, MANAGE_USERS, MANAGE_PHONES, "Manage all teams", "Manage lists",
                    "Use Task Routing API", "Access Real-time Stats API")


class Tenants:
    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ tenants
    def add(self, scope: str, account_sid: str | None = None, active: bool = True) -> int:
        cur = self.db.run("INSERT INTO tenants (scope, account_sid, active) VALUES (?, ?, ?)",
                          (scope, account_sid or str(uuid.uuid4()).upper(), int(active)))
        return cur.lastrowid

    def by_scope(self, scope: str) -> sqlite3.Row | None:
        return self.db.one("SELECT * FROM tenants WHERE scope=?", (scope,))

    def tenant_id(self, scope: str) -> int:
        row = self.by_scope(scope)
        if row is None:
            raise NotFound(f"tenant {scope!r} not found")
        return row["id"]

    def account_sid(self, tid: int) -> str:
        return self.db.one("SELECT account_sid FROM tenants WHERE id=?", (tid,))[0]

    def all(self) -> list[sqlite3.Row]:
        return self.db.all("SELECT * FROM tenants ORDER BY id")

    def scopes(self) -> list[str]:
        return [r["scope"] for r in self.all()]

    # ------------------------------------------------------------------ teams
    def add_team(self, tid: int, name: str) -> None:
        self.db.run("INSERT INTO teams VALUES (?, ?)", (tid, name))

    def has_team(self, tid: int, name: str) -> bool:
        return self.db.one("SELECT 1 FROM teams WHERE tenant_id=? AND name=?", (tid, name)) is not None

    def teams(self, tid: int) -> list[dict]:
        # Get Teams lists them by name, ignoring case ("Contact Center Support" before "CSIM Support").
        return [{"name": r["name"]} for r in
                self.db.all("SELECT name FROM teams WHERE tenant_id=? ORDER BY name COLLATE NOCASE", (tid,))]

    # ------------------------------------------------------------------ roles and privileges
    def role_names(self, tid: int) -> set[str]:
        return {r["name"] for r in self.db.all("SELECT name FROM roles WHERE tenant_id=?", (tid,))}

    def roles(self, tid: int) -> list[dict]:
        return [{"name": r["name"], "privileges": json.loads(r["privileges"])} for r in
                self.db.all("SELECT * FROM roles WHERE tenant_id=? ORDER BY name", (tid,))]

    def put_role(self, tid: int, name: str, privileges: list[str]) -> dict:
        if not name.strip():
            raise BadRequest("role name must not be empty")
        unknown = [p for p in privileges if p not in KNOWN_PRIVILEGES]
        if unknown:
            raise BadRequest(f"unknown privilege(s): {', '.join(unknown)}; known: {', '.join(KNOWN_PRIVILEGES)}")
        granted = sorted(set(privileges))
        self.db.run("INSERT OR REPLACE INTO roles VALUES (?, ?, ?)", (tid, name, json.dumps(granted)))
        return {"name": name, "privileges": granted}

    def seed_role(self, tid: int, name: str, privileges: list[str]) -> None:
        """A seed's role, kept as written (a seed may name privileges the console does not know)."""
        self.db.run("INSERT INTO roles VALUES (?, ?, ?)", (tid, name, json.dumps(sorted(privileges))))

    def set_privilege(self, tid: int, role: str, privilege: str, granted: bool) -> dict:
        row = self.db.one("SELECT * FROM roles WHERE tenant_id=? AND name=?", (tid, role))
        if row is None:
            raise NotFound(f"role not found: {role}")
        privileges = set(json.loads(row["privileges"]))
        privileges = privileges | {privilege} if granted else privileges - {privilege}
        return self.put_role(tid, role, sorted(privileges))

    def privileges_of_roles(self, tid: int, roles: list[str]) -> set[str]:
        granted: set[str] = set()
        for r in self.db.all("SELECT name, privileges FROM roles WHERE tenant_id=?", (tid,)):
            if r["name"] in roles:
                granted.update(json.loads(r["privileges"]))
        return granted
