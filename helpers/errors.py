"""The one error hierarchy of the runbook, and the one mapping from HTTP status to error class.

Messages are built from safe fields only (method, path, status, a truncated and scrubbed body):
never request headers, tokens or secrets, because tracebacks end up in output notebooks and logs.
"""

from __future__ import annotations

import re

BODY_LIMIT = 300
# Anything that looks like a bearer token or an API secret, scrubbed from response bodies.
TOKEN_SHAPED = re.compile(r"\b[A-Za-z0-9]{32,}\b")


class RunbookError(Exception):
    """Root of every error the runbook raises on purpose."""


class ParameterError(RunbookError):
    """A runbook parameter is wrong: names the parameter, the problem and the fix."""

    def __init__(self, parameter: str, problem: str, fix: str):
        self.parameter, self.problem, self.fix = parameter, problem, fix
        super().__init__(f"parameter {parameter!r}: {problem}. Fix: {fix}")


class SecretMissingError(RunbookError):
    """A secret the step needs is not available from any configured source."""

    def __init__(self, name: str, sources: str):
        self.name, self.sources = name, sources
        super().__init__(f"secret {name!r} is not available. Provide it through {sources}")


class KernelPoolError(RunbookError):
    """A pooled kernel could not be started, handed over, or the pool was used wrongly; says the fix."""


class ApiError(RunbookError):
    """An HTTP call to the tenant failed. `status` is None when no response arrived."""

    status: int | None = None

    def __init__(self, message: str, *, method: str, path: str, status: int | None = None,
                 body: str | None = None, request_id: str | None = None, content_type: str | None = None):
        self.method, self.path = method, path
        # The media type only ("application/json"), never parameters: evidence of what answered.
        self.content_type = content_type.split(";")[0].strip().lower() if content_type else None
        if status is not None:
            self.status = status
        self.body = _safe_body(body)
        self.request_id = request_id
        self.detail = TOKEN_SHAPED.sub("[redacted]", message)
        message = self.detail
        where = f"{method} {path}"
        code = f"HTTP {self.status}" if self.status is not None else "no response"
        super().__init__(f"{where} -> {code}: {message}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r}, path={self.path!r}, status={self.status!r}, detail={self.detail!r})"

    @property
    def answer(self) -> str:
        """What arrived, in words a record can quote: "HTTP 404" or "no answer"."""
        return "no answer" if self.status is None else f"HTTP {self.status}"


class AuthenticationError(ApiError):
    status = 401


class PermissionDeniedError(ApiError):
    status = 403

    def __init__(self, message: str, **kwargs):
        super().__init__(message, **kwargs)
        match = re.search(r'"([^"]+)"', self.detail)
        # The emulator (and Task Routing/List Management docs) name the missing privilege.
        self.missing_privilege = match.group(1) if match else None


class NotFoundError(ApiError):
    status = 404


class ConflictError(ApiError):
    status = 409


class ValidationError(ApiError):
    """400, 405 or 415: the request itself is wrong."""


class RateLimitedError(ApiError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(ApiError):
    """5xx from the tenant."""


class ApiConnectionError(ApiError):
    """The tenant could not be reached, or the connection broke before an answer."""


class ApiTimeoutError(ApiError):
    """The tenant did not answer in time."""


STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: ValidationError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    405: ValidationError, 409: ConflictError, 415: ValidationError, 422: ValidationError,
    429: RateLimitedError,
}


def error_class_for(status: int) -> type[ApiError]:
    if status in STATUS_CLASSES:
        return STATUS_CLASSES[status]
    return ServerError if status >= 500 else ApiError


def _safe_body(body: str | None) -> str | None:
    if body is None:
        return None
    body = TOKEN_SHAPED.sub("[redacted]", body)
    return body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT] + "…"
