"""Access numbers and what makes one a text-out number: SMS/MMS accounts (set up by the service
provider), chat services and their outbound chat accounts (admin UI only), messenger integrations.
Also the two read-outs of the Configuration API's Phones: access numbers and the user directory."""

from __future__ import annotations

import json

from ..errors import BadRequest, NotFound
from .base import Database, digits
from .settings import Settings
from .users import Users

SMS_MEDIA = ("text", "voice_text")
NUMBER_DETAILS = ("scenario", "extension", "loginId", "firstName", "lastName", "displayName")


class Numbers:
    def __init__(self, db: Database, settings: Settings, users: Users):
        self.db, self.settings, self.users = db, settings, users

    # ------------------------------------------------------------------ what a seed sets up
    def add_sms_account(self, tid: int, name: str) -> None:
        self.db.run("INSERT INTO sms_accounts VALUES (?, ?)", (tid, name))

    def add_number(self, tid: int, number: str, details: dict) -> None:
        self.db.run("INSERT INTO access_numbers VALUES (?, ?, ?)", (tid, digits(number), json.dumps(details)))

    def add_integration(self, tid: int, kind: str, ident: str, service: str | None) -> None:
        self.db.run("INSERT INTO integrations VALUES (?, ?, ?, ?)", (tid, kind, ident.upper(), service))

    def seed_service(self, tid: int, name: str, outbound: list[str]) -> None:
        self.db.run("INSERT INTO services VALUES (?, ?, ?)", (tid, name, json.dumps([digits(str(n)) for n in outbound])))

    # ------------------------------------------------------------------ chat services (admin UI only)
    def _services(self, tid: int) -> list[tuple[str, list[str]]]:
        return [(r["name"], json.loads(r["outbound"])) for r in
                self.db.all("SELECT * FROM services WHERE tenant_id=? ORDER BY name", (tid,))]

    def services(self, tid: int) -> list[dict]:
        return [{"name": name, "type": "chat", "outboundChatAccounts": accounts} for name, accounts in self._services(tid)]

    def _numbers(self, tid: int) -> dict[str, dict]:
        return {r["number"]: json.loads(r["data"]) for r in
                self.db.all("SELECT * FROM access_numbers WHERE tenant_id=? ORDER BY number", (tid,))}

    def put_service(self, tid: int, name: str, outbound: list[str]) -> dict:
        if not name.strip():
            raise BadRequest("service name must not be empty")
        numbers = self._numbers(tid)
        accounts = []
        for n in outbound:
            d = digits(str(n))
            if d not in numbers:
                raise NotFound(f"access number {n!r} not found")
            if numbers[d].get("media") not in SMS_MEDIA:
                raise BadRequest(f"access number {n!r} is not SMS-capable (media {numbers[d].get('media')!r})")
            if not numbers[d].get("sms_account"):
                raise BadRequest(f"access number {n!r} has no SMS/MMS account; ask the service provider")
            accounts.append(d)
        self.db.run("INSERT OR REPLACE INTO services VALUES (?, ?, ?)", (tid, name, json.dumps(accounts)))
        return {"name": name, "type": "chat", "outboundChatAccounts": accounts}

    # ------------------------------------------------------------------ what Send Message may use
    def text_out_numbers(self, tid: int) -> set[str]:
        """SMS-capable numbers that a chat service uses as its outbound chat account, digits only."""
        text_capable = {number for number, data in self._numbers(tid).items() if data.get("media") in SMS_MEDIA}
        used = {n for _, accounts in self._services(tid) for n in accounts}
        return text_capable & used

    def is_number(self, tid: int, number: str) -> bool:
        return digits(number) in self._numbers(tid)

    def is_integration(self, tid: int, kind: str, ident: str) -> bool:
        return self.db.one("SELECT 1 FROM integrations WHERE tenant_id=? AND type=? AND id=?",
                           (tid, kind, ident.upper())) is not None

    # ------------------------------------------------------------------ Configuration API, Phones
    def access_numbers(self, tid: int) -> list[dict]:
        """Get Access Numbers (/phone/ext)."""
        services = self._services(tid)
        report_text_out = self.settings.config()["report_text_out_type"]
        items = []
        for number, data in self._numbers(tid).items():
            item = {"number": number, "media": data.get("media", "voice"), "type": data.get("type", "unassigned")}
            item.update({key: data[key] for key in NUMBER_DETAILS if data.get(key)})
            text_out = [name for name, accounts in services if number in accounts]
            if text_out:
                item["textOutService"] = ", ".join(text_out)
                if item["type"] == "unassigned" and report_text_out:
                    item["type"] = "text-out"
            items.append(item)
        return items

    def directory(self, tid: int) -> list[dict]:
        """Get Directory (/phone/user): users, their extensions and direct numbers, by extension."""
        dids = {data["loginId"]: number for number, data in self._numbers(tid).items() if data.get("loginId")}
        out = []
        for u in self.users.all_data(tid):
            item = {"extension": u["extension"], "loginId": u["loginId"], "firstName": u["firstName"],
                    "lastName": u["lastName"]}
            external = u.get("external") or dids.get(u["loginId"])
            if external:  # only users with a direct number have one (Get Directory sample)
                item["external"] = external
            item.update(voiceMail=bool(u.get("voiceMail")), greeting=bool(u.get("greeting")))
            out.append(item)
        return sorted(out, key=_extension_order)


def _extension_order(item: dict) -> tuple:
    ext = str(item.get("extension") or "")
    return (0, int(ext), "") if ext.isdigit() else (1, 0, ext)
