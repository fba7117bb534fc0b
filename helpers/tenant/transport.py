"""The only place that talks HTTP: session, timeouts, TLS, retry policy and error mapping.

Named `transport` rather than `http` so that it never shadows the standard library's `http`.

Retry policy (python-gitlab's habit):
- 429 is retried for every method, after the server's Retry-After, because a rate-limited request
  was not processed;
- connection failures that happened before the request was sent are retried for every method;
- 5xx, read timeouts and broken connections are retried only for calls that are safe to repeat.
  Send Message is never one of them: a duplicate text costs money and confuses the customer.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3

from helpers import __version__
from helpers.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ParameterError,
    RateLimitedError,
    error_class_for,
)

log = logging.getLogger(__name__)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4          # attempts in all, the first one included
    backoff_base: float = 0.5      # seconds before the 2nd attempt; doubles each time
    backoff_cap: float = 8.0       # never wait longer than this between attempts
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for: RateLimitedError

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))



def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_host(host: str) -> str:
    """Host names compare case-insensitively and may end with the root's dot: one spelling each."""
    return host.strip().lower().rstrip(".")


def is_host_name(host: str) -> bool:
    """A DNS name of letter-digit-hyphen labels, or an IP address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = normalise_host(host).split(".")
    return 0 < len(host) <= 253 and all(HOST_LABEL.match(label) for label in labels)


def check_base_url(url: str, parameter: str = "tenant_url") -> str:
    """Return the URL without a trailing slash, or raise ParameterError saying what to fix.
    The message never repeats the value: a parameter may hold a secret pasted by mistake."""
    example = "give the tenant address, e.g. https://example.brightpattern.com"
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port  # raises for a port out of range
        host = parts.hostname
    except ValueError:
        raise ParameterError(parameter, "is not a valid URL (a bracket, port or character is wrong)", example) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ParameterError(parameter, "is not an http(s) URL", example)
    if not is_host_name(host):
        raise ParameterError(parameter, "does not name a valid host (letters, digits, hyphens and dots only)", example)
    if port == 0:
        raise ParameterError(parameter, "has port 0", "give a port from 1 to 65535, or none")
    if parts.scheme == "http" and not is_loopback(host):
        raise ParameterError(parameter, "uses plain http for a host that is not loopback (credentials would travel "
                             "in clear)", "use https://, or http:// only for a loopback emulator such as "
                             "http://127.0.0.1:8765")
    if parts.query or parts.fragment or (parts.path not in ("", "/")):
        raise ParameterError(parameter, "has a path, query or fragment",
                             "give only scheme, host and port, e.g. https://example.brightpattern.com")
    if parts.username or parts.password:
        raise ParameterError(parameter, "carries credentials (user:password@)", "remove user:password@ from the URL")
    return f"{parts.scheme}://{parts.netloc}"


def _sent_nothing(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError)):
            return True
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
            continue
        exc = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc.__cause__ or exc.__context__
    return False


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def decode_json(response: requests.Response, method: str, path: str):
    """Parse a JSON body; tolerates the wiki samples' trailing commas."""
    text = response.text
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(re.sub(r",\s*([}\]])", r"\1", text))
    except ValueError:
        raise ApiError("the answer is not JSON", method=method, path=path, status=response.status_code,
                       body=text, content_type=response.headers.get("Content-Type")) from None


REQUEST_BUDGET = 600  # requests per step, retries included: a hard cap no parameter raises (docs/running.md)


class RequestBudgetExhausted(ApiError):
    """The step has sent as many requests as its budget allows: the next one is never sent."""


class RequestBudget:
    """Requests one step may send to the tenant, shared by its clients; at most REQUEST_BUDGET."""

    def __init__(self, limit: int = REQUEST_BUDGET):
        self.limit, self.spent = min(int(limit), REQUEST_BUDGET), 0

    def take(self, method: str, path: str) -> None:
        if self.spent >= self.limit:
            raise RequestBudgetExhausted(f"request budget exhausted: this step has sent {self.spent} requests, its "
                                         f"cap ({self.limit} per step, whatever the parameters say); nothing more is "
                                         "sent", method=method, path=path)
        self.spent += 1


