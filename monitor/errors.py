"""Errors of the application shell, mapped to HTTP in one place (monitor.app).

MonitorError
├── NotFoundError (LookupError)          404
├── ConflictError                        409
├── PreconditionFailedError              412 (If-Match names a revision that moved on)
├── ForbiddenError (PermissionError)     403
├── AuthError                            401
├── BadRequestError (ValueError)         400 / 422 with the field named
├── TooManyRequestsError                 429 with Retry-After
└── UnavailableError                     503 with Retry-After
"""

from __future__ import annotations


class MonitorError(Exception):
    status_code = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(MonitorError, LookupError):
    status_code = 404


class ConflictError(MonitorError):
    status_code = 409


class PreconditionFailedError(MonitorError):
    status_code = 412


class ForbiddenError(MonitorError, PermissionError):
    status_code = 403


class AuthError(MonitorError):
    status_code = 401


class BadRequestError(MonitorError, ValueError):
    status_code = 422


class TooManyRequestsError(MonitorError):
    status_code = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnavailableError(MonitorError):
    status_code = 503
