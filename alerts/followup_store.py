"""SQL for following an alert up: its assignee, its notes, and the officers who may take it."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from alerts.followup import Assignee
from pings.pg import Conn

ASSIGNEE = """
SELECT o.id, o.role, NOT o.disabled AS active, j.path AS jurisdiction_path
FROM officers o JOIN jurisdictions j ON j.id = o.jurisdiction_id WHERE o.id = $1
"""


async def get_assignee(conn: Conn, *, officer_id: int) -> Assignee | None:
    row = await conn.fetchrow(ASSIGNEE, officer_id)
    return None if row is None else Assignee(**dict(row))


ASSIGN = """
UPDATE alerts SET assigned_to = $2,
                  assigned_at = CASE WHEN $2::bigint IS NULL THEN NULL ELSE $3::timestamptz END,
                  assigned_by = $4, updated_at = now()
WHERE id = $1
"""


async def assign(
    conn: Conn, *, alert_id: int, officer_id: int | None, at: datetime, by: int
) -> None:
    """officer_id None: nobody's now (assigned_by keeps who took it off)."""
    await conn.execute(ASSIGN, alert_id, officer_id, at, by)


# the alert keeps its count and newest note's time, written with the note (migration 0024)
INSERT_NOTE = """
WITH note AS (
    INSERT INTO alert_notes (alert_id, officer_id, body) VALUES ($1, $2, $3)
    RETURNING id, alert_id, officer_id, body, created_at
), counted AS (
    UPDATE alerts SET notes_count = notes_count + 1, last_note_at = note.created_at,
                      updated_at = now()
    FROM note WHERE alerts.id = note.alert_id
)
SELECT note.*, coalesce(nullif(o.display_name, ''), o.username) AS officer_name
FROM note JOIN officers o ON o.id = note.officer_id
"""


async def insert_note(conn: Conn, *, alert_id: int, officer_id: int, body: str) -> asyncpg.Record:
    row = await conn.fetchrow(INSERT_NOTE, alert_id, officer_id, body)
    assert row is not None
    return row


NOTES = """
SELECT n.id, n.alert_id, n.officer_id, coalesce(nullif(o.display_name, ''), o.username)
       AS officer_name, n.body, n.created_at
FROM alert_notes n JOIN officers o ON o.id = n.officer_id
WHERE n.alert_id = $1 ORDER BY n.id LIMIT $2 OFFSET $3
"""


async def list_notes(conn: Conn, *, alert_id: int, limit: int, offset: int) -> list[asyncpg.Record]:
    """Oldest first: a follow-up reads as a diary."""
    return await conn.fetch(NOTES, alert_id, limit, offset)
