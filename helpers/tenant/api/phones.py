"""Configuration API phones: access numbers (`/phone/ext`) and the user directory (`/phone/user`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.errors import ApiError
from helpers.tenant.auth import AuthenticatedSession


def digits(number: str) -> str:
    """Access numbers are listed without '+' ("16502505674"); compare on digits only."""
    return "".join(ch for ch in str(number) if ch.isdigit())


def matching(numbers: list[AccessNumber], number: str) -> AccessNumber | None:
    wanted = digits(number)
    return next((n for n in numbers if digits(n.number) == wanted), None)


@dataclass(frozen=True)
class AccessNumber:
    number: str
    media: str
    type: str
    scenario: str | None
    text_out_services: tuple[str, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: dict) -> AccessNumber:
        services = payload.get("textOutService") or ""
        # 3.18 sample: a comma-separated list, "Customer Service Chat, chat test"
        names = tuple(s.strip() for s in str(services).split(",") if s.strip())
        return cls(number=str(payload.get("number")), media=str(payload.get("media") or ""),
                   type=str(payload.get("type") or ""), scenario=payload.get("scenario"),
                   text_out_services=names, raw=payload)

    @property
    def sms_capable(self) -> bool:
        return self.media in ("text", "voice_text")


@dataclass(frozen=True)
class DirectoryEntry:
    login_id: str
    extension: str
    first_name: str
    last_name: str
    external: str | None

    @classmethod
    def from_payload(cls, payload: dict) -> DirectoryEntry:
        return cls(login_id=str(payload.get("loginId") or payload.get("login_id")),
                   extension=str(payload.get("extension")), first_name=payload.get("firstName") or "",
                   last_name=payload.get("lastName") or "", external=payload.get("external"))


class PhonesApi:
    def __init__(self, session: AuthenticatedSession):
        self.session = session

    def access_numbers(self) -> list[AccessNumber]:
        """The documented JSON array; ApiError when the answer is not one."""
        path = "/configapi/v2/phone/ext"
        answer = self.session.json("GET", path)
        if not isinstance(answer, list):
            raise ApiError("the answer is not a list of access numbers", method="GET", path=path, status=200)
        return [AccessNumber.from_payload(item) for item in answer if isinstance(item, dict)]

    def find_access_number(self, number: str) -> AccessNumber | None:
        return matching(self.access_numbers(), number)

    def directory(self) -> list[DirectoryEntry]:
        return [DirectoryEntry.from_payload(p) for p in self.session.json("GET", "/configapi/v2/phone/user")]
