"""SQL of the time-driven checks: find silent devices and overdue alerts, record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from alerts import outbox, permit_store, person_store, store
from alerts.levels import LEVELS
from alerts.models import AlertType, EventType, NewEvent
from alerts.outbox import alert_event
from alerts.silence import LAST_MS, SILENT_SINCE, SilenceRule, order_in_force
from pings.clock import dt_to_ms, ms_to_dt
from pings.pg import Conn

# Each device silent at $1 by the rule (alerts.silence) and not already flagged. A scan of the
# live devices each round; the evaluator's quietest_fix_at (the person's oldest device report)
# drops, on one column, every person whose devices all reported within the least floor ($2),
# before any jsonb is read.
SILENT = """
SELECT d.id AS device_id, d.kind, d.expected_interval_s, p.id AS person_id,
       p.supervision_level, p.jurisdiction_id, {last_ms} AS last_ms, {silent_since} AS silent_since
FROM devices d
JOIN persons p ON p.id = d.person_id
LEFT JOIN person_state st ON st.person_id = d.person_id
{order_in_force}
WHERE d.revoked_at IS NULL
  -- every device of the person reported within the least threshold: none can be silent
  AND (st.quietest_fix_at IS NULL
       OR st.quietest_fix_at < $1::timestamptz - make_interval(secs => $2))
  AND NOT coalesce(st.state->'signal_lost' ? d.id, false)
  AND {is_silent}
ORDER BY silent_since LIMIT 1000
"""


def silent_query(rule: SilenceRule) -> str:
    """SILENT under `rule`: the same text for the same rule, so asyncpg prepares it once."""
    return SILENT.format(
        last_ms=LAST_MS,
        silent_since=SILENT_SINCE,
        order_in_force=order_in_force("$1::timestamptz"),
        is_silent=rule.is_silent_sql("$1::timestamptz"),
    )


ENSURE_STATE = """
INSERT INTO person_state (person_id, state) VALUES ($1, '{}') ON CONFLICT DO NOTHING
"""
# the row lock the evaluator takes too: a report of the device committed since SILENT read it
# moves last_ms, and then nothing is opened
LOCK_QUIET = """
SELECT 1 FROM person_state WHERE person_id = $1
  AND NOT coalesce(state->'signal_lost' ? $2, false)
  AND (state->'devices'->$2->>'last_ms') IS NOT DISTINCT FROM $3
FOR UPDATE
"""
MARK_LOST = """
UPDATE person_state
SET state = jsonb_set(state, '{signal_lost}', coalesce(state->'signal_lost', '{}')
                                             || jsonb_build_object($2::text, $3::bigint))
WHERE person_id = $1
"""

RungDecision = Callable[..., str | None]


async def lost_devices(conn: Conn, *, now: datetime, rule: SilenceRule) -> list[asyncpg.Record]:
    """The tracked devices silent past their threshold at `now`, in the evaluator's lock order."""
    rows = await conn.fetch(silent_query(rule), now, rule.least_floor_s)
    # the query has already chosen them; this says it in Python too, where it is unit-tested
    lost = [
        r
        for r in rows
        if rule.is_lost(
            supervision_level=r["supervision_level"],
            expected_interval_s=r["expected_interval_s"],
            silent_since=r["silent_since"],
            now=now,
        )
    ]
    return sorted(lost, key=lambda r: (r["person_id"], r["device_id"]))


async def open_signal_lost(conn: Conn, *, now: datetime, rule: SilenceRule) -> list[int]:
    """Open one signal_lost alert per silent device; answers the committed event ids."""
    lost = await lost_devices(conn, now=now, rule=rule)
    if not lost:
        return []
    persons = await person_store.persons(conn, person_ids=sorted({r["person_id"] for r in lost}))
    now_ms = dt_to_ms(now)
    events: list[NewEvent] = []
    async with conn.transaction():
        for row in lost:  # in person order, as the evaluator locks rows: no deadlock
            person = persons.get(row["person_id"])
            if person and person.rules.suspended(AlertType.SIGNAL_LOST.value, now_ms):
                continue  # e.g. a planned device swap; asked again after the window
            events += await _open_one(conn, row, now, rule)
        return await outbox.append_events(conn, events=events)


