"""Behaviour switches of the emulator: the documented quirks, token lifetime, message progression and
the answers where the documentation is silent. Changed through `PUT /_emulator/config` or a seed."""

from __future__ import annotations

import copy
import json

from ..errors import BadRequest
from .base import Database

# Quirks copy the official samples; each can be switched off.
DEFAULT_CONFIG = {
    "token_lifetime": 3600,
    "quirks": {
        "expires_in_string": True,      # "expires_in": "3600" in every official sample
        "get_message_sid_null": True,   # Postman's Get Message sample returns "sid": null
        "num_segments_one": True,       # documented as always "1", whatever the length
        "plain_text_ok": True,          # Configuration API answers the bare text OK, labelled application/json
    },
    # Inferred model (the admin guide's "text-out" wording): a number used as a chat service's outbound
    # chat account shows type "text-out" in /phone/ext. False gives the documented sample's "unassigned".
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


class Settings:
    def __init__(self, db: Database):
        self.db = db

    def config(self) -> dict:
        row = self.db.one("SELECT value FROM settings WHERE key='config'")
        return json.loads(row["value"]) if row else copy.deepcopy(DEFAULT_CONFIG)

    def update(self, changes: dict) -> dict:
        config = checked(changes, self.config())
        self.db.run("INSERT OR REPLACE INTO settings VALUES (?, ?)", ("config", json.dumps(config)))
        return config

    def reset(self, changes: dict) -> dict:
        """The defaults with a seed's `config:` applied."""
        config = checked(changes, copy.deepcopy(DEFAULT_CONFIG))
        self.db.run("INSERT OR REPLACE INTO settings VALUES (?, ?)", ("config", json.dumps(config)))
        return config

    def quirk(self, name: str) -> bool:
        return bool(self.config()["quirks"].get(name))


def checked(changes: dict, config: dict) -> dict:
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


def _deep_update(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _unknown_keys(changes: dict, reference: dict, prefix: str = "") -> list[str]:
    unknown = []
    for key, value in changes.items():
        if key not in reference:
            unknown.append(prefix + key)
        elif isinstance(value, dict) and isinstance(reference[key], dict):
            unknown += _unknown_keys(value, reference[key], f"{prefix}{key}.")
    return unknown