class Transport:
    """HTTP to one tenant base URL. Credentials travel only in headers and form bodies."""

    def __init__(self, base_url: str, *, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 ca_bundle: str | None = None, retry: RetryPolicy | None = None, sleep=time.sleep,
                 session: requests.Session | None = None, budget: RequestBudget | None = None):
        self.base_url = check_base_url(base_url)
        self.budget = budget or RequestBudget()
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.session = session or requests.Session()
        # TLS verification always on; a named CA bundle is passed on every request so that an
        # environment variable (REQUESTS_CA_BUNDLE) cannot override it.
        self.verify = ca_bundle or True
        self.session.verify = self.verify
        # A real tenant may sit behind the proxy the environment names; the loopback emulator never does.
        self.session.trust_env = not is_loopback(urlsplit(self.base_url).hostname or "")
        self.session.headers["User-Agent"] = f"bp-sms-runbook/{__version__}"

    def request(self, method: str, path: str, *, json_body=None, form=None, headers=None,
                idempotent: bool | None = None) -> requests.Response:
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            self.budget.take(method, path)
            started = time.monotonic()
            try:
                response = self.session.request(method, url, json=json_body, data=form, headers=headers, verify=self.verify,
                                                timeout=self.timeout, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                error, retryable = self._connection_error(exc, method, path, safe)
                if retryable and attempt < self.retry.max_attempts:
                    self._wait(self.retry.backoff(attempt), f"{method} {path}: {error.detail}")
                    continue
                raise error from None
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s (%.0f ms, attempt %d)", method, path, response.status_code, elapsed, attempt)
            if response.status_code < 400:
                return response
            error = self._status_error(response, method, path)
            if isinstance(error, RateLimitedError):
                wait = error.retry_after if error.retry_after is not None else self.retry.backoff(attempt)
                if attempt < self.retry.max_attempts and wait <= self.retry.max_retry_after:
                    self._wait(wait, f"{method} {path}: rate limited (HTTP 429)")
                    continue
            elif response.status_code >= 500 and safe and attempt < self.retry.max_attempts:
                self._wait(self.retry.backoff(attempt), f"{method} {path}: HTTP {response.status_code}")
                continue
            raise error

    def _wait(self, seconds: float, why: str) -> None:
        log.info("retrying in %.1fs: %s", seconds, why)
        self._sleep(seconds)

    def _connection_error(self, exc, method, path, safe) -> tuple[ApiError, bool]:
        host = urlsplit(self.base_url).netloc
        if isinstance(exc, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                return ApiConnectionError(f"TLS verification of {host} failed; if the tenant uses a private CA, "
                                          "name its bundle in the ca_bundle parameter", method=method, path=path), False
            return ApiConnectionError(f"the TLS handshake with {host} failed; check that the address serves https",
                                      method=method, path=path), False
        never_sent = _sent_nothing(exc)
        if isinstance(exc, requests.exceptions.Timeout):
            phase = "connecting" if never_sent else "waiting for the answer"
            error: ApiError = ApiTimeoutError(f"timed out {phase} ({host})", method=method, path=path)
        elif never_sent:
            error = ApiConnectionError(f"could not connect to {host}", method=method, path=path)
        else:
            error = ApiConnectionError(f"the connection to {host} broke before an answer arrived"
                                       + ("" if safe else "; the request may have been processed, so it is "
                                          "not repeated automatically"), method=method, path=path)
        return error, never_sent or safe

    @staticmethod
    def _status_error(response: requests.Response, method: str, path: str) -> ApiError:
        detail = f"HTTP {response.status_code}"
        try:
            payload = response.json()
            if isinstance(payload, dict):
                detail = str(payload.get("error_description") or payload.get("message") or payload.get("error") or detail)
        except ValueError:
            if response.text.strip():
                detail = response.text.strip()[:200]
        cls = error_class_for(response.status_code)
        kwargs = dict(method=method, path=path, status=response.status_code, body=response.text,
                      request_id=response.headers.get("X-Request-Id"), content_type=response.headers.get("Content-Type"))
        if cls is RateLimitedError:
            return RateLimitedError(detail, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs)
        return cls(detail, **kwargs)
