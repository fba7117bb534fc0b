"""The observations steps share, each mapping EVERY answer the tenant can give to one verdict.

The documentation fixes few answers (a token is issued with 200; a wrong secret gets 401), so each
function below lists what is documented, what is left open, and decides each case. What a verdict
claims is exactly what was observed; the evidence quotes the answer ("HTTP 404 (application/json)").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from helpers.errors import ApiError, AuthenticationError, PermissionDeniedError
from helpers.tenant.api.phones import matching
from helpers.tenant.api.sms import BASE as SMS_BASE
from helpers.tenant.api.users import User
from helpers.tenant.auth import TOKEN_PATH, AccessToken
from helpers.tenant.client import BrightPatternClient
from helpers.tenant.transport import decode_json

# ------------------------------------------------------------------------------ token request
ISSUED, REJECTED, UNVERIFIED = "issued", "rejected", "unverified"


@dataclass
class TokenCheck:
    """A token request with one user's secret.

    issued:     200 with an access_token (documented).
    rejected:   401 (documented: wrong client ID/secret, disabled or locked-out client, inactive
                tenant), and 400 or 403, which the docs leave open but can only mean the tenant
                refused these credentials or this request.
    unverified: anything else: no answer, a timeout, 5xx, 404/405 (no token endpoint at this
                address), 429 after retries, 3xx, or a 200 without a readable token. Nothing can be
                said about the secret then.
    """

    verdict: str
    login: str
    answer: str                 # "HTTP 401", "HTTP 200", "no answer"
    detail: str = ""            # the tenant's own words (error_description), or what was wrong
    token: AccessToken | None = None
    client: BrightPatternClient | None = None

    @property
    def said(self) -> str:
        """The answer with the tenant's words, for a record: "HTTP 401: invalid client ID or secret"."""
        return f"{self.answer}: {self.detail}" if self.detail else self.answer


def request_token(client: BrightPatternClient) -> TokenCheck:
    login = client.tokens.client_id
    try:
        token = client.tokens.request_token()
    except ApiError as exc:
        verdict = REJECTED if exc.status in (400, 401, 403) else UNVERIFIED
        return TokenCheck(verdict, login, exc.answer, exc.detail, client=client)
    return TokenCheck(ISSUED, login, "HTTP 200", token=token, client=client)


# ------------------------------------------------------------------------------ SMS/MMS API probe
ACCEPTED, NO_PRIVILEGE, TOKEN_REFUSED = "accepted", "no-privilege", "token-refused"


@dataclass
class Probe:
    """Get Message of an id that cannot exist, with a freshly issued token. Nothing is ever sent.

    The docs say how a tenant answers neither an unknown sid nor a missing privilege, so:
    no-privilege:  403 (the convention of Bright Pattern's other APIs for "privilege not granted").
    token-refused: 401 even after one fresh token: the SMS/MMS API does not take this tenant's
                   tokens for this user (API not enabled for the contact center, scope, user state).
    accepted:      any other 4xx (404 is the likely answer to an unknown id; 400, 405, 409, 422 ...
                   are answers about the request, given after the token was accepted) and any 2xx
                   with a readable JSON body (a tenant that answers unknown ids with 200).
    unverified:    5xx, 429 (a rate limiter may sit in front of authorisation), 407 (a proxy), 3xx,
                   a 2xx that is not JSON, a 4xx web page (text/html: a gateway or proxy answering for
                   a path it does not route, e.g. an SMS/MMS API that is not enabled), a timeout or no
                   answer: nothing is known.
    """

    verdict: str
    answer: str                 # "HTTP 404" or "no answer"
    detail: str = ""
    content_type: str | None = None

    @property
    def said(self) -> str:
        return f"{self.answer}: {self.detail}" if self.detail else self.answer

    @property
    def evidence(self) -> str:
        kind = f" ({self.content_type})" if self.content_type else ""
        return f"{self.answer}{kind} to Get Message of a made-up id"


