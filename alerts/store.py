"""SQL for alerts: open, update, acknowledge, resolve; their history, the audit log, tracks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from alerts.models import Alert, AlertStatus, AlertType
from pings.pg import Conn

# daily follow-up (每日跟进): an unresolved alert is due a note a rolling day after its last
# one, or after its opening while it has none (docs/decisions/0018)
FOLLOWUP_WINDOW = "interval '24 hours'"
FOLLOWUP_DUE_AT = (
    f"CASE WHEN a.status <> 'resolved' "
    f"THEN coalesce(a.last_note_at, a.opened_at) + {FOLLOWUP_WINDOW} END"
)
FOLLOWUP_DUE = f"coalesce({FOLLOWUP_DUE_AT} <= now(), false)"
# the assignment and notes columns of an alert, with the assignee joined as `ao`
FOLLOWUP_COLUMNS = f"""
       a.assigned_to, coalesce(nullif(ao.display_name, ''), ao.username) AS assigned_to_name,
       a.assigned_at, a.assigned_by, a.notes_count, a.last_note_at,
       {FOLLOWUP_DUE_AT} AS followup_due_at, {FOLLOWUP_DUE} AS followup_due
"""
ASSIGNEE_JOIN = "LEFT JOIN officers ao ON ao.id = a.assigned_to"

ALERT_SELECT = f"""
SELECT a.id, a.person_id, p.case_number, a.jurisdiction_id, j.path AS jurisdiction_path, a.type,
       a.rule_key, a.status, a.escalation_level, a.late, a.episode_id, a.opened_at,
       a.last_evidence_at, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by,
       a.disposition, a.note, a.evidence_ping_ids, a.details, {FOLLOWUP_COLUMNS}
FROM alerts a JOIN persons p ON p.id = a.person_id JOIN jurisdictions j ON j.id = a.jurisdiction_id
{ASSIGNEE_JOIN}
"""


def row_to_alert(row: asyncpg.Record) -> Alert:
    data = dict(row)
    data["type"], data["status"] = AlertType(data["type"]), AlertStatus(data["status"])
    return Alert(**data)


async def get_alert(conn: Conn, *, alert_id: int, for_update: bool = False) -> Alert | None:
    sql = ALERT_SELECT + " WHERE a.id = $1" + (" FOR UPDATE OF a" if for_update else "")
    row = await conn.fetchrow(sql, alert_id)
    return None if row is None else row_to_alert(row)


# one open alert per (person, type, rule): new evidence updates the open one. It starts at
# the rung of its own jurisdiction's level (a person held by a district office: district).
UPSERT_OPEN_ALERT = """
INSERT INTO alerts (person_id, jurisdiction_id, type, rule_key, status, late, episode_id,
                    opened_at, last_evidence_at, evidence_ping_ids, details, escalation_level)
VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $7, $8, $9,
        (SELECT level FROM jurisdictions WHERE id = $2))
ON CONFLICT (person_id, type, rule_key) WHERE status <> 'resolved' DO UPDATE
SET last_evidence_at = greatest(alerts.last_evidence_at, EXCLUDED.last_evidence_at),
    evidence_ping_ids = (alerts.evidence_ping_ids || EXCLUDED.evidence_ping_ids)[1:200],
    details = alerts.details || EXCLUDED.details, updated_at = now()
RETURNING id, (xmax = 0) AS inserted
"""


async def upsert_open_alert(
    conn: Conn,
    *,
    person_id: int,
    jurisdiction_id: int,
    type: AlertType,
    rule_key: str,
    at: datetime,
    late: bool,
    episode_id: str | None,
    evidence_ping_ids: list[int],
    details: dict[str, Any],
) -> tuple[int, bool]:
    row = await conn.fetchrow(
        UPSERT_OPEN_ALERT,
        person_id,
        jurisdiction_id,
        type.value,
        rule_key,
        late,
        episode_id,
        at,
        evidence_ping_ids,
        details,
    )
    assert row is not None
    return row["id"], row["inserted"]


OPEN_ALERT_ID = """
SELECT id FROM alerts WHERE person_id = $1 AND type = $2 AND rule_key = $3 AND status <> 'resolved'
"""


async def open_alert_id(
    conn: Conn, *, person_id: int, type: AlertType, rule_key: str
) -> int | None:
    found: int | None = await conn.fetchval(OPEN_ALERT_ID, person_id, type.value, rule_key)
    return found


MERGE_DETAILS = "UPDATE alerts SET details = details || $2, updated_at = now() WHERE id = $1"


async def merge_details(conn: Conn, *, alert_id: int, details: dict[str, Any]) -> None:
    await conn.execute(MERGE_DETAILS, alert_id, details)


ACKNOWLEDGE = """
UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3,
                  note = CASE WHEN $4 = '' THEN note ELSE $4 END, updated_at = now()
WHERE id = $1
"""


async def acknowledge(
    conn: Conn, *, alert_id: int, at: datetime, officer_id: int, note: str
) -> None:
    await conn.execute(ACKNOWLEDGE, alert_id, at, officer_id, note)


RESOLVE = """
UPDATE alerts SET status = 'resolved', resolved_at = $2, resolved_by = $3, disposition = $4,
                  note = $5, updated_at = now()
WHERE id = $1
"""


async def resolve(
    conn: Conn,
    *,
    alert_id: int,
    at: datetime,
    officer_id: int | None,
    disposition: str,
    note: str,
) -> None:
    """officer_id None: resolved by the system (disposition auto_cleared)."""
    await conn.execute(RESOLVE, alert_id, at, officer_id, disposition, note)


INSERT_AUDIT = """
INSERT INTO audit_log (officer_id, action, subject, details) VALUES ($1, $2, $3, $4)
"""


async def audit(
    conn: Conn, *, officer_id: int | None, action: str, subject: str, details: dict[str, Any]
) -> None:
    """Append to the hash-chained audit log (the chain is kept by a trigger); no officer: the
    system's own action (a purge)."""
    await conn.execute(INSERT_AUDIT, officer_id, action, subject, details)


TRACK = """
SELECT id, ts, lat, lon, accuracy_m, speed_mps, heading_deg, battery_pct, checkin, tamper, source
FROM pings WHERE person_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4
"""


async def track(
    conn: Conn, *, person_id: int, start: datetime, end: datetime, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(TRACK, person_id, start, end, limit)


ALERT_EVENTS = """
SELECT id, type, actor_officer_id, payload, created_at FROM events WHERE alert_id = $1 ORDER BY id
"""


async def alert_history(conn: Conn, *, alert_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(ALERT_EVENTS, alert_id)


PERSON_PATH = """
SELECT j.path FROM persons p JOIN jurisdictions j ON j.id = p.jurisdiction_id WHERE p.id = $1
"""


async def person_path(conn: Conn, *, person_id: int) -> str | None:
    path: str | None = await conn.fetchval(PERSON_PATH, person_id)
    return path
