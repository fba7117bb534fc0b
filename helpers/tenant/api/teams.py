"""Configuration API teams (`GET /configapi/v2/team`)."""

from __future__ import annotations

from helpers.tenant.auth import AuthenticatedSession


class TeamsApi:
    def __init__(self, session: AuthenticatedSession):
        self.session = session

    def names(self) -> list[str]:
        return [str(t.get("name")) for t in self.session.json("GET", "/configapi/v2/team")]
