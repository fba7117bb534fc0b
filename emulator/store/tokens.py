"""Credentials: the users' API secrets (generated in the admin UI, i.e. the console) and the OAuth
access tokens issued for them. Only SHA-256 digests are kept, so a secret is shown once."""

from __future__ import annotations

import json
import secrets
import string

from ..errors import BadRequest, Unauthorized
from .base import Database, digest
from .settings import Settings
from .tenants import Tenants
from .users import Users

SECRET_ALPHABET = string.ascii_letters + string.digits


class Tokens:
    def __init__(self, db: Database, settings: Settings, tenants: Tenants, users: Users):
        self.db, self.settings, self.tenants, self.users = db, settings, tenants, users

    # ------------------------------------------------------------------ API secrets (admin UI only)
    def set_secret(self, tid: int, login_id: str, value: str | None) -> None:
        """Plant a known secret (a seed's), or None to have none."""
        self.db.run("UPDATE users SET secret_hash=? WHERE tenant_id=? AND login_id=?",
                    (digest(value) if value else None, tid, login_id))

    def generate_secret(self, tid: int, login_id: str) -> str:
        """A new 64-character API secret; the user's tokens stop working."""
        self.users.require(tid, login_id)
        value = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(64))
        self.set_secret(tid, login_id, value)
        self.forget_user(tid, login_id)
        return value

    def revoke_secret(self, tid: int, login_id: str) -> None:
        self.users.require(tid, login_id)
        self.set_secret(tid, login_id, None)
        self.forget_user(tid, login_id)

    # ------------------------------------------------------------------ OAuth tokens
    def issue(self, form: dict) -> dict:
        missing = [f for f in ("grant_type", "client_id", "client_secret", "scope") if not str(form.get(f) or "").strip()]
        if missing:
            raise BadRequest(f"missing required field(s): {', '.join(missing)}")
        if form["grant_type"] != "client_credentials":
            raise BadRequest("grant_type must be client_credentials", error="unsupported_grant_type")
        tenant = self.tenants.by_scope(form["scope"])
        if tenant is None:
            raise Unauthorized(f"unknown scope {form['scope']!r}: it must be the tenant host name", error="invalid_scope")
        if not tenant["active"]:
            raise Unauthorized("tenant is not active", error="invalid_client")
        tid = tenant["id"]
        user = self.users.row(tid, form["client_id"])
        # The published Get Access Token sample's client_secret ends with a newline and is answered
        # 200; an API secret is 64 letters and digits, so surrounding whitespace is never part of it.
        secret = form["client_secret"].strip()
        if user is None or not user["secret_hash"] or user["secret_hash"] != digest(secret):
            raise Unauthorized("invalid client ID or client secret")
        if json.loads(user["data"]).get("disabled"):
            raise Unauthorized("client is disabled")
        if user["locked_out"]:
            raise Unauthorized("client is locked out")
        token = secrets.token_hex(32).upper()
        lifetime = int(self.settings.config()["token_lifetime"])
        self.db.run("INSERT INTO tokens VALUES (?, ?, ?, ?)", (digest(token), tid, user["login_id"], self.db.clock() + lifetime))
        expires_in = str(lifetime) if self.settings.quirk("expires_in_string") else lifetime
        return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": form["scope"]}

    def authenticate(self, token: str | None) -> tuple[int, str]:
        """The (tenant id, login id) a bearer token stands for; 401 for anything else."""
        if not token:
            raise Unauthorized("missing bearer token", error="invalid_token")
        row = self.db.one("SELECT * FROM tokens WHERE token_hash=?", (digest(token),))
        if row is None:
            raise Unauthorized("invalid access token", error="invalid_token")
        if row["expires_at"] <= self.db.clock():
            raise Unauthorized("access token expired", error="invalid_token")
        if not self.users.is_usable(self.users.row(row["tenant_id"], row["login_id"])):
            raise Unauthorized("client is disabled or locked out", error="invalid_token")
        return row["tenant_id"], row["login_id"]

    def expire_all(self) -> int:
        return self.db.run("UPDATE tokens SET expires_at=0").rowcount

    def forget_user(self, tid: int, login_id: str) -> None:
        self.db.run("DELETE FROM tokens WHERE tenant_id=? AND login_id=?", (tid, login_id))

    def active_count(self, tid: int) -> int:
        return self.db.one("SELECT COUNT(*) FROM tokens WHERE tenant_id=? AND expires_at>?", (tid, self.db.clock()))[0]
