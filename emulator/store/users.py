"""Users of the Configuration API (create, get, update, delete, lock state), what only the admin UI
changes (roles, disabled), and the privilege check every API call makes."""

from __future__ import annotations

import json
import sqlite3

from ..errors import BadRequest, Conflict, Forbidden, NotFound
from .base import Database, digest
from .tenants import Tenants

USER_FIELDS = ("loginId", "firstName", "lastName", "team", "extension", "workPhone", "mobilePhone",
               "email", "disabled", "changePassword", "skills", "roles")
UPDATABLE_USER_FIELDS = ("skills", "disabled", "password", "changePassword", "team")
# Get User Data answers these, in the order of the documented sample; optional ones only when set.
USER_VIEW = ("disabled", "changePassword", "skills", "loginId", "firstName", "lastName", "team", "extension",
             "workPhone", "mobilePhone", "email", "roles")
OPTIONAL_USER_FIELDS = ("workPhone", "mobilePhone", "email")
# A seed may give what only the admin UI or a login creates: the directory's DID and voicemail flags,
# and a loginInfo (the Get User Data sample's).
SEED_ONLY_USER_FIELDS = ("external", "voiceMail", "greeting", "loginInfo")
NEVER_LOGGED_IN = {"isLoggedIn": False, "lastLogin": None, "lastLogout": None, "browser": None, "phoneMode": None,
                   "os": None, "ipAddress": None, "userAgent": None, "adHelperVersion": None, "appType": None,
                   "appVersion": None}


