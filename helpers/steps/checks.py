"""The observations steps share, each mapping EVERY answer the tenant can give to one verdict.

The documentation fixes few answers (a token is issued with 200; a wrong secret gets 401), so each
function below lists what is documented, what is left open, and decides each case. What a verdict
claims is exactly what was observed; the evidence quotes the answer ("HTTP 404 (application/json)").
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from helpers.errors import ApiError, AuthenticationError, PermissionDeniedError
from helpers.tenant.api.phones import matching
from helpers.tenant.api.sms import BASE as SMS_BASE
from helpers.tenant.api.users import User
from helpers.tenant.auth import TOKEN_PATH, AccessToken
from helpers.tenant.client import BrightPatternClient
from helpers.tenant.transport import Transport, decode_json


# ------------------------------------------------------------------------------ who got the answer
def asked(exc: ApiError, request: str) -> str:
    """The request an error answered: the token request when the client was fetching a token (a
    refresh on 401, or the first token of a session), else `request` ("Get User", "Send Message")."""
    return "the token request" if exc.path == TOKEN_PATH else request


# ------------------------------------------------------------------------------ no credentials
REFUSES, ISSUES_TOKENS, NO_ENDPOINT, NO_VERDICT = "refused", "issues tokens", "no token endpoint", "unknown"


@dataclass
class AnonymousAnswer:
    """The token endpoint asked for a token WITHOUT credentials: a tenant refuses (any 4xx but
    404/405; which one is undocumented). A 2xx with an access_token issues tokens to anyone, so no
    issued token proves a secret; 404/405, 3xx and other 2xx are no token endpoint; 5xx or no answer
    say nothing (`status` None: no answer at all)."""

    verdict: str
    answer: str
    status: int | None
    detail: str = ""


def anonymous_token_request(base_url: str, connect_timeout: float, read_timeout: float, ca_bundle, sleep
                            ) -> AnonymousAnswer:
    transport = Transport(base_url, connect_timeout=connect_timeout, read_timeout=read_timeout, ca_bundle=ca_bundle,
                          sleep=sleep)
    try:
        response = transport.request("POST", TOKEN_PATH, form={"grant_type": "client_credentials"}, idempotent=True)
    except ApiError as exc:
        if exc.status is None or exc.status >= 500:
            return AnonymousAnswer(NO_VERDICT, exc.answer, exc.status, exc.detail)
        verdict = NO_ENDPOINT if exc.status in (404, 405) else REFUSES
        return AnonymousAnswer(verdict, exc.answer, exc.status, exc.detail)
    status = response.status_code
    answer = f"HTTP {status}"
    if 200 <= status < 300:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("access_token"):
            return AnonymousAnswer(ISSUES_TOKENS, answer, status, "with an access_token")
    return AnonymousAnswer(NO_ENDPOINT, answer, status)


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
    request: str = "Get Message of a made-up id"  # the request that got the answer

    @property
    def said(self) -> str:
        return f"{self.answer}: {self.detail}" if self.detail else self.answer

    @property
    def evidence(self) -> str:
        kind = f" ({self.content_type})" if self.content_type else ""
        return f"{self.answer}{kind} to {self.request}"


def probe_sms_api(client: BrightPatternClient) -> Probe:
    path = f"{SMS_BASE}/Messages/runbook-probe-{uuid.uuid4()}"
    try:
        response = client.session.request("GET", path)
    except ApiError as exc:
        if exc.path == TOKEN_PATH:  # the token request (a refresh after 401) got this answer, not the probe
            return Probe(UNVERIFIED, exc.answer, exc.detail, exc.content_type, request="the token request")
        return _probe_error(exc)
    content_type = ApiError("", method="GET", path=path, content_type=response.headers.get("Content-Type")).content_type
    answer = f"HTTP {response.status_code}"
    if not 200 <= response.status_code < 300:
        return Probe(UNVERIFIED, answer, "a redirect is not an answer of the SMS/MMS API", content_type)
    try:
        body = decode_json(response, "GET", path)
    except ApiError:
        return Probe(UNVERIFIED, answer, "the body is not JSON, so it may not come from the SMS/MMS API", content_type)
    envelope = error_envelope(body)
    if envelope:  # what the client's own Get Message refuses is no acceptance either
        return Probe(UNVERIFIED, answer, f"an error in a {answer} body ({envelope}): not an acceptance", content_type)
    if not (isinstance(body, dict) and (body.get("sid") or body.get("uri"))):
        return Probe(UNVERIFIED, answer, "the JSON body names no message (no sid and no uri), as Get Message must",
                     content_type)
    return Probe(ACCEPTED, answer, content_type=content_type)


ERROR_KEYS = ("error", "errors", "error_description", "fault", "exception")


def error_envelope(body) -> str:
    """The error a 2xx JSON body carries ('' when none): an error key with a value, or a status/code
    field that says it failed. A message object's own error_code/error_message are not an envelope."""
    if not isinstance(body, dict):
        return ""
    for key in ERROR_KEYS:
        if body.get(key):
            return f"{key}: {str(body[key])[:80]}"
    status = body.get("status") if not body.get("uri") and not body.get("sid") else None
    if isinstance(status, int) and status >= 400 or str(status).lower() in ("error", "fail", "failure"):
        return f"status: {status}"
    if not body.get("uri") and not body.get("sid") and (body.get("error_code") or body.get("error_message")):
        return f"error_code: {body.get('error_code')}, error_message: {str(body.get('error_message'))[:80]}"
    return ""


