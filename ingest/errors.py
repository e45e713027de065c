"""Errors of the device-facing API, each with its HTTP status.

IngestError
├── MalformedBodyError (ValueError)   400: the body as a whole cannot be read
├── DeviceAuthError                   401: missing, wrong or revoked device credential
├── UnknownDeviceError (LookupError)  404/400 for the OsmAnd variants
├── UnstorableError (ValueError)      422: PostgreSQL refused the data itself
├── BodyTimeoutError                  408: the body did not arrive in time
├── BodyTooLargeError                 413: the limit is in the message
└── OverloadedError                   503 with Retry-After

An error answered while the body may be unread (its sender unknown, too slow or too large)
closes the connection: left open, the rest of that body would hold the socket for as long as
the client cares to trickle it.
"""

from __future__ import annotations

import asyncpg

# what "the database is unreachable" looks like from asyncpg: answer 503, never 500
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    TimeoutError,
)


# an answer given while the body may be unread
CLOSE = {"Connection": "close"}


class IngestError(Exception):
    status_code = 500
    close_connection = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str] | None:
        return CLOSE if self.close_connection else None


class MalformedBodyError(IngestError, ValueError):
    status_code = 400


class DeviceAuthError(IngestError):
    status_code = 401
    close_connection = True  # always refused before the body is read


class UnknownDeviceError(IngestError, LookupError):
    status_code = 404


class UnstorableError(IngestError, ValueError):
    status_code = 422


class BodyTimeoutError(IngestError):
    status_code = 408
    close_connection = True


class BodyTooLargeError(IngestError):
    status_code = 413
    close_connection = True


class OverloadedError(IngestError):
    status_code = 503

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s), **(super().headers() or {})}