def probe_sms_api(client: BrightPatternClient) -> Probe:
    path = f"{SMS_BASE}/Messages/runbook-probe-{uuid.uuid4()}"
    try:
        response = client.session.request("GET", path)
    except AuthenticationError as exc:
        if exc.path == TOKEN_PATH:  # the token refresh itself was refused: the secret changed meanwhile
            return Probe(UNVERIFIED, exc.answer, f"the token request was refused while probing: {exc.detail}")
        return Probe(TOKEN_REFUSED, exc.answer, exc.detail, exc.content_type)
    except PermissionDeniedError as exc:
        return Probe(NO_PRIVILEGE, exc.answer, exc.detail, exc.content_type)
    except ApiError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (407, 429):
            if exc.content_type == "text/html":
                return Probe(UNVERIFIED, exc.answer, "a web page, not an answer of the SMS/MMS API (a gateway or "
                                                     "proxy may have answered)", exc.content_type)
            return Probe(ACCEPTED, exc.answer, content_type=exc.content_type)
        return Probe(UNVERIFIED, exc.answer, exc.detail, exc.content_type)
    content_type = ApiError("", method="GET", path=path, content_type=response.headers.get("Content-Type")).content_type
    answer = f"HTTP {response.status_code}"
    if not 200 <= response.status_code < 300:
        return Probe(UNVERIFIED, answer, "a redirect is not an answer of the SMS/MMS API", content_type)
    try:
        decode_json(response, "GET", path)
    except ApiError:
        return Probe(UNVERIFIED, answer, "the body is not JSON, so it may not come from the SMS/MMS API", content_type)
    return Probe(ACCEPTED, answer, content_type=content_type)


# ------------------------------------------------------------------------------ Get User
FOUND, ABSENT, FORBIDDEN, ADMIN_REFUSED, MISMATCH = "found", "absent", "forbidden", "admin-refused", "mismatch"


@dataclass
class UserLookup:
    """Get User (and its lock state) with the admin's token.

    found:         200 with a user object whose loginId is the one asked for (documented).
    mismatch:      200 for another loginId, or none: the answer cannot be about our user.
    absent:        404 (documented: object not found).
    forbidden:     403: the admin lacks "Manage users".
    admin-refused: 401 even after a fresh token.
    unverified:    anything else (5xx, the documented 500 for a wrong endpoint, 400, no answer,
                   unreadable body).
    `locked` is None when the lock state could not be read; `lock_answer` says why.
    """

    verdict: str
    login: str
    answer: str
    detail: str = ""
    user: User | None = None
    locked: bool | None = None
    lock_answer: str = ""

    @property
    def said(self) -> str:
        return f"{self.answer}: {self.detail}" if self.detail else self.answer

    def state_words(self) -> str:
        """'enabled, not locked out' / 'disabled' / 'enabled, lock state unknown (HTTP 500)'."""
        if self.user is None:
            return ""
        if self.user.disabled:
            return "disabled"
        if self.locked is None:
            return f"enabled, lock state unknown ({self.lock_answer})"
        return "enabled, locked out" if self.locked else "enabled, not locked out"


def look_up_user(admin: BrightPatternClient, login: str) -> UserLookup:
    try:
        user = admin.users.get(login)
    except AuthenticationError as exc:
        return UserLookup(ADMIN_REFUSED, login, exc.answer, exc.detail)
    except PermissionDeniedError as exc:
        return UserLookup(FORBIDDEN, login, exc.answer, exc.detail)
    except ApiError as exc:
        verdict = ABSENT if exc.status == 404 else UNVERIFIED
        return UserLookup(verdict, login, exc.answer, exc.detail)
    if user.login_id != login:
        what = f"the user {user.login_id!r}" if user.login_id else "a user object without a loginId"
        return UserLookup(MISMATCH, login, "HTTP 200", f"asked for {login!r}, the tenant answered {what}")
    lookup = UserLookup(FOUND, login, "HTTP 200", user=user)
    try:
        lookup.locked = admin.users.is_locked(login)
    except ApiError as exc:  # a 200 that says nothing usable is quoted; an error is its status
        lookup.lock_answer = f"{exc.answer} {exc.detail}" if exc.status == 200 else exc.answer
    return lookup


# ------------------------------------------------------------------------------ /phone/ext
@dataclass
class NumberLookup:
    """The access number in `GET /configapi/v2/phone/ext` (admin token, "Manage phones").

    found / absent: 200 with a JSON array (documented), holding the number or not (compared on
    digits: the docs list numbers without '+'). forbidden: 403. admin-refused: 401. unverified:
    anything else, including a 200 that is not an array.
    """

    verdict: str
    answer: str
    detail: str = ""
    number: object | None = None  # helpers.tenant.api.phones.AccessNumber

    @property
    def said(self) -> str:
        return f"{self.answer}: {self.detail}" if self.detail else self.answer


def find_number(admin: BrightPatternClient, number: str) -> NumberLookup:
    try:
        numbers = admin.phones.access_numbers()
    except AuthenticationError as exc:
        return NumberLookup(ADMIN_REFUSED, exc.answer, exc.detail)
    except PermissionDeniedError as exc:
        return NumberLookup(FORBIDDEN, exc.answer, exc.detail)
    except ApiError as exc:
        return NumberLookup(UNVERIFIED, exc.answer, exc.detail)
    found = matching(numbers, number)
    if found is not None:
        return NumberLookup(FOUND, "HTTP 200", number=found)
    return NumberLookup(ABSENT, "HTTP 200", f"{len(numbers)} access numbers listed, not this one")
