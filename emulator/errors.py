"""Errors raised by the emulator's store; each knows the HTTP status it becomes (moto's habit)."""


class EmulatorError(Exception):
    """A business-rule failure. `error` is the short OAuth-style code, `description` the detail."""

    status = 400
    error = "invalid_request"

    def __init__(self, description: str, *, error: str | None = None, status: int | None = None):
        super().__init__(description)
        self.description = description
        if error is not None:
            self.error = error
        if status is not None:
            self.status = status

    def body(self) -> dict:
        # The only documented error envelope (List Management v3.2); reused for every API here.
        return {"error": self.error, "error_description": self.description}


class BadRequest(EmulatorError):
    status = 400
    error = "invalid_request"


class Unauthorized(EmulatorError):
    status = 401
    error = "invalid_client"


class Forbidden(EmulatorError):
    status = 403
    error = "access_denied"


class NotFound(EmulatorError):
    status = 404
    error = "not_found"


class Conflict(EmulatorError):
    status = 409
    error = "conflict"


class UnsupportedMediaType(EmulatorError):
    status = 415
    error = "unsupported_media_type"