def _probe_error(exc: ApiError) -> Probe:
    if isinstance(exc, AuthenticationError):
        return Probe(TOKEN_REFUSED, exc.answer, exc.detail, exc.content_type)
    if isinstance(exc, PermissionDeniedError):
        return Probe(NO_PRIVILEGE, exc.answer, exc.detail, exc.content_type)
    if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (407, 429):
        if exc.content_type == "text/html":
            return Probe(UNVERIFIED, exc.answer, "a web page, not an answer of the SMS/MMS API (a gateway or "
                                                 "proxy may have answered)", exc.content_type)
        return Probe(ACCEPTED, exc.answer, content_type=exc.content_type)
    return Probe(UNVERIFIED, exc.answer, exc.detail, exc.content_type)


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
    request: str = "Get User"  # the request that got the answer: "Get User" or "the token request"

    @property
    def by(self) -> str:
        """Who answered, for a message: "Get User for 'api.sms'" or "the admin's token request (for Get User)"."""
        if self.request == "Get User":
            return f"Get User for {self.login!r}"
        return f"the admin's token request (made for Get User of {self.login!r})"

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
    except ApiError as exc:
        if exc.path == TOKEN_PATH:  # the token request got this answer: Get User was never answered
            return UserLookup(UNVERIFIED, login, exc.answer, exc.detail, request="the token request")
        return _lookup_error(exc, login)
    return _user_of(admin, login, user)


def _lookup_error(exc: ApiError, login: str) -> UserLookup:
    if isinstance(exc, AuthenticationError):
        return UserLookup(ADMIN_REFUSED, login, exc.answer, exc.detail)
    if isinstance(exc, PermissionDeniedError):
        return UserLookup(FORBIDDEN, login, exc.answer, exc.detail)
    named = LOGIN_IN_TEXT.search(exc.body or "") if exc.status == 200 else None
    if named and named.group(1) != login:  # unreadable as JSON, yet plainly about somebody else
        return UserLookup(MISMATCH, login, exc.answer, f"asked for {login!r}, the tenant answered the user "
                                                       f"{named.group(1)!r} ({exc.detail})")
    verdict = ABSENT if exc.status == 404 else UNVERIFIED
    return UserLookup(verdict, login, exc.answer, exc.detail)


LOGIN_IN_TEXT = re.compile(r'"(?:loginId|login_id)"\s*:\s*"([^"]*)"')


def _user_of(admin: BrightPatternClient, login: str, user: User) -> UserLookup:
    if user.login_id != login:
        what = f"the user {user.login_id!r}" if user.login_id else "a user object without a loginId"
        return UserLookup(MISMATCH, login, "HTTP 200", f"asked for {login!r}, the tenant answered {what}")
    lookup = UserLookup(FOUND, login, "HTTP 200", user=user)
    try:
        lookup.locked = admin.users.is_locked(login)
    except ApiError as exc:  # a 200 that says nothing usable is quoted; an error is its status
        lookup.lock_answer = f"{exc.answer} {exc.detail}" if exc.status == 200 else exc.answer
        if exc.path == TOKEN_PATH:
            lookup.lock_answer = f"{lookup.lock_answer} (to the admin's token request, not to Get User Lock State)"
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
    except ApiError as exc:
        if exc.path == TOKEN_PATH:
            return NumberLookup(UNVERIFIED, exc.answer, f"to the admin's token request, not to /phone/ext: {exc.detail}")
        return _number_error(exc)
    found = matching(numbers, number)
    if found is not None:
        return NumberLookup(FOUND, "HTTP 200", number=found)
    return NumberLookup(ABSENT, "HTTP 200", f"{len(numbers)} access numbers listed, not this one")


def _number_error(exc: ApiError) -> NumberLookup:
    if isinstance(exc, AuthenticationError):
        return NumberLookup(ADMIN_REFUSED, exc.answer, exc.detail)
    if isinstance(exc, PermissionDeniedError):
        return NumberLookup(FORBIDDEN, exc.answer, exc.detail)
    return NumberLookup(UNVERIFIED, exc.answer, exc.detail)
