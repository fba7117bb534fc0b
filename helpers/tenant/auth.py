"""Access tokens: request (client credentials), cache until shortly before expiry, and an
authenticated session that refreshes the token once when the tenant answers 401."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from helpers.errors import ApiError, AuthenticationError
from helpers.safety.secrets import Secret
from helpers.tenant.transport import Transport, decode_json

TOKEN_PATH = "/configapi/v2/oauth/token"
REFRESH_MARGIN = 60.0  # seconds before expiry at which a cached token is no longer used


@dataclass(frozen=True)
class AccessToken:
    value: Secret = field(repr=False)
    token_type: str
    expires_in: int
    scope: str | None
    obtained_at: float  # time.monotonic() when it arrived

    @property
    def fingerprint(self) -> str:
        """Masked identity for records: the first characters of a hash, never the token."""
        return "sha256:" + hashlib.sha256(self.value.reveal().encode()).hexdigest()[:10]

    def remaining(self, now: float | None = None) -> float:
        return self.obtained_at + self.expires_in - (time.monotonic() if now is None else now)


def parse_expires_in(value, *, method: str = "POST", path: str = TOKEN_PATH, status: int | None = None) -> int:
    """`expires_in` arrives as a string in every official sample ("3600"); accept int too."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        raise ApiError(f"expires_in {value!r} is not a number of seconds", method=method, path=path,
                       status=status) from None
    if seconds <= 0:
        raise ApiError(f"expires_in {seconds} is not positive", method=method, path=path, status=status)
    return seconds


class TokenProvider:
    """Requests tokens for one user of one tenant and caches the current one."""

    def __init__(self, transport: Transport, client_id: str, client_secret: Secret, scope: str,
                 *, token_path: str = TOKEN_PATH, clock=time.monotonic):
        if not isinstance(client_secret, Secret):
            raise TypeError("client_secret must be a helpers.safety.secrets.Secret")
        self.transport, self.client_id, self.scope = transport, client_id, scope
        self._secret, self._path, self._clock = client_secret, token_path, clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.requests_made = 0

    def request_token(self) -> AccessToken:
        """Always asks the tenant for a new token (and caches it)."""
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._secret.reveal(), "scope": self.scope}
        # A token request is safe to repeat: at worst the tenant issues a second token.
        response = self.transport.request("POST", self._path, form=form, idempotent=True)
        self.requests_made += 1
        payload = decode_json(response, "POST", self._path)
        where = dict(method="POST", path=self._path, status=response.status_code,
                     content_type=response.headers.get("Content-Type"))
        value = payload.get("access_token") if isinstance(payload, dict) else None
        if not value or not isinstance(value, str):
            raise ApiError("the token answer has no access_token", **where)
        token_type = str(payload.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise ApiError(f"unsupported token_type {token_type!r} (expected Bearer)", **where)
        expires_in = parse_expires_in(payload.get("expires_in", 3600), method="POST", path=self._path,
                                      status=response.status_code)
        token = AccessToken(Secret(value, name="access_token", source="token endpoint"), token_type, expires_in,
                            payload.get("scope"), self._clock())
        self._token = token
        return token

    def token(self) -> AccessToken:
        with self._lock:
            if self._token is None or self._token.remaining(self._clock()) <= REFRESH_MARGIN:
                return self.request_token()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class AuthenticatedSession:
    """Adds the bearer header; on 401 gets a new token and tries once more (a 401 was not processed)."""

    def __init__(self, transport: Transport, tokens: TokenProvider):
        self.transport, self.tokens = transport, tokens

    def request(self, method: str, path: str, **kwargs):
        for attempt in (1, 2):
            token = self.tokens.token()
            headers = {"Authorization": f"Bearer {token.value.reveal()}", "Accept": "application/json"}
            try:
                return self.transport.request(method, path, headers=headers, **kwargs)
            except AuthenticationError:
                if attempt == 2:
                    raise
                self.tokens.invalidate()
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs):
        return decode_json(self.request(method, path, **kwargs), method, path)
