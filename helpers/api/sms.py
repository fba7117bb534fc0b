"""SMS/MMS API (`/clientweb/smsapi/v1`): Send Message, Get Message, Set Message Receiver."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from ..auth import AuthenticatedSession
from ..errors import NotFoundError, PermissionDeniedError

BASE = "/clientweb/smsapi/v1"
FINAL_STATUSES = frozenset({"delivered", "failed", "received"})


@dataclass(frozen=True)
class Message:
    sid: str
    status: str
    to: str
    from_: str
    body: str
    direction: str
    num_segments: int
    num_media: int
    date_created: str | None
    date_sent: str | None
    error_code: str | None
    error_message: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: dict) -> Message:
        # Quirk: Get Message answers "sid": null; the id is still the last part of "uri".
        sid = payload.get("sid") or str(payload.get("uri") or "").rstrip("/").rsplit("/", 1)[-1]
        return cls(sid=sid, status=str(payload.get("status")), to=str(payload.get("to")),
                   from_=str(payload.get("from")), body=payload.get("body") or "",
                   direction=str(payload.get("direction")), num_segments=int(payload.get("num_segments") or 1),
                   num_media=int(payload.get("num_media") or 0), date_created=payload.get("date_created"),
                   date_sent=payload.get("date_sent"), error_code=payload.get("error_code"),
                   error_message=payload.get("error_message"), raw=payload)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class StatusChange:
    elapsed: float  # seconds since polling began
    status: str


class SmsApi:
    def __init__(self, session: AuthenticatedSession):
        self.session = session

    def send(self, to: str, from_: str, body: str | None = None, media_urls: list[str] | tuple = (),
             status_callback: str | None = None) -> Message:
        """Send one message. Never retried once it may have reached the tenant (no duplicate texts)."""
        payload: dict = {"To": to, "From": from_}
        if body is not None:
            payload["Body"] = body
        if media_urls:
            payload["MediaURLs"] = list(media_urls)
        if status_callback:
            payload["StatusCallback"] = status_callback
        return Message.from_payload(self.session.json("POST", f"{BASE}/Messages", json_body=payload, idempotent=False))

    def get(self, sid: str) -> Message:
        return Message.from_payload(self.session.json("GET", f"{BASE}/Messages/{sid}"))

    def wait_for_final(self, sid: str, *, timeout: float = 60.0, interval: float = 2.0, sleep=time.sleep,
                       clock=time.monotonic, on_change=None) -> tuple[Message, list[StatusChange]]:
        """Poll Get Message until delivered/failed or `timeout`; returns the last message and the timeline.

        MMS never reaches "delivered" (documented), so a caller should accept "sent" for MMS.
        """
        start = clock()
        timeline: list[StatusChange] = []
        while True:
            message = self.get(sid)
            if not timeline or timeline[-1].status != message.status:
                change = StatusChange(round(clock() - start, 3), message.status)
                timeline.append(change)
                if on_change:
                    on_change(change)
            if message.is_final or clock() - start >= timeout:
                return message, timeline
            sleep(interval)

    def set_msg_receiver(self, url: str, number: str) -> dict:
        return self.session.json("POST", f"{BASE}/SetMsgReceiver", json_body={"url": url, "number": number},
                                 idempotent=True)

    def has_privilege(self) -> bool:
        """Probe without sending anything: Get Message of an id that cannot exist.

        404 means the token's user may use the SMS/MMS API; 403 means the privilege is missing.
        """
        try:
            self.get(f"probe-{uuid.uuid4()}")
        except NotFoundError:
            return True
        except PermissionDeniedError:
            return False
        return True
