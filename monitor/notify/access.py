"""Who may do what with rosters and channels, and the office lookups every route starts with.

Offices out of the officer's reach answer exactly as missing ones (404), so another
district's ids cannot be probed.
"""

from __future__ import annotations

import asyncpg

from monitor.auth.models import Officer, Role
from monitor.errors import ForbiddenError, NotFoundError
from monitor.notify import store
from pings.pg import Conn

MANAGERS = (Role.ADMIN, Role.SUPERVISOR)
# channel URLs may carry a gateway's credentials: not for every duty officer's screen
CHANNEL_READERS = (Role.ADMIN, Role.SUPERVISOR, Role.OVERSIGHT)


def require_manager(officer: Officer, what: str) -> None:
    if officer.role not in MANAGERS:
        raise ForbiddenError(f"only a supervisor or an admin {what}")


def require_channel_reader(officer: Officer) -> None:
    if officer.role not in CHANNEL_READERS:
        raise ForbiddenError("only supervisors, admins and oversight read notification channels")


async def office_in_reach(conn: Conn, officer: Officer, jurisdiction_id: int) -> asyncpg.Record:
    office = await store.get_office(conn, jurisdiction_id=jurisdiction_id)
    if office is None or not officer.sees(office["path"]):
        raise NotFoundError(f"jurisdiction {jurisdiction_id} not found")
    return office