async def _open_one(
    conn: Conn, row: asyncpg.Record, now: datetime, rule: SilenceRule
) -> list[NewEvent]:
    person_id, device_id = row["person_id"], row["device_id"]
    await conn.execute(ENSURE_STATE, person_id)
    if await conn.fetchval(LOCK_QUIET, person_id, device_id, row["last_ms"]) is None:
        return []  # the device was heard (or flagged) since: nothing to open
    last_ms = row["last_ms"]
    after = rule.after(row["supervision_level"], row["expected_interval_s"])
    alert_id, inserted = await store.upsert_open_alert(
        conn,
        person_id=person_id,
        jurisdiction_id=row["jurisdiction_id"],
        type=AlertType.SIGNAL_LOST,
        rule_key=f"device:{device_id}",
        at=now,
        late=False,
        episode_id=None,
        evidence_ping_ids=[],
        details={
            "device_id": device_id,
            "device_kind": row["kind"],
            "last_fix_at": None if last_ms is None else ms_to_dt(int(last_ms)).isoformat(),
            "silent_since": row["silent_since"].isoformat(),
            "after_s": after.total_seconds(),
        },
    )
    await conn.execute(MARK_LOST, person_id, device_id, alert_id)
    kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
    return [await alert_event(conn, alert_id, kind, {})]


# Unacknowledged alerts past the shortest SLA with an office above their rung, at or below the
# top ($3), on their jurisdiction's chain of ancestors (its path's ids); `chain` is that chain's
# levels, for the pure decision (alerts.levels.next_rung) to say it again in Python. $2 is the
# ladder, lowest first: an alert at the top, or at the root of its tree, is not read again.
OVERDUE = """
SELECT a.id, a.escalation_level, coalesce(a.escalated_at, a.created_at) AS since,
       p.supervision_level, up.chain
FROM alerts a JOIN persons p ON p.id = a.person_id JOIN jurisdictions j ON j.id = a.jurisdiction_id
CROSS JOIN LATERAL (
    SELECT array_agg(anc.level) AS chain FROM jurisdictions anc
    WHERE anc.id = ANY(string_to_array(trim(BOTH '/' FROM j.path), '/')::bigint[])) up
WHERE a.status IN ('open', 'escalated')
  AND coalesce(a.escalated_at, a.created_at) < $1::timestamptz - interval '5 minutes'
  AND EXISTS (SELECT 1 FROM unnest(up.chain) AS c (level)
              WHERE array_position($2::text[], c.level)
                    BETWEEN array_position($2, a.escalation_level) + 1 AND array_position($2, $3))
ORDER BY a.id LIMIT 1000
"""
ESCALATE = """
UPDATE alerts SET escalation_level = $2, status = 'escalated', escalated_at = $3, updated_at = now()
WHERE id = $1 AND status IN ('open', 'escalated') AND escalation_level = $4
RETURNING id
"""


async def escalate(conn: Conn, *, now: datetime, top: str, decide: RungDecision) -> list[int]:
    """Move unacknowledged alerts up their jurisdiction's chain once their SLA has passed."""
    events: list[NewEvent] = []
    async with conn.transaction():
        for row in await conn.fetch(OVERDUE, now, list(LEVELS), top):
            rung = decide(
                supervision_level=row["supervision_level"],
                level=row["escalation_level"],
                chain=row["chain"],
                top=top,
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
        return await outbox.append_events(conn, events=events)


async def open_overdue_returns(conn: Conn, *, now: datetime) -> list[int]:
    """Leave over, grace over, person still away: overdue_return (逾期未归); else close it."""
    events: list[NewEvent] = []
    async with conn.transaction():
        ended = await permit_store.ended_permits(conn, now=now)
        if not ended:
            return []
        persons = await person_store.persons(
            conn, person_ids=sorted({r["person_id"] for r in ended})
        )
        now_ms = dt_to_ms(now)
        for row in ended:
            person = persons.get(row["person_id"])
            if person is None:
                continue
            if row["status"] != "outside":  # back, or never left: the leave is over (销假)
                await permit_store.close_ended(conn, permit_id=row["id"], at=now)
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
            await permit_store.mark_overdue(conn, permit_id=row["id"], alert_id=alert_id)
            kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
            events.append(await alert_event(conn, alert_id, kind, {}))
        return await outbox.append_events(conn, events=events)
