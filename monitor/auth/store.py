"""SQL for officers and their sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from monitor.auth.models import Officer, Role
from pings.pg import Conn

OFFICER_COLUMNS = """
    o.id, o.username, o.display_name, o.role, o.jurisdiction_id, j.path AS jurisdiction_path
"""

INSERT_OFFICER = """
INSERT INTO officers (username, password_hash, display_name, role, jurisdiction_id)
VALUES ($1, $2, $3, $4, $5) RETURNING id
"""


async def insert_officer(
    conn: Conn,
    *,
    username: str,
    password_hash: str,
    display_name: str,
    role: Role,
    jurisdiction_id: int,
) -> int:
    officer_id: int = await conn.fetchval(
        INSERT_OFFICER, username, password_hash, display_name, role.value, jurisdiction_id
    )
    return officer_id


GET_LOGIN = f"""
SELECT {OFFICER_COLUMNS}, o.password_hash FROM officers o
JOIN jurisdictions j ON j.id = o.jurisdiction_id
WHERE o.username = $1 AND NOT o.disabled
"""


async def get_login(conn: Conn, *, username: str) -> tuple[Officer, str] | None:
    row = await conn.fetchrow(GET_LOGIN, username)
    if row is None:
        return None
    return row_to_officer(row), row["password_hash"]


INSERT_SESSION = """
INSERT INTO officer_sessions (token_hash, officer_id, expires_at) VALUES ($1, $2, $3)
"""


async def insert_session(
    conn: Conn, *, token_hash: bytes, officer_id: int, expires_at: datetime
) -> None:
    await conn.execute(INSERT_SESSION, token_hash, officer_id, expires_at)


DELETE_SESSION = "DELETE FROM officer_sessions WHERE token_hash = $1"
# sessions expired this long ago are of no use to anyone: the maintenance round deletes them
PURGE_SESSIONS = "DELETE FROM officer_sessions WHERE expires_at < $1"


async def delete_session(conn: Conn, *, token_hash: bytes) -> None:
    await conn.execute(DELETE_SESSION, token_hash)


async def purge_sessions(conn: Conn, *, expired_before: datetime) -> int:
    return int((await conn.execute(PURGE_SESSIONS, expired_before)).split()[-1])


GET_SESSION_OFFICER = f"""
SELECT {OFFICER_COLUMNS} FROM officer_sessions s
JOIN officers o ON o.id = s.officer_id
JOIN jurisdictions j ON j.id = o.jurisdiction_id
WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT o.disabled
"""


async def get_session_officer(conn: Conn, *, token_hash: bytes) -> Officer | None:
    row = await conn.fetchrow(GET_SESSION_OFFICER, token_hash)
    return None if row is None else row_to_officer(row)


def row_to_officer(row: asyncpg.Record) -> Officer:
    return Officer(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        jurisdiction_id=row["jurisdiction_id"],
        jurisdiction_path=row["jurisdiction_path"],
    )


# the officers within a subtree, for the pickers; `alert_path` keeps those who may take the
# alert (active, not oversight, their jurisdiction an ancestor of the alert's or its own)
LIST_OFFICERS = """
SELECT o.id, o.username, o.display_name, o.role, o.jurisdiction_id, j.name AS jurisdiction_name,
       NOT o.disabled AS active
FROM officers o JOIN jurisdictions j ON j.id = o.jurisdiction_id
WHERE starts_with(j.path, $1)
  AND ($2::text IS NULL OR strpos(lower(o.username || ' ' || o.display_name), lower($2)) > 0)
  AND ($3::text[] IS NULL OR o.role = ANY($3))
  AND ($4::text IS NULL OR (starts_with($4, j.path) AND NOT o.disabled AND o.role <> 'oversight'))
  AND ($5::boolean IS NULL OR o.disabled = NOT $5)
ORDER BY j.path, o.display_name, o.username, o.id LIMIT $6 OFFSET $7
"""


@dataclass(frozen=True)
class OfficerFilter:
    under_path: str
    q: str | None = None
    roles: list[Role] | None = None
    alert_path: str | None = None  # who may take an alert of this jurisdiction
    active: bool | None = None


async def list_officers(
    conn: Conn, *, where: OfficerFilter, limit: int, offset: int
) -> list[asyncpg.Record]:
    roles = None if where.roles is None else [r.value for r in where.roles]
    return await conn.fetch(
        LIST_OFFICERS, where.under_path, where.q, roles, where.alert_path, where.active,
        limit, offset,
    )  # fmt: skip
