"""SQL of the time-driven checks: find silent persons and overdue alerts, record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from alerts import rules_store, state_store, store
from alerts.models import AlertType, EventType, NewEvent

Conn = asyncpg.Connection | PoolConnectionProxy

SIGNAL_LOST_RULE = "device"
STATE_KEY = "signal_lost_alert"

# the cheap prefilter uses the smallest floor (5 min); the decision function has the last word
SILENT = """
SELECT s.person_id, p.supervision_level, p.jurisdiction_id, j.path AS jurisdiction_path,
       s.last_ping_at, max(d.expected_interval_s) AS expected_interval_s
FROM person_state s
JOIN persons p ON p.id = s.person_id
JOIN jurisdictions j ON j.id = p.jurisdiction_id
JOIN devices d ON d.person_id = p.id AND d.revoked_at IS NULL
WHERE s.last_ping_at < $1::timestamptz - interval '5 minutes' AND NOT s.state ? 'signal_lost_alert'
  AND EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = p.id
              AND o.revoked_at IS NULL AND o.starts_at <= $1 AND $1 < o.ends_at)
GROUP BY s.person_id, p.id, j.path
ORDER BY s.person_id LIMIT 1000
"""
MARK_LOST = """
UPDATE person_state SET state = state || jsonb_build_object('signal_lost_alert', $2::bigint)
WHERE person_id = $1 AND NOT state ? 'signal_lost_alert'
RETURNING person_id
"""

SignalDecision = Callable[..., bool]
RungDecision = Callable[..., str | None]


async def open_signal_lost(conn: Conn, *, now: datetime, decide: SignalDecision) -> list[int]:
    """Open one signal_lost alert per silent person; answers the committed event ids."""
    rows = await conn.fetch(SILENT, now)
    lost = [
        r
        for r in rows
        if decide(
            supervision_level=r["supervision_level"],
            expected_interval_s=r["expected_interval_s"],
            last_ping_at=r["last_ping_at"],
            now=now,
        )
    ]
    if not lost:
        return []
    persons = await state_store.persons(conn, person_ids=[r["person_id"] for r in lost])
    now_ms = round(now.timestamp() * 1000)
    events: list[NewEvent] = []
    async with conn.transaction():
        for row in lost:
            person = persons.get(row["person_id"])
            if person and person.rules.suspended(AlertType.SIGNAL_LOST.value, now_ms):
                continue  # e.g. a planned device swap; asked again after the window
            events += await _open_one(conn, row, now)
        return await store.append_events(conn, events=events)


async def _open_one(conn: Conn, row: asyncpg.Record, now: datetime) -> list[NewEvent]:
    alert_id, inserted = await store.upsert_open_alert(
        conn,
        person_id=row["person_id"],
        jurisdiction_id=row["jurisdiction_id"],
        type=AlertType.SIGNAL_LOST,
        rule_key=SIGNAL_LOST_RULE,
        at=now,
        late=False,
        episode_id=None,
        evidence_ping_ids=[],
        details={"last_ping_at": row["last_ping_at"].isoformat()},
    )
    if await conn.fetchval(MARK_LOST, row["person_id"], alert_id) is None:
        return []  # an evaluator saw a ping meanwhile: the row is already flagged or gone
    return [
        await alert_event(
            conn, alert_id, EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED, {}
        )
    ]


async def alert_event(
    conn: Conn, alert_id: int, kind: EventType, extra: dict[str, Any]
) -> NewEvent:
    alert = await store.get_alert(conn, alert_id=alert_id)
    assert alert is not None
    payload = {"person_id": alert.person_id, "alert": alert.to_wire(), **extra}
    return NewEvent(
        kind,
        alert.person_id,
        alert.jurisdiction_id,
        alert.jurisdiction_path,
        payload,
        alert_id=alert_id,
    )


OVERDUE = """
SELECT a.id, a.escalation_level, coalesce(a.escalated_at, a.created_at) AS since,
       p.supervision_level
FROM alerts a JOIN persons p ON p.id = a.person_id
WHERE a.status IN ('open', 'escalated') AND a.escalation_level <> 'city'
  AND coalesce(a.escalated_at, a.created_at) < $1::timestamptz - interval '5 minutes'
ORDER BY a.id LIMIT 1000
"""
ESCALATE = """
UPDATE alerts SET escalation_level = $2, status = 'escalated', escalated_at = $3, updated_at = now()
WHERE id = $1 AND status IN ('open', 'escalated') AND escalation_level = $4
RETURNING id
"""


async def escalate(conn: Conn, *, now: datetime, decide: RungDecision) -> list[int]:
    """Move unacknowledged alerts up a rung once their SLA has passed."""
    events: list[NewEvent] = []
    async with conn.transaction():
        for row in await conn.fetch(OVERDUE, now):
            rung = decide(
                supervision_level=row["supervision_level"],
                level=row["escalation_level"],
                since=row["since"],
                now=now,
            )
            if rung is None:
                continue
            if await conn.fetchval(ESCALATE, row["id"], rung, now, row["escalation_level"]):
                events.append(
                    await alert_event(
                        conn,
                        row["id"],
                        EventType.ALERT_ESCALATED,
                        {"from": row["escalation_level"], "to": rung},
                    )
                )
        return await store.append_events(conn, events=events)


async def open_overdue_returns(conn: Conn, *, now: datetime) -> list[int]:
    """Leave over, grace over, person still away: overdue_return (逾期未归); else close it."""
    events: list[NewEvent] = []
    async with conn.transaction():
        ended = await rules_store.ended_permits(conn, now=now)
        if not ended:
            return []
        persons = await state_store.persons(
            conn, person_ids=sorted({r["person_id"] for r in ended})
        )
        now_ms = round(now.timestamp() * 1000)
        for row in ended:
            person = persons.get(row["person_id"])
            if person is None:
                continue
            if row["status"] != "outside":  # back, or never left: the leave is over (销假)
                await rules_store.close_ended(conn, permit_id=row["id"], at=now)
                continue
            if person.rules.suspended(AlertType.OVERDUE_RETURN.value, now_ms):
                continue  # asked again on the next round, after the suspension ends
            alert_id, inserted = await store.upsert_open_alert(
                conn,
                person_id=person.id,
                jurisdiction_id=person.jurisdiction_id,
                type=AlertType.OVERDUE_RETURN,
                rule_key=f"permit:{row['id']}",
                at=now,
                late=False,
                episode_id=None,
                evidence_ping_ids=[],
                details={
                    "permit_id": row["id"],
                    "ends_at": row["ends_at"].isoformat(),
                    "grace_s": row["grace_s"],
                    "destination": row["destination"],
                },
            )
            await rules_store.mark_overdue(conn, permit_id=row["id"], alert_id=alert_id)
            kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
            events.append(await alert_event(conn, alert_id, kind, {}))
        return await store.append_events(conn, events=events)
