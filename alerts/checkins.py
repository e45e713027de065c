"""Missed check-ins (未签到): each window of a check-in rule is judged once, after its grace.

A window is kept when the person's stored pings hold a check-in (`checkin: true`) whose fix
time lies inside it. Otherwise `missed_checkin` opens: one open alert per rule, which a later
missed window updates (`missed` lists the windows it stands for). Nothing is asked of a
person without a monitoring order over the window, nor while a suspension covers
`missed_checkin`.

Check-ins are read from PostgreSQL, never from the stream: a phone that was offline delivers
a check-in made in time after the window closed, and the grace is there for it. A check-in
made in time that arrives later still means the alert was false: when the alert stands for
that window alone it resolves itself (disposition `auto_cleared`), since false alarms are a
defect here (a 10% missed check-in alarm rate was a headline problem in the field). A
check-in made after the window, or one that kept only the latest of several missed windows,
is written onto the open alert as `checked_in_at`, for the officer to weigh.

Windows are judged in the transaction that moves the rule's `due_at` to its next window, with
the due rules locked and skipped by other workers' timers, so a window is judged once however
many workers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from alerts import outbox, person_store, store
from alerts.models import AlertType, EventType, NewEvent
from alerts.outbox import alert_event
from geofence.errors import InvalidInputError
from geofence.person_rules import Checkin, parse_checkin
from pings.clock import dt_to_ms, ms_to_dt
from pings.pg import Conn

log = logging.getLogger(__name__)

BATCH = 1000  # rules judged per transaction; a round judges every due rule, BATCH at a time
AUTO_CLEARED = "auto_cleared"  # the disposition of an alert the system found false

DUE = """
SELECT id, person_id, params, due_at FROM person_rules
WHERE kind = 'checkin' AND active AND due_at <= $1
ORDER BY due_at, id LIMIT $2
FOR UPDATE SKIP LOCKED
"""
# per window: was a check-in stored inside it, and was the person under an order at its
# opening and at its close (an order renewed mid-window still counts)
WINDOWS = """
SELECT w.rule_id,
       EXISTS (SELECT 1 FROM pings k WHERE k.person_id = w.person_id AND k.checkin
               AND k.ts >= w.starts AND k.ts < w.ends) AS kept,
       EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = w.person_id
               AND o.revoked_at IS NULL AND o.starts_at <= w.starts AND w.starts < o.ends_at)
       AND EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = w.person_id
               AND o.revoked_at IS NULL AND o.starts_at < w.ends AND w.ends <= o.ends_at)
       AS ordered
FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[])
     AS w(rule_id, person_id, starts, ends)
"""
# the alert lists every window it stands for, oldest first
ADD_MISSED = """
UPDATE alerts SET details = details || jsonb_build_object(
    'missed', coalesce(details->'missed', '[]'::jsonb) || to_jsonb($2::text))
WHERE id = $1
"""
ADVANCE = """
UPDATE person_rules SET due_at = d.due_at
FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, due_at) WHERE person_rules.id = d.id
"""
# open missed_checkin alerts without a check-in noted, with the first check-in stored since
# their window opened (the partial index alerts_checkin_unnoted keeps this small)
LATE = """
SELECT a.id, k.ts, (a.details->>'window_end')::timestamptz AS window_end,
       jsonb_array_length(coalesce(a.details->'missed', '[]')) AS missed
