"""The one SQLite database every resource module shares, and the value helpers they have in common.

The schema is one place so that a `--db` file from any version of the emulator reads the same. The
resource modules hold no lock: the `Store` facade holds one lock around every public call.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (id INTEGER PRIMARY KEY, scope TEXT UNIQUE NOT NULL,
    account_sid TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS teams (tenant_id INTEGER, name TEXT, PRIMARY KEY (tenant_id, name));
CREATE TABLE IF NOT EXISTS roles (tenant_id INTEGER, name TEXT, privileges TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name));
CREATE TABLE IF NOT EXISTS users (tenant_id INTEGER, login_id TEXT, data TEXT NOT NULL,
    password TEXT, locked_out INTEGER NOT NULL DEFAULT 0, secret_hash TEXT,
    PRIMARY KEY (tenant_id, login_id));
CREATE TABLE IF NOT EXISTS tokens (token_hash TEXT PRIMARY KEY, tenant_id INTEGER, login_id TEXT,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sms_accounts (tenant_id INTEGER, name TEXT, PRIMARY KEY (tenant_id, name));
CREATE TABLE IF NOT EXISTS access_numbers (tenant_id INTEGER, number TEXT, data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, number));
CREATE TABLE IF NOT EXISTS services (tenant_id INTEGER, name TEXT, outbound TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name));
CREATE TABLE IF NOT EXISTS integrations (tenant_id INTEGER, type TEXT, id TEXT, service TEXT,
    PRIMARY KEY (tenant_id, type, id));
CREATE TABLE IF NOT EXISTS messages (sid TEXT PRIMARY KEY, tenant_id INTEGER, data TEXT NOT NULL,
    plan TEXT NOT NULL, created_at REAL NOT NULL, reads INTEGER NOT NULL DEFAULT 0,
    stage INTEGER NOT NULL DEFAULT 0, sent_at REAL, stage_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS receivers (tenant_id INTEGER, number TEXT, url TEXT NOT NULL,
    PRIMARY KEY (tenant_id, number));
"""


class Database:
    """One SQLite connection (in memory, or a file that survives restarts) and the clock."""

    def __init__(self, path: str | Path | None, clock):
        self.clock = clock
        self.conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)

    def run(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def is_empty(self) -> bool:
        return self.one("SELECT COUNT(*) FROM tenants")[0] == 0

    def clear(self) -> None:
        for (table,) in self.all("SELECT name FROM sqlite_master WHERE type='table'"):
            self.run(f"DELETE FROM {table}")


def digest(value: str) -> str:
    """What is kept of passwords, API secrets and tokens: their SHA-256, never the value."""
    return hashlib.sha256(value.encode()).hexdigest()


def digits(number: str) -> str:
    """Access numbers are kept (and listed) without '+'."""
    return number[1:] if number.startswith("+") else number
