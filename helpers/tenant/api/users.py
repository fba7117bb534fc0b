"""Configuration API users (`/configapi/v2/user`). Roles can be set on create, never updated."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from helpers.errors import ApiError, NotFoundError
from helpers.safety.secrets import Secret
from helpers.tenant.auth import AuthenticatedSession

BASE = "/configapi/v2/user"


@dataclass(frozen=True)
class User:
    login_id: str
    first_name: str
    last_name: str
    team: str
    roles: tuple[str, ...]
    disabled: bool
    extension: str | None
    email: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: dict) -> User:
        disabled = payload.get("disabled", False)
        if isinstance(disabled, str):  # the samples send "true" as a string
            disabled = disabled.lower() == "true"
        roles = payload.get("roles") or []
        # SCIM-style answers carry [{"value": "Agent"}]; the Configuration API plain names.
        names = tuple(r.get("value") if isinstance(r, dict) else str(r) for r in roles)
        login = payload.get("loginId", payload.get("login_id"))  # the wiki's tables spell it login_id
        return cls(login_id="" if login is None else str(login), first_name=payload.get("firstName") or "",
                   last_name=payload.get("lastName") or "", team=payload.get("team") or "", roles=names,
                   disabled=bool(disabled), extension=payload.get("extension"), email=payload.get("email"),
                   raw=payload)


class UsersApi:
    def __init__(self, session: AuthenticatedSession):
        self.session = session

    @staticmethod
    def _path(login_id: str, prefix: str = "") -> str:
        return f"{BASE}/{prefix}{quote(login_id, safe='')}"

    def get(self, login_id: str) -> User:
        """The user object; ApiError when the answer is not one. Whether it is about `login_id` is the
        caller's to check (User.login_id)."""
        path = self._path(login_id)
        answer = self.session.json("GET", path)
        if not isinstance(answer, dict):
            raise ApiError("the answer is not a user object", method="GET", path=path, status=200)
        return User.from_payload(answer)

    def find(self, login_id: str) -> User | None:
        try:
            return self.get(login_id)
        except NotFoundError:
            return None

    def create(self, login_id: str, first_name: str, last_name: str, team: str, *, roles: list[str] = (),
               password: Secret | None = None, change_password: bool = False, email: str | None = None,
               extension: str | None = None) -> None:
        body = {"loginId": login_id, "firstName": first_name, "lastName": last_name, "team": team,
                "roles": list(roles), "changePassword": change_password}
        if password is not None:
            body["password"] = password.reveal()
        if email:
            body["email"] = email
        if extension:
            body["extension"] = extension
        self.session.request("POST", BASE, json_body=body, idempotent=False)

    def update(self, login_id: str, *, skills: dict | None = None, disabled: bool | None = None,
               password: Secret | None = None, change_password: bool | None = None, team: str | None = None) -> None:
        """Only the documented updatable fields exist here: the API cannot change roles."""
        body: dict = {}
        if skills is not None:
            body["skills"] = skills
        if disabled is not None:
            body["disabled"] = disabled
        if password is not None:
            body["password"] = password.reveal()
        if change_password is not None:
            body["changePassword"] = change_password
        if team is not None:
            body["team"] = team
        if not body:
            raise ValueError("update needs at least one of skills, disabled, password, change_password, team")
        self.session.request("PUT", self._path(login_id), json_body=body)

    def delete(self, login_id: str) -> None:
        self.session.request("DELETE", self._path(login_id))

    def is_locked(self, login_id: str) -> bool:
        return self._lock_state("GET", login_id)

    def clear_lock(self, login_id: str) -> bool:
        return self._lock_state("PUT", login_id)

    def _lock_state(self, method: str, login_id: str) -> bool:
        path = self._path(login_id, "lock/")
        answer = self.session.json(method, path)
        value = answer.get("lockedOut") if isinstance(answer, dict) else None
        if not isinstance(value, bool):  # never guessed: a missing answer is not "not locked"
            raise ApiError(f"without a true/false lockedOut: {str(answer)[:60]}", method=method, path=path, status=200)
        return value
