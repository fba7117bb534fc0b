"""State and business rules of the emulated Bright Pattern tenants, kept in SQLite.

Handlers only parse and serialise; every rule the reference documents lives here, and every
failure is an `EmulatorError` that knows its HTTP status.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import sqlite3
import string
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import yaml

from .errors import BadRequest, Conflict, EmulatorError, Forbidden, NotFound, Unauthorized

SEEDS_DIR = Path(__file__).with_name("seeds")
DEFAULT_SEED = SEEDS_DIR / "default.yaml"

USE_SMS_API = "Use SMS/MMS API"
MANAGE_USERS = "Manage users"
MANAGE_PHONES = "Manage phones"
KNOWN_PRIVILEGES = (USE_SMS_API, MANAGE_USERS, MANAGE_PHONES, "Manage all teams", "Manage lists",
                    "Use Task Routing API", "Access Real-time Stats API")

# Behaviour switches. Quirks copy the official samples; each can be switched off (console /config).
DEFAULT_CONFIG = {
    "token_lifetime": 3600,
    "quirks": {
        "expires_in_string": True,      # "expires_in": "3600" in every official sample
        "get_message_sid_null": True,   # Postman's Get Message sample returns "sid": null
        "num_segments_one": True,       # documented as always "1", whatever the length
        "plain_text_ok": True,          # Configuration API answers the bare text OK, labelled application/json
    },
    # Inferred model (the admin guide's "text-out" wording): a number used as a chat service's outbound chat account shows
    # type "text-out" in /phone/ext. False gives the documented sample's "unassigned" instead.
    "report_text_out_type": True,
    # How Get Message advances a message: "immediate" (final status on the first read),
    # "reads" (one step every `reads` reads) or "seconds" (one step every `seconds`).
    "progression": {"mode": "reads", "reads": 1, "seconds": 1.0},
    "max_body_chars": 1600,
    # How Get Message answers a sid it does not know: undocumented, so the runbook's privilege probe
    # must cope with any plausible answer. 404 (default); 200 with a message-shaped object; or 400,
    # 401, 403, 500… with the error envelope.
    "unknown_message": {"status": 404},
}
UNKNOWN_MESSAGE_ERRORS = {400: "invalid_request", 401: "invalid_token", 403: "access_denied", 404: "not_found"}

# Test destinations with a documented outcome (see README, "Emulator").
TEST_DESTINATIONS = {
    "+15005550001": ("failed", "30003", "Unreachable destination handset"),
    "+15005550002": ("failed", "30005", "Unknown destination handset"),
    "+15005550009": ("failed", "30006", "Landline or unreachable carrier"),
    "+15005550006": ("sent", None, None),     # carrier never confirms: stays "sent"
    "+15005550007": ("queued", None, None),   # never leaves the internal queue
}

USER_FIELDS = ("loginId", "firstName", "lastName", "team", "extension", "workPhone", "mobilePhone",
               "email", "disabled", "changePassword", "skills", "roles")
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
UPDATABLE_USER_FIELDS = ("skills", "disabled", "password", "changePassword", "team")
MESSENGER = re.compile(r"^(whatsapp|viber):(\S+)$")
SECRET_ALPHABET = string.ascii_letters + string.digits

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


def _possible_number(number: str) -> bool:
    """E.164, with or without its '+': the samples send "+5219843111460" and "16046496025", both answered 200.

    With '+': a country code and 7 to 15 digits in all (not checked against today's numbering plans:
    the sample's Mexican mobile number uses the "1" prefix dropped in 2019). Bare digits are ambiguous
    (a national number has no '+' either), so they pass only when, read with a '+', they form a
    possible number for their country code: "16046496025" passes, a local "5551234" does not.
    """
    if not re.fullmatch(r"\+?[1-9]\d{6,14}", number):
        return False
    if number.startswith("+"):
        return True
    import phonenumbers  # imported here: only Send Message needs it

    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + number, None))
    except phonenumbers.NumberParseException:
        return False


def _extension_order(item: dict) -> tuple:
    ext = str(item.get("extension") or "")
    return (0, int(ext), "") if ext.isdigit() else (1, 0, ext)


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _rfc2822(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return format_datetime(datetime.fromtimestamp(int(epoch), UTC))


class Store:
    """All emulated tenants. Thread-safe: every public method holds one lock."""

    def __init__(self, db_path: str | Path | None = None, seed: str | Path | dict | None = None,
                 clock=time.time):
        self._lock = threading.RLock()
        self._clock = clock
        self._seed = resolve_seed(seed)
        self._db = sqlite3.connect(str(db_path) if db_path else ":memory:", check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.executescript(SCHEMA)
            if self._db.execute("SELECT COUNT(*) FROM tenants").fetchone()[0] == 0:
                self._load_seed()

    # ------------------------------------------------------------------ seed, reset, config
    def _seed_data(self) -> dict:
        if isinstance(self._seed, dict):
            return copy.deepcopy(self._seed)
        try:
            data = yaml.safe_load(Path(self._seed).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SeedError(f"seed {str(self._seed)!r} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise SeedError(f"seed {str(self._seed)!r} must be a mapping with 'tenants' (and optionally 'config')")
        return data

    def _load_seed(self) -> None:
        data = self._seed_data()
        try:
            config = _checked_config(data.get("config") or {}, copy.deepcopy(DEFAULT_CONFIG))
        except BadRequest as exc:
            raise SeedError(f"seed {str(self._seed)!r}, config: {exc.description}") from None
        self._set_setting("config", config)
        for tenant in data.get("tenants", []):
            self._seed_tenant(tenant)

    def _seed_tenant(self, t: dict) -> None:
        cur = self._db.execute("INSERT INTO tenants (scope, account_sid, active) VALUES (?, ?, ?)",
                               (t["scope"], t.get("account_sid") or str(uuid.uuid4()).upper(),
                                int(t.get("active", True))))
        tid = cur.lastrowid
        for team in t.get("teams", []):
            self._db.execute("INSERT INTO teams VALUES (?, ?)", (tid, team))
        for role in t.get("roles", []):
            self._db.execute("INSERT INTO roles VALUES (?, ?, ?)",
                             (tid, role["name"], json.dumps(sorted(role.get("privileges", [])))))
        for user in t.get("users", []):
            user = dict(user)
            api_secret = user.pop("api_secret", None)  # a seed may plant a known secret (tests, docs samples)
            locked = bool(user.pop("lockedOut", False))
            extra = {key: user.pop(key) for key in SEED_ONLY_USER_FIELDS if key in user}
            self._insert_user(tid, user, extra)
            if api_secret:
                self._set_secret_hash(tid, user["loginId"], _hash(api_secret))
            if locked:
                self._db.execute("UPDATE users SET locked_out=1 WHERE tenant_id=? AND login_id=?",
                                 (tid, user["loginId"]))
        for name in t.get("sms_accounts", []):
            self._db.execute("INSERT INTO sms_accounts VALUES (?, ?)", (tid, name))
        for num in t.get("access_numbers", []):
            num = dict(num)
            number = _digits(str(num.pop("number")))
            self._db.execute("INSERT INTO access_numbers VALUES (?, ?, ?)", (tid, number, json.dumps(num)))
        for svc in t.get("services", []):
            accounts = [_digits(str(n)) for n in svc.get("outbound_chat_accounts", [])]
            self._db.execute("INSERT INTO services VALUES (?, ?, ?)", (tid, svc["name"], json.dumps(accounts)))
        for integ in t.get("messenger_integrations", []):
            self._db.execute("INSERT INTO integrations VALUES (?, ?, ?, ?)",
                             (tid, integ["type"], integ["id"].upper(), integ.get("service")))

    def reset(self) -> None:
        with self._lock:
            for (table,) in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                self._db.execute(f"DELETE FROM {table}")
            self._load_seed()

    def _set_setting(self, key: str, value) -> None:
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    def config(self) -> dict:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key='config'").fetchone()
            return json.loads(row["value"]) if row else copy.deepcopy(DEFAULT_CONFIG)

    def update_config(self, changes: dict) -> dict:
        with self._lock:
            config = _checked_config(changes, self.config())
            self._set_setting("config", config)
            return config

    def quirk(self, name: str) -> bool:
        return bool(self.config()["quirks"].get(name))

    # ------------------------------------------------------------------ tenants and users
    def _tenant(self, scope: str) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM tenants WHERE scope=?", (scope,)).fetchone()
        if row is None:
            raise NotFound(f"tenant {scope!r} not found")
        return row

    def tenant_id(self, scope: str) -> int:
        with self._lock:
            return self._tenant(scope)["id"]

    def account_sid(self, tid: int) -> str:
        return self._db.execute("SELECT account_sid FROM tenants WHERE id=?", (tid,)).fetchone()[0]

    def _user_row(self, tid: int, login_id: str) -> sqlite3.Row | None:
        return self._db.execute("SELECT * FROM users WHERE tenant_id=? AND login_id=?",
                                (tid, login_id)).fetchone()

    def _require_user(self, tid: int, login_id: str) -> sqlite3.Row:
        row = self._user_row(tid, login_id)
        if row is None:
            raise NotFound(f"user {login_id!r} not found")
        return row

    def _role_names(self, tid: int) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM roles WHERE tenant_id=?", (tid,))}

    def _insert_user(self, tid: int, user: dict, extra: dict | None = None) -> None:
        missing = [f for f in ("loginId", "firstName", "lastName", "team") if not str(user.get(f) or "").strip()]
        if missing:
            raise BadRequest(f"missing required property: {', '.join(missing)}")
        unknown = [k for k in user if k not in USER_FIELDS + ("password",)]
        if unknown:
            raise BadRequest(f"unsupported property: {', '.join(sorted(unknown))}")
        login_id = str(user["loginId"])
        if self._user_row(tid, login_id) is not None:
            raise Conflict(f"user with loginId {login_id!r} already exists", error="conflict")
        if not self._db.execute("SELECT 1 FROM teams WHERE tenant_id=? AND name=?", (tid, user["team"])).fetchone():
            raise NotFound("user team not found")
        roles = user.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise BadRequest("property 'roles' must be an array of role names")
        unknown_roles = [r for r in roles if r not in self._role_names(tid)]
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
        self._db.execute("INSERT INTO users (tenant_id, login_id, data, password) VALUES (?, ?, ?, ?)",
                         (tid, login_id, json.dumps(data), _hash(password) if password else None))

    def _next_extension(self, tid: int) -> str:
        exts = [json.loads(r[0]).get("extension", "") for r in
                self._db.execute("SELECT data FROM users WHERE tenant_id=?", (tid,))]
        numeric = [int(e) for e in exts if str(e).isdigit()]
        return str(max(numeric, default=999) + 1)

    def create_user(self, tid: int, user: dict) -> None:
        with self._lock:
            self._insert_user(tid, user)

    def get_user(self, tid: int, login_id: str) -> dict:
        with self._lock:
            data = json.loads(self._require_user(tid, login_id)["data"])
            view = {key: data[key] for key in USER_VIEW if key in data and (key not in OPTIONAL_USER_FIELDS or data[key])}
            view["loginInfo"] = data.get("loginInfo") or dict(NEVER_LOGGED_IN)
            return view

    def update_user(self, tid: int, login_id: str, changes: dict) -> dict:
        with self._lock:
            row = self._require_user(tid, login_id)
            refused = [k for k in changes if k not in UPDATABLE_USER_FIELDS]
            if refused:
                raise BadRequest(f"property cannot be updated: {', '.join(sorted(refused))}")
            data = json.loads(row["data"])
            if "team" in changes:
                if not self._db.execute("SELECT 1 FROM teams WHERE tenant_id=? AND name=?",
                                        (tid, changes["team"])).fetchone():
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
                password = _hash(str(changes["password"]))
            self._db.execute("UPDATE users SET data=?, password=? WHERE tenant_id=? AND login_id=?",
                             (json.dumps(data), password, tid, login_id))
            return self.get_user(tid, login_id)

    def delete_user(self, tid: int, login_id: str) -> None:
        with self._lock:
            self._require_user(tid, login_id)
            self._db.execute("DELETE FROM users WHERE tenant_id=? AND login_id=?", (tid, login_id))
            self._db.execute("DELETE FROM tokens WHERE tenant_id=? AND login_id=?", (tid, login_id))

    def lock_state(self, tid: int, login_id: str) -> bool:
        with self._lock:
            return bool(self._require_user(tid, login_id)["locked_out"])

    def set_lock(self, tid: int, login_id: str, locked: bool) -> bool:
        with self._lock:
            self._require_user(tid, login_id)
            self._db.execute("UPDATE users SET locked_out=? WHERE tenant_id=? AND login_id=?",
                             (int(locked), tid, login_id))
            return locked

    def teams(self, tid: int) -> list[dict]:
        with self._lock:
            return [{"name": r[0]} for r in
                    self._db.execute("SELECT name FROM teams WHERE tenant_id=? ORDER BY name COLLATE NOCASE", (tid,))]

    def privileges_of(self, tid: int, login_id: str) -> set[str]:
        row = self._user_row(tid, login_id)
        if row is None:
            return set()
        roles = json.loads(row["data"])["roles"]
        granted: set[str] = set()
        for r in self._db.execute("SELECT name, privileges FROM roles WHERE tenant_id=?", (tid,)):
            if r["name"] in roles:
                granted.update(json.loads(r["privileges"]))
        return granted

    def require_privilege(self, tid: int, login_id: str, *privileges: str) -> None:
        """Pass when the user holds any of `privileges`; 403 naming them otherwise."""
        with self._lock:
            if not self.privileges_of(tid, login_id) & set(privileges):
                names = " or ".join(f'"{p}"' for p in privileges)
                raise Forbidden(f"privilege not granted: the user's roles lack {names}",
                                error="insufficient_privilege")

    # ------------------------------------------------------------------ OAuth
    def issue_token(self, form: dict) -> dict:
        with self._lock:
            missing = [f for f in ("grant_type", "client_id", "client_secret", "scope") if not str(form.get(f) or "").strip()]
            if missing:
                raise BadRequest(f"missing required field(s): {', '.join(missing)}")
            if form["grant_type"] != "client_credentials":
                raise BadRequest("grant_type must be client_credentials", error="unsupported_grant_type")
            row = self._db.execute("SELECT * FROM tenants WHERE scope=?", (form["scope"],)).fetchone()
            if row is None:
                raise Unauthorized(f"unknown scope {form['scope']!r}: it must be the tenant host name",
                                   error="invalid_scope")
            if not row["active"]:
                raise Unauthorized("tenant is not active", error="invalid_client")
            tid = row["id"]
            user = self._user_row(tid, form["client_id"])
            # The published Get Access Token sample's client_secret ends with a newline and is answered
            # 200; an API secret is 64 letters and digits, so surrounding whitespace is never part of it.
            secret = form["client_secret"].strip()
            if user is None or not user["secret_hash"] or user["secret_hash"] != _hash(secret):
                raise Unauthorized("invalid client ID or client secret")
            if json.loads(user["data"]).get("disabled"):
                raise Unauthorized("client is disabled")
            if user["locked_out"]:
                raise Unauthorized("client is locked out")
            token = secrets.token_hex(32).upper()
            lifetime = int(self.config()["token_lifetime"])
            self._db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)",
                             (_hash(token), tid, user["login_id"], self._clock() + lifetime))
            expires_in = str(lifetime) if self.quirk("expires_in_string") else lifetime
            return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in,
                    "scope": form["scope"]}

    def authenticate(self, token: str | None) -> tuple[int, str]:
        """The (tenant id, login id) a bearer token stands for; 401 for anything else."""
        with self._lock:
            if not token:
                raise Unauthorized("missing bearer token", error="invalid_token")
            row = self._db.execute("SELECT * FROM tokens WHERE token_hash=?", (_hash(token),)).fetchone()
            if row is None:
                raise Unauthorized("invalid access token", error="invalid_token")
            if row["expires_at"] <= self._clock():
                raise Unauthorized("access token expired", error="invalid_token")
            user = self._user_row(row["tenant_id"], row["login_id"])
            if user is None or json.loads(user["data"]).get("disabled") or user["locked_out"]:
                raise Unauthorized("client is disabled or locked out", error="invalid_token")
            return row["tenant_id"], row["login_id"]

    def expire_tokens(self) -> int:
        with self._lock:
            return self._db.execute("UPDATE tokens SET expires_at=0").rowcount

    # ------------------------------------------------------------------ phones
    def _services(self, tid: int) -> list[tuple[str, list[str]]]:
        return [(r["name"], json.loads(r["outbound"])) for r in
                self._db.execute("SELECT * FROM services WHERE tenant_id=? ORDER BY name", (tid,))]

    def access_numbers(self, tid: int) -> list[dict]:
        with self._lock:
            services = self._services(tid)
            report_text_out = self.config()["report_text_out_type"]
            items = []
            for r in self._db.execute("SELECT * FROM access_numbers WHERE tenant_id=? ORDER BY number", (tid,)):
                data = json.loads(r["data"])
                item = {"number": r["number"], "media": data.get("media", "voice"),
                        "type": data.get("type", "unassigned")}
                for key in ("scenario", "extension", "loginId", "firstName", "lastName", "displayName"):
                    if data.get(key):
                        item[key] = data[key]
                text_out = [name for name, accounts in services if r["number"] in accounts]
                if text_out:
                    item["textOutService"] = ", ".join(text_out)
                    if item["type"] == "unassigned" and report_text_out:
                        item["type"] = "text-out"
                items.append(item)
            return items

    def phone_users(self, tid: int) -> list[dict]:
        with self._lock:
            dids = {}
            for r in self._db.execute("SELECT * FROM access_numbers WHERE tenant_id=?", (tid,)):
                login = json.loads(r["data"]).get("loginId")
                if login:
                    dids[login] = r["number"]
            out = []
            for r in self._db.execute("SELECT * FROM users WHERE tenant_id=?", (tid,)):
                u = json.loads(r["data"])
                item = {"extension": u["extension"], "loginId": u["loginId"], "firstName": u["firstName"],
                        "lastName": u["lastName"]}
                external = u.get("external") or dids.get(u["loginId"])
                if external:  # only users with a direct number have one (Get Directory sample)
                    item["external"] = external
                item.update(voiceMail=bool(u.get("voiceMail")), greeting=bool(u.get("greeting")))
                out.append(item)
            return sorted(out, key=_extension_order)  # the sample lists the directory by extension

    # ------------------------------------------------------------------ SMS/MMS
    def _text_out_numbers(self, tid: int) -> set[str]:
        text_capable = {r["number"] for r in self._db.execute("SELECT * FROM access_numbers WHERE tenant_id=?", (tid,))
                        if json.loads(r["data"]).get("media") in ("text", "voice_text")}
        used = {n for _, accounts in self._services(tid) for n in accounts}
        return text_capable & used

    def text_out_numbers(self, tid: int) -> list[str]:
        """The numbers this tenant can send from (SMS-capable outbound chat accounts), digits only."""
        with self._lock:
            return sorted(self._text_out_numbers(tid))

    def send_message(self, tid: int, to: str, from_: str, body: str | None, media: list[str],
                     status_callback: str | None = None) -> dict:
        with self._lock:
            if not to:
                raise BadRequest("missing required parameter: To")
            if not from_:
                raise BadRequest("missing required parameter: From")
            to_msgr, from_msgr = MESSENGER.match(to), MESSENGER.match(from_)
            if from_msgr:
                kind, ident = from_msgr.groups()
                if not self._db.execute("SELECT 1 FROM integrations WHERE tenant_id=? AND type=? AND id=?",
                                        (tid, kind, ident.upper())).fetchone():
                    raise BadRequest(f"From {from_!r} is not a {kind} integration account of this tenant")
                if not to_msgr or to_msgr.group(1) != kind:
                    raise BadRequest(f"To must be a {kind}:<recipient id> address when From is a {kind} account")
                from_value = from_
            else:
                if not re.fullmatch(r"\+?[1-9]\d{6,14}", from_):
                    raise BadRequest("From must be an E.164 access number (alphanumeric sender IDs are not supported)")
                if _digits(from_) not in self._text_out_numbers(tid):
                    raise BadRequest(f"From {from_!r} is not a text-out access number of this tenant: "
                                     "it must be the outbound chat account of a chat service")
                if to_msgr or not _possible_number(to):
                    raise BadRequest("To must be an E.164 number such as +15551234567")
                from_value = _digits(from_)
            if len(media) > 10:
                raise BadRequest("at most 10 media URLs are allowed")
            bad = [m for m in media if not re.match(r"^https?://\S+$", str(m))]
            if bad:
                raise BadRequest("media URLs must be http(s) URLs")
            if not body and not media:
                raise BadRequest("missing required parameter: Body (required unless media URLs are given)")
            max_chars = int(self.config()["max_body_chars"])
            if body and len(body) > max_chars:
                raise BadRequest(f"Body is longer than {max_chars} characters")
            now = self._clock()
            sid = str(uuid.uuid4())
            outcome = TEST_DESTINATIONS.get("+" + _digits(to)) if not to_msgr else None
            final, code, text = outcome or ("sent" if media else "delivered", None, None)
            plan = {"queued": ["queued"], "sent": ["queued", "sent"], "delivered": ["queued", "sent", "delivered"],
                    "failed": ["queued", "failed"]}[final]
            segments = 1 if self.quirk("num_segments_one") else max(1, -(-len(body or "") // 160))
            data = {"body": body or "", "num_segments": str(segments), "num_media": str(len(media)),
                    "from": from_value, "to": to, "media": media, "status_callback": status_callback,
                    "error_code": code, "error_message": text}
            self._db.execute("INSERT INTO messages (sid, tenant_id, data, plan, created_at, stage_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (sid, tid, json.dumps(data), json.dumps(plan), now, now))
            return self._message_view(tid, sid, for_get=False)

    def get_message(self, tid: int, sid: str) -> dict:
        with self._lock:
            row = self._db.execute("SELECT * FROM messages WHERE sid=? AND tenant_id=?", (sid, tid)).fetchone()
            if row is None:
                return self._unknown_message(tid, sid)
            self._advance(row)
            return self._message_view(tid, sid, for_get=True)

    def _unknown_message(self, tid: int, sid: str) -> dict:
        """The answer for a sid this tenant never issued, as the `unknown_message` setting says."""
        status = int(self.config()["unknown_message"]["status"])
        if status != 200:
            raise EmulatorError(f"message {sid!r} not found", status=status,
                                error=UNKNOWN_MESSAGE_ERRORS.get(status, "server_error"))
        # A tenant that never answers 404 might describe an empty, failed message (the documented shape).
        return {"account_sid": self.account_sid(tid), "api_version": "1", "body": "", "num_segments": "0",
                "num_media": "0", "date_created": None, "date_sent": None, "date_updated": None,
                "direction": "outbound-api", "error_code": None, "error_message": None, "from": "", "price": None,
                "sid": None, "status": "failed", "to": "", "uri": f"/clientweb/smsapi/v1/Messages/{sid}"}

    def _advance(self, row: sqlite3.Row) -> None:
        plan = json.loads(row["plan"])
        progression = self.config()["progression"]
        reads = row["reads"] + 1
        stage, stage_at, now = row["stage"], row["stage_at"], self._clock()
        if progression["mode"] == "immediate":
            stage = len(plan) - 1
        elif progression["mode"] == "reads":
            stage = reads // max(1, int(progression["reads"]))
        else:
            step = max(0.001, float(progression["seconds"]))
            stage = int((now - row["created_at"]) / step)
        stage = min(max(stage, row["stage"]), len(plan) - 1)
        sent_at = row["sent_at"]
        if stage != row["stage"]:
            stage_at = now
            if sent_at is None and plan[stage] in ("sent", "delivered"):
                sent_at = now
        self._db.execute("UPDATE messages SET reads=?, stage=?, stage_at=?, sent_at=? WHERE sid=?",
                         (reads, stage, stage_at, sent_at, row["sid"]))

    def _message_view(self, tid: int, sid: str, *, for_get: bool) -> dict:
        row = self._db.execute("SELECT * FROM messages WHERE sid=?", (sid,)).fetchone()
        data, plan = json.loads(row["data"]), json.loads(row["plan"])
        status = plan[row["stage"]]
        failed = status == "failed"
        return {
            "account_sid": self.account_sid(tid),
            "api_version": "1",
            "body": data["body"],
            "num_segments": data["num_segments"],
            "num_media": data["num_media"],
            "date_created": _rfc2822(row["created_at"]),
            "date_sent": _rfc2822(row["sent_at"]),
            "date_updated": _rfc2822(row["stage_at"]),
            "direction": "outbound-api",
            "error_code": data["error_code"] if failed else None,
            "error_message": data["error_message"] if failed else None,
            "from": data["from"],
            "price": None,
            "sid": None if for_get and self.quirk("get_message_sid_null") else sid,
            "status": status,
            "to": data["to"],
            "uri": f"/clientweb/smsapi/v1/Messages/{sid}",
        }

    def set_msg_receiver(self, tid: int, url: str, number: str) -> dict:
        with self._lock:
            if not url or not number:
                raise BadRequest("url and number are both mandatory")
            if not re.match(r"^https?://\S+$", url):
                raise BadRequest("url must be an http(s) URL")
            known = {r["number"] for r in self._db.execute("SELECT number FROM access_numbers WHERE tenant_id=?", (tid,))}
            if _digits(number) not in known:
                raise NotFound(f"number {number!r} is not an access number of this tenant")
            self._db.execute("INSERT OR REPLACE INTO receivers VALUES (?, ?, ?)", (tid, _digits(number), url))
            return {"url": url, "number": number}

    # ------------------------------------------------------------------ console (admin-UI stand-ins)
    def roles(self, tid: int) -> list[dict]:
        with self._lock:
            return [{"name": r["name"], "privileges": json.loads(r["privileges"])} for r in
                    self._db.execute("SELECT * FROM roles WHERE tenant_id=? ORDER BY name", (tid,))]

    def put_role(self, tid: int, name: str, privileges: list[str]) -> dict:
        with self._lock:
            if not name.strip():
                raise BadRequest("role name must not be empty")
            unknown = [p for p in privileges if p not in KNOWN_PRIVILEGES]
            if unknown:
                raise BadRequest(f"unknown privilege(s): {', '.join(unknown)}; known: {', '.join(KNOWN_PRIVILEGES)}")
            self._db.execute("INSERT OR REPLACE INTO roles VALUES (?, ?, ?)", (tid, name, json.dumps(sorted(set(privileges)))))
            return {"name": name, "privileges": sorted(set(privileges))}

    def set_privilege(self, tid: int, role: str, privilege: str, granted: bool) -> dict:
        with self._lock:
            row = self._db.execute("SELECT * FROM roles WHERE tenant_id=? AND name=?", (tid, role)).fetchone()
            if row is None:
                raise NotFound(f"role not found: {role}")
            privileges = set(json.loads(row["privileges"]))
            privileges = privileges | {privilege} if granted else privileges - {privilege}
            return self.put_role(tid, role, sorted(privileges))

    def set_user_roles(self, tid: int, login_id: str, roles: list[str]) -> dict:
        """What the admin UI can do and the Configuration API cannot: change a user's roles."""
        with self._lock:
            row = self._require_user(tid, login_id)
            unknown = [r for r in roles if r not in self._role_names(tid)]
            if unknown:
                raise NotFound(f"role not found: {', '.join(unknown)}")
            data = json.loads(row["data"])
            data["roles"] = list(roles)
            self._db.execute("UPDATE users SET data=? WHERE tenant_id=? AND login_id=?", (json.dumps(data), tid, login_id))
            return self.get_user(tid, login_id)

    def _set_secret_hash(self, tid: int, login_id: str, value: str | None) -> None:
        self._db.execute("UPDATE users SET secret_hash=? WHERE tenant_id=? AND login_id=?", (value, tid, login_id))

    def generate_api_secret(self, tid: int, login_id: str) -> str:
        """A new 64-character API secret; only its hash is kept, so it is shown once (as in CCA)."""
        with self._lock:
            self._require_user(tid, login_id)
            value = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(64))
            self._set_secret_hash(tid, login_id, _hash(value))
            self._db.execute("DELETE FROM tokens WHERE tenant_id=? AND login_id=?", (tid, login_id))
            return value

    def revoke_api_secret(self, tid: int, login_id: str) -> None:
        with self._lock:
            self._require_user(tid, login_id)
            self._set_secret_hash(tid, login_id, None)
            self._db.execute("DELETE FROM tokens WHERE tenant_id=? AND login_id=?", (tid, login_id))

    def services(self, tid: int) -> list[dict]:
        with self._lock:
            return [{"name": name, "type": "chat", "outboundChatAccounts": accounts}
                    for name, accounts in self._services(tid)]

    def put_service(self, tid: int, name: str, outbound: list[str]) -> dict:
        with self._lock:
            if not name.strip():
                raise BadRequest("service name must not be empty")
            numbers = {r["number"]: json.loads(r["data"]) for r in
                       self._db.execute("SELECT * FROM access_numbers WHERE tenant_id=?", (tid,))}
            accounts = []
            for n in outbound:
                d = _digits(str(n))
                if d not in numbers:
                    raise NotFound(f"access number {n!r} not found")
                if numbers[d].get("media") not in ("text", "voice_text"):
                    raise BadRequest(f"access number {n!r} is not SMS-capable (media {numbers[d].get('media')!r})")
                if not numbers[d].get("sms_account"):
                    raise BadRequest(f"access number {n!r} has no SMS/MMS account; ask the service provider")
                accounts.append(d)
            self._db.execute("INSERT OR REPLACE INTO services VALUES (?, ?, ?)", (tid, name, json.dumps(accounts)))
            return {"name": name, "type": "chat", "outboundChatAccounts": accounts}

    def set_user_disabled(self, tid: int, login_id: str, disabled: bool) -> dict:
        return self.update_user(tid, login_id, {"disabled": disabled})

    def dump(self) -> dict:
        """The whole state as JSON. Secrets and tokens are never included, not even hashed."""
        with self._lock:
            tenants = []
            for t in self._db.execute("SELECT * FROM tenants ORDER BY id").fetchall():
                tid = t["id"]
                users = []
                for r in self._db.execute("SELECT * FROM users WHERE tenant_id=? ORDER BY login_id", (tid,)).fetchall():
                    u = json.loads(r["data"])
                    u.update(lockedOut=bool(r["locked_out"]), hasApiSecret=bool(r["secret_hash"]))
                    users.append(u)
                messages = []
                for r in self._db.execute("SELECT * FROM messages WHERE tenant_id=? ORDER BY created_at", (tid,)).fetchall():
                    d = json.loads(r["data"])
                    messages.append({"sid": r["sid"], "from": d["from"], "to": d["to"], "body": d["body"],
                                     "media": d["media"], "status": json.loads(r["plan"])[r["stage"]],
                                     "reads": r["reads"], "statusCallback": d["status_callback"]})
                tenants.append({
                    "scope": t["scope"], "account_sid": t["account_sid"], "active": bool(t["active"]),
                    "teams": [x["name"] for x in self.teams(tid)], "roles": self.roles(tid), "users": users,
                    "access_numbers": self.access_numbers(tid), "services": self.services(tid),
                    "messages": messages,
                    "receivers": [dict(number=r["number"], url=r["url"]) for r in
                                  self._db.execute("SELECT * FROM receivers WHERE tenant_id=?", (tid,))],
                    "active_tokens": self._db.execute("SELECT COUNT(*) FROM tokens WHERE tenant_id=? AND expires_at>?",
                                                      (tid, self._clock())).fetchone()[0],
                })
            return {"config": self.config(), "tenants": tenants}

    def scopes(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT scope FROM tenants ORDER BY id")]


def _bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"property '{name}' must be true or false")


def _deep_update(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _checked_config(changes: dict, config: dict) -> dict:
    """`config` updated with `changes`; BadRequest naming the setting when a change is not valid."""
    unknown = _unknown_keys(changes, DEFAULT_CONFIG)
    if unknown:
        raise BadRequest(f"unknown emulator setting(s): {', '.join(unknown)}")
    _deep_update(config, changes)
    if config["progression"]["mode"] not in ("immediate", "reads", "seconds"):
        raise BadRequest("progression.mode must be one of immediate, reads, seconds")
    status = config["unknown_message"]["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not (status == 200 or 400 <= status <= 599):
        raise BadRequest(f"unknown_message.status must be 200 or an HTTP error status (400-599), not {status!r}")
    return config


def _unknown_keys(changes: dict, reference: dict, prefix: str = "") -> list[str]:
    unknown = []
    for key, value in changes.items():
        if key not in reference:
            unknown.append(prefix + key)
        elif isinstance(value, dict) and isinstance(reference[key], dict):
            unknown += _unknown_keys(value, reference[key], f"{prefix}{key}.")
    return unknown