class Users:
    def __init__(self, db: Database, tenants: Tenants):
        self.db, self.tenants = db, tenants

    # ------------------------------------------------------------------ rows
    def row(self, tid: int, login_id: str) -> sqlite3.Row | None:
        return self.db.one("SELECT * FROM users WHERE tenant_id=? AND login_id=?", (tid, login_id))

    def require(self, tid: int, login_id: str) -> sqlite3.Row:
        row = self.row(tid, login_id)
        if row is None:
            raise NotFound(f"user {login_id!r} not found")
        return row

    def all_data(self, tid: int) -> list[dict]:
        """Every user's stored data (the directory and the state dump read them)."""
        return [json.loads(r["data"]) for r in self.db.all("SELECT data FROM users WHERE tenant_id=? ORDER BY login_id", (tid,))]

    def is_usable(self, row: sqlite3.Row | None) -> bool:
        """Neither missing, disabled nor locked out: such a user gets no token and its tokens stop working."""
        return row is not None and not json.loads(row["data"]).get("disabled") and not row["locked_out"]

    # ------------------------------------------------------------------ Configuration API
    def create(self, tid: int, user: dict, extra: dict | None = None) -> None:
        """Create User. `extra` is what only a seed gives (SEED_ONLY_USER_FIELDS)."""
        missing = [f for f in ("loginId", "firstName", "lastName", "team") if not str(user.get(f) or "").strip()]
        if missing:
            raise BadRequest(f"missing required property: {', '.join(missing)}")
        unknown = [k for k in user if k not in USER_FIELDS + ("password",)]
        if unknown:
            raise BadRequest(f"unsupported property: {', '.join(sorted(unknown))}")
        login_id = str(user["loginId"])
        if self.row(tid, login_id) is not None:
            raise Conflict(f"user with loginId {login_id!r} already exists", error="conflict")
        if not self.tenants.has_team(tid, user["team"]):
            raise NotFound("user team not found")
        roles = user.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise BadRequest("property 'roles' must be an array of role names")
        unknown_roles = [r for r in roles if r not in self.tenants.role_names(tid)]
        if unknown_roles:
            raise NotFound(f"role not found: {', '.join(unknown_roles)}")
        password = user.get("password")
        if password is not None and len(str(password)) < 6:
            raise BadRequest("property 'password' does not meet the security policy")
        data = {
            "loginId": login_id, "firstName": user["firstName"], "lastName": user["lastName"],
            "team": user["team"], "extension": str(user.get("extension") or self._next_extension(tid)),
            "disabled": _bool(user.get("disabled", False), "disabled"),
            "changePassword": _bool(user.get("changePassword", False), "changePassword"),
            "skills": user.get("skills") or {}, "roles": roles,
            **{key: str(user[key]) for key in OPTIONAL_USER_FIELDS if user.get(key)},
            **(extra or {}),
        }
        self.db.run("INSERT INTO users (tenant_id, login_id, data, password) VALUES (?, ?, ?, ?)",
                    (tid, login_id, json.dumps(data), digest(str(password)) if password else None))

    def _next_extension(self, tid: int) -> str:
        numeric = [int(u["extension"]) for u in self.all_data(tid) if str(u.get("extension", "")).isdigit()]
        return str(max(numeric, default=999) + 1)

    def get(self, tid: int, login_id: str) -> dict:
        data = json.loads(self.require(tid, login_id)["data"])
        view = {key: data[key] for key in USER_VIEW if key in data and (key not in OPTIONAL_USER_FIELDS or data[key])}
        view["loginInfo"] = data.get("loginInfo") or dict(NEVER_LOGGED_IN)
        return view

    def update(self, tid: int, login_id: str, changes: dict) -> dict:
        row = self.require(tid, login_id)
        refused = [k for k in changes if k not in UPDATABLE_USER_FIELDS]
        if refused:
            raise BadRequest(f"property cannot be updated: {', '.join(sorted(refused))}")
        data = json.loads(row["data"])
        if "team" in changes:
            if not self.tenants.has_team(tid, changes["team"]):
                raise NotFound("user team not found")
            data["team"] = changes["team"]
        if "skills" in changes:
            if not isinstance(changes["skills"], dict):
                raise BadRequest("property 'skills' must be an object of skill name to level")
            data["skills"] = changes["skills"]
        for flag in ("disabled", "changePassword"):
            if flag in changes:
                data[flag] = _bool(changes[flag], flag)  # the sample sends "true" as a string
        password = row["password"]
        if "password" in changes:
            if len(str(changes["password"])) < 6:
                raise BadRequest("property 'password' does not meet the security policy")
            password = digest(str(changes["password"]))
        self.db.run("UPDATE users SET data=?, password=? WHERE tenant_id=? AND login_id=?",
                    (json.dumps(data), password, tid, login_id))
        return self.get(tid, login_id)

    def delete(self, tid: int, login_id: str) -> None:
        self.require(tid, login_id)
        self.db.run("DELETE FROM users WHERE tenant_id=? AND login_id=?", (tid, login_id))

    def lock_state(self, tid: int, login_id: str) -> bool:
        return bool(self.require(tid, login_id)["locked_out"])

    def set_lock(self, tid: int, login_id: str, locked: bool) -> bool:
        self.require(tid, login_id)
        self.db.run("UPDATE users SET locked_out=? WHERE tenant_id=? AND login_id=?", (int(locked), tid, login_id))
        return locked

    # ------------------------------------------------------------------ admin UI only
    def set_roles(self, tid: int, login_id: str, roles: list[str]) -> dict:
        """What the admin UI can do and the Configuration API cannot: change a user's roles."""
        row = self.require(tid, login_id)
        unknown = [r for r in roles if r not in self.tenants.role_names(tid)]
        if unknown:
            raise NotFound(f"role not found: {', '.join(unknown)}")
        data = json.loads(row["data"])
        data["roles"] = list(roles)
        self.db.run("UPDATE users SET data=? WHERE tenant_id=? AND login_id=?", (json.dumps(data), tid, login_id))
        return self.get(tid, login_id)

    def state(self, tid: int) -> list[dict]:
        """Users as the state dump shows them: whether an API secret exists, never the secret."""
        users = []
        for r in self.db.all("SELECT * FROM users WHERE tenant_id=? ORDER BY login_id", (tid,)):
            user = json.loads(r["data"])
            user.update(lockedOut=bool(r["locked_out"]), hasApiSecret=bool(r["secret_hash"]))
            users.append(user)
        return users

    # ------------------------------------------------------------------ privileges
    def privileges_of(self, tid: int, login_id: str) -> set[str]:
        row = self.row(tid, login_id)
        if row is None:
            return set()
        return self.tenants.privileges_of_roles(tid, json.loads(row["data"])["roles"])

    def require_privilege(self, tid: int, login_id: str, *privileges: str) -> None:
        """Pass when the user holds any of `privileges`; 403 naming them otherwise."""
        if not self.privileges_of(tid, login_id) & set(privileges):
            names = " or ".join(f'"{p}"' for p in privileges)
            raise Forbidden(f"privilege not granted: the user's roles lack {names}", error="insufficient_privilege")


def _bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"property '{name}' must be true or false")
