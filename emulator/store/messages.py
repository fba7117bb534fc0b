"""SMS/MMS messages: Send Message's rules, how a message's status advances on Get Message (moto's
habit: immediately, after N reads or after T seconds), the answer for an unknown sid, and Set
Message Receiver."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

from ..errors import BadRequest, EmulatorError, NotFound
from .base import Database, digits
from .numbers import Numbers
from .settings import Settings
from .tenants import Tenants

MESSENGER = re.compile(r"^(whatsapp|viber):(\S+)$")
URL = re.compile(r"^https?://\S+$")
# Test destinations with a documented outcome (see docs/emulator.md).
TEST_DESTINATIONS = {
    "+15005550001": ("failed", "30003", "Unreachable destination handset"),
    "+15005550002": ("failed", "30005", "Unknown destination handset"),
    "+15005550009": ("failed", "30006", "Landline or unreachable carrier"),
    "+15005550006": ("sent", None, None),     # carrier never confirms: stays "sent"
    "+15005550007": ("queued", None, None),   # never leaves the internal queue
}
PLANS = {"queued": ["queued"], "sent": ["queued", "sent"], "delivered": ["queued", "sent", "delivered"],
         "failed": ["queued", "failed"]}
UNKNOWN_MESSAGE_ERRORS = {400: "invalid_request", 401: "invalid_token", 403: "access_denied", 404: "not_found"}


class Messages:
    def __init__(self, db: Database, settings: Settings, tenants: Tenants, numbers: Numbers):
        self.db, self.settings, self.tenants, self.numbers = db, settings, tenants, numbers

    def send(self, tid: int, to: str, from_: str, body: str | None, media: list[str],
             status_callback: str | None = None) -> dict:
        if not to:
            raise BadRequest("missing required parameter: To")
        if not from_:
            raise BadRequest("missing required parameter: From")
        to_msgr, from_msgr = MESSENGER.match(to), MESSENGER.match(from_)
        if from_msgr:
            kind, ident = from_msgr.groups()
            if not self.numbers.is_integration(tid, kind, ident):
                raise BadRequest(f"From {from_!r} is not a {kind} integration account of this tenant")
            if not to_msgr or to_msgr.group(1) != kind:
                raise BadRequest(f"To must be a {kind}:<recipient id> address when From is a {kind} account")
            from_value = from_
        else:
            if not re.fullmatch(r"\+?[1-9]\d{6,14}", from_):
                raise BadRequest("From must be an E.164 access number (alphanumeric sender IDs are not supported)")
            if digits(from_) not in self.numbers.text_out_numbers(tid):
                raise BadRequest(f"From {from_!r} is not a text-out access number of this tenant: "
                                 "it must be the outbound chat account of a chat service")
            if to_msgr or not possible_number(to):
                raise BadRequest("To must be an E.164 number such as +15551234567")
            from_value = digits(from_)
        if len(media) > 10:
            raise BadRequest("at most 10 media URLs are allowed")
        if any(not URL.match(str(m)) for m in media):
            raise BadRequest("media URLs must be http(s) URLs")
        if not body and not media:
            raise BadRequest("missing required parameter: Body (required unless media URLs are given)")
        max_chars = int(self.settings.config()["max_body_chars"])
        if body and len(body) > max_chars:
            raise BadRequest(f"Body is longer than {max_chars} characters")
        now = self.db.clock()
        sid = str(uuid.uuid4())
        outcome = TEST_DESTINATIONS.get("+" + digits(to)) if not to_msgr else None
        final, code, text = outcome or ("sent" if media else "delivered", None, None)  # MMS is never "delivered"
        segments = 1 if self.settings.quirk("num_segments_one") else max(1, -(-len(body or "") // 160))
        data = {"body": body or "", "num_segments": str(segments), "num_media": str(len(media)),
                "from": from_value, "to": to, "media": media, "status_callback": status_callback,
                "error_code": code, "error_message": text}
        self.db.run("INSERT INTO messages (sid, tenant_id, data, plan, created_at, stage_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, tid, json.dumps(data), json.dumps(PLANS[final]), now, now))
        return self._view(tid, sid, for_get=False)

    def get(self, tid: int, sid: str) -> dict:
        row = self.db.one("SELECT * FROM messages WHERE sid=? AND tenant_id=?", (sid, tid))
        if row is None:
            return self._unknown(tid, sid)
        self._advance(row)
        return self._view(tid, sid, for_get=True)

    def _unknown(self, tid: int, sid: str) -> dict:
        """The answer for a sid this tenant never issued, as the `unknown_message` setting says."""
        status = int(self.settings.config()["unknown_message"]["status"])
        if status != 200:
            raise EmulatorError(f"message {sid!r} not found", status=status,
                                error=UNKNOWN_MESSAGE_ERRORS.get(status, "server_error"))
        # A tenant that never answers 404 might describe an empty, failed message (the documented shape).
        return {"account_sid": self.tenants.account_sid(tid), "api_version": "1", "body": "", "num_segments": "0",
                "num_media": "0", "date_created": None, "date_sent": None, "date_updated": None,
                "direction": "outbound-api", "error_code": None, "error_message": None, "from": "", "price": None,
                "sid": None, "status": "failed", "to": "", "uri": f"/clientweb/smsapi/v1/Messages/{sid}"}

    def _advance(self, row: sqlite3.Row) -> None:
        plan = json.loads(row["plan"])
        progression = self.settings.config()["progression"]
        reads = row["reads"] + 1
        stage, stage_at, now = row["stage"], row["stage_at"], self.db.clock()
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
        self.db.run("UPDATE messages SET reads=?, stage=?, stage_at=?, sent_at=? WHERE sid=?",
                    (reads, stage, stage_at, sent_at, row["sid"]))

    def _view(self, tid: int, sid: str, *, for_get: bool) -> dict:
        """The documented message object, in the samples' field order."""
        row = self.db.one("SELECT * FROM messages WHERE sid=?", (sid,))
        data, plan = json.loads(row["data"]), json.loads(row["plan"])
        status = plan[row["stage"]]
        failed = status == "failed"
        return {
            "account_sid": self.tenants.account_sid(tid),
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
            "sid": None if for_get and self.settings.quirk("get_message_sid_null") else sid,
            "status": status,
            "to": data["to"],
            "uri": f"/clientweb/smsapi/v1/Messages/{sid}",
        }

    def set_receiver(self, tid: int, url: str, number: str) -> dict:
        if not url or not number:
            raise BadRequest("url and number are both mandatory")
        if not URL.match(url):
            raise BadRequest("url must be an http(s) URL")
        if not self.numbers.is_number(tid, number):
            raise NotFound(f"number {number!r} is not an access number of this tenant")
        self.db.run("INSERT OR REPLACE INTO receivers VALUES (?, ?, ?)", (tid, digits(number), url))
        return {"url": url, "number": number}

    def state(self, tid: int) -> dict:
        """The tenant's messages and receivers, for the state dump."""
        messages = []
        for r in self.db.all("SELECT * FROM messages WHERE tenant_id=? ORDER BY created_at", (tid,)):
            d = json.loads(r["data"])
            messages.append({"sid": r["sid"], "from": d["from"], "to": d["to"], "body": d["body"], "media": d["media"],
                             "status": json.loads(r["plan"])[r["stage"]], "reads": r["reads"],
                             "statusCallback": d["status_callback"]})
        receivers = [{"number": r["number"], "url": r["url"]} for r in
                     self.db.all("SELECT * FROM receivers WHERE tenant_id=?", (tid,))]
        return {"messages": messages, "receivers": receivers}


def possible_number(number: str) -> bool:
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


def _rfc2822(epoch: float | None) -> str | None:
    return None if epoch is None else format_datetime(datetime.fromtimestamp(int(epoch), UTC))
