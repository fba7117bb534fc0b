"""Texts that may have gone out: a small ledger per tenant, so that a run never sends a second
text by accident while the fate of an earlier one is unknown.

Step 06 writes an entry BEFORE it knows the outcome is settled: when Send Message's answer is lost
(timeout, broken connection, 5xx, an unreadable 200), with no sid; when a sid arrived, with it, until
Get Message has answered for it. The next run's step 06 resolves the entry first. Nothing secret is
in it: sid, time, numbers, the answer seen.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from helpers.tenant.transport import normalise_host

LEDGER_ENV = "BP_RUNBOOK_PENDING_SENDS"  # the folder of the ledgers (tests point it at their own)
DEFAULT_DIR = Path.home() / ".cache" / "bp-sms-runbook" / "pending-sends"


def ledger_path(scope: str, base_url: str, environ=None) -> Path:
    """One ledger per tenant and address on this machine, wherever the run was started (the runner, a
    fleet's worker, a notebook's form): <folder>/<scope>@<host_port>.json, the folder
    ~/.cache/bp-sms-runbook/pending-sends or $BP_RUNBOOK_PENDING_SENDS. The address is part of the name:
    a practice emulator on another port is another tenant, whose messages the first never knew."""
    environ = os.environ if environ is None else environ
    where = re.sub(r"[^a-z0-9.-]", "_", urlsplit(base_url).netloc.lower())
    return Path(environ.get(LEDGER_ENV) or DEFAULT_DIR) / f"{normalise_host(scope)}@{where}.json"


def read(path: Path) -> dict | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # An unreadable ledger must not be taken for "nothing pending": that could send a second text.
        return {"sid": None, "answer": "the pending-send ledger is unreadable", "to": "?", "at": "?"}
    return entry if isinstance(entry, dict) else {"sid": None, "answer": "the ledger holds no entry", "to": "?"}


def write(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def clear(path: Path) -> None:
    path.unlink(missing_ok=True)


def describe(entry: dict) -> str:
    sid = f"sid {entry['sid']}" if entry.get("sid") else "no sid"
    return f"a text to {entry.get('to')} at {entry.get('at')} ({sid}; {entry.get('answer')})"
