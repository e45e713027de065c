"""Errors of the alerts package, answered in one place (monitor.app) with the same body as
the shell's own (monitor.errors): `detail`, and `field` when one field is at fault.

AlertsError
└── OutOfReachError (LookupError)   404: missing, or outside the officer's jurisdiction
"""

from __future__ import annotations


class AlertsError(Exception):
    status_code = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class OutOfReachError(AlertsError, LookupError):
    status_code = 404
