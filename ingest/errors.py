"""Errors of the device-facing API, each with its HTTP status.

IngestError
├── MalformedBodyError (ValueError)   400: the body as a whole cannot be read
├── DeviceAuthError                   401: missing, wrong or revoked device credential
├── UnknownDeviceError (LookupError)  404/400 for the OsmAnd variants
├── UnstorableError (ValueError)      422: PostgreSQL refused the data itself
├── BodyTooLargeError                 413: the limit is in the message
└── OverloadedError                   503 with Retry-After
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


class IngestError(Exception):
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedBodyError(IngestError, ValueError):
    status_code = 400


class DeviceAuthError(IngestError):
    status_code = 401


class UnknownDeviceError(IngestError, LookupError):
    status_code = 404


class UnstorableError(IngestError, ValueError):
    status_code = 422


class BodyTooLargeError(IngestError):
    status_code = 413


class OverloadedError(IngestError):
    status_code = 503

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