FROM alerts a
CROSS JOIN LATERAL (
    SELECT k.ts FROM pings k
    WHERE k.person_id = a.person_id AND k.checkin
      AND k.ts >= (a.details->>'window_start')::timestamptz
    ORDER BY k.ts LIMIT 1
) k
WHERE a.type = 'missed_checkin' AND a.status <> 'resolved' AND a.details->>'checked_in_at' IS NULL
ORDER BY a.id LIMIT $1
FOR UPDATE OF a SKIP LOCKED
"""


@dataclass(frozen=True)
class Window:
    rule_id: int
    person_id: int
    checkin: Checkin
    starts_ms: int
    ends_ms: int


async def judge_due(conn: Conn, *, now: datetime) -> list[int]:
    """Judge every window whose grace is over, a rule's windows in order (after an outage
    several may be); answers the committed event ids."""
    event_ids: list[int] = []
    while True:
        async with conn.transaction():
            rows = await conn.fetch(DUE, now, BATCH)
            if not rows:
                return event_ids
            event_ids += await _judge(conn, rows, now)


async def _judge(conn: Conn, rows: list[asyncpg.Record], now: datetime) -> list[int]:
    persons = await person_store.persons(conn, person_ids=sorted({r["person_id"] for r in rows}))
    windows: list[Window] = []
    next_due: dict[int, datetime] = {}
    for row in rows:
        person = persons.get(row["person_id"])
        try:
            checkin = parse_checkin(row["id"], row["params"])
        except InvalidInputError as error:  # the API checks rules; only hand-made rows get here
            log.error("check-in rule %d not judged: %s; asked again in a day", row["id"], error)
            checkin = None
        if checkin is None or person is None:
            next_due[row["id"]] = now + timedelta(days=1)
            continue
        starts_ms, ends_ms = checkin.window_due_at(dt_to_ms(row["due_at"]))
        windows.append(Window(row["id"], person.id, checkin, starts_ms, ends_ms))
        following = checkin.next_window(starts_ms, person.rules.zone)
        next_due[row["id"]] = ms_to_dt(checkin.due_ms(following))
    events: list[NewEvent] = []
    for window, kept, ordered in await _outcomes(conn, windows):
        person = persons[window.person_id]
        if kept or not ordered:
            continue
        if any(  # a suspension over either end of the window (a hospital stay) excuses it
            person.rules.suspended(AlertType.MISSED_CHECKIN.value, at_ms)
            for at_ms in (window.starts_ms, window.ends_ms - 1)
        ):
            continue
        events.append(await _missed(conn, person, window, now))
    await conn.execute(ADVANCE, list(next_due), list(next_due.values()))
    return await outbox.append_events(conn, events=events)


async def _outcomes(conn: Conn, windows: list[Window]) -> list[tuple[Window, bool, bool]]:
    if not windows:
        return []
    rows = await conn.fetch(
        WINDOWS,
        [w.rule_id for w in windows],
        [w.person_id for w in windows],
        [ms_to_dt(w.starts_ms) for w in windows],
        [ms_to_dt(w.ends_ms) for w in windows],
    )
    found = {r["rule_id"]: (r["kept"], r["ordered"]) for r in rows}
    return [(w, *found[w.rule_id]) for w in windows]


async def _missed(
    conn: Conn, person: person_store.PersonRow, window: Window, now: datetime
) -> NewEvent:
    alert_id, inserted = await store.upsert_open_alert(
        conn,
        person_id=person.id,
        jurisdiction_id=person.jurisdiction_id,
        type=AlertType.MISSED_CHECKIN,
        rule_key=f"checkin:{window.rule_id}",
        at=now,
        late=False,
        episode_id=None,
        evidence_ping_ids=[],
        details={
            "rule_id": window.rule_id,
            "window_start": ms_to_dt(window.starts_ms).isoformat(),
            "window_end": ms_to_dt(window.ends_ms).isoformat(),
            "grace_s": window.checkin.grace_s,
            "checked_in_at": None,  # a window missed again: a check-in noted earlier is old news
        },
    )
    await conn.execute(ADD_MISSED, alert_id, ms_to_dt(window.starts_ms).isoformat())
    kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
    return await alert_event(conn, alert_id, kind, {})


async def note_late(conn: Conn, *, now: datetime) -> list[int]:
    """A check-in stored after its window was judged: made in time, and the alert stands for
    that window alone, the alert was false and resolves itself; otherwise (made late, or the
    alert also stands for earlier misses) it is noted on the open alert."""
    async with conn.transaction():
        events: list[NewEvent] = []
        for row in await conn.fetch(LATE, BATCH):
            at = row["ts"].isoformat()
            await store.merge_details(conn, alert_id=row["id"], details={"checked_in_at": at})
            kind = EventType.ALERT_UPDATED
            if row["ts"] < row["window_end"] and row["missed"] <= 1:
                note = f"checked in at {at}, inside the window; the check-in arrived late"
                await store.resolve(
                    conn, alert_id=row["id"], at=now, officer_id=None,
                    disposition=AUTO_CLEARED, note=note,
                )  # fmt: skip
                kind = EventType.ALERT_RESOLVED
            events.append(await alert_event(conn, row["id"], kind, {}))
        return await outbox.append_events(conn, events=events)
