"""SMS/MMS API (`/clientweb/smsapi/v1`): Send Message, Get Message, Set Message Receiver."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from helpers.errors import ApiError
from helpers.tenant.auth import AuthenticatedSession
from helpers.tenant.transport import decode_json

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
        return cls(sid=str(sid), status=str(payload.get("status")), to=str(payload.get("to")),
                   from_=str(payload.get("from")), body=payload.get("body") or "",
                   direction=str(payload.get("direction")), num_segments=_count(payload.get("num_segments"), 1),
                   num_media=_count(payload.get("num_media"), 0), date_created=payload.get("date_created"),
                   date_sent=payload.get("date_sent"), error_code=payload.get("error_code"),
                   error_message=payload.get("error_message"), raw=payload)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def _count(value, default: int) -> int:
    """Counts arrive as strings ("1"); a value that is not a count is not worth failing for."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


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
        path = f"{BASE}/Messages"
        response = self.session.request("POST", path, json_body=payload, idempotent=False)
        return self._message(response, "POST", path)

    def get(self, sid: str) -> Message:
        path = f"{BASE}/Messages/{sid}"
        return self._message(self.session.request("GET", path), "GET", path)

    @staticmethod
    def _message(response, method: str, path: str) -> Message:
        """A message object, or ApiError (with the status that arrived) when the answer names none."""
        answer = decode_json(response, method, path)
        message = Message.from_payload(answer) if isinstance(answer, dict) else None
        if message is None or not message.sid:
            raise ApiError("the answer names no message (no sid and no uri)", method=method, path=path,
                           status=response.status_code, content_type=response.headers.get("Content-Type"))
        return message

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
