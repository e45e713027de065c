"""Writing what a rule's state machine decided: open or update its one alert, or note the return.

Every rule (allowed area, exclusion zone, curfew, device flags) alerts through `Verdicts`, so
suspension windows, late marks, evidence and the events for the console work the same for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
from asyncpg.pool import PoolConnectionProxy

from alerts import state_store, store
from alerts.models import AlertType, EventType, NewEvent
from geofence.models import BoolArray, CodeArray
from geofence.state import AreaEvent, EventKind, Fix, FixColumns
from pings.batch import StreamPing
from pings.clock import ms_to_dt as ms_to_dt  # the judges and timers import it from here

Conn = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class Rule:
    """What one state machine alerts as: type, the rule key of its one open alert, episode."""

    type: AlertType
    key: str
    episode_id: str


@dataclass(frozen=True)
class Verdicts:
    """One person's alerts, inside the evaluator's transaction."""

    conn: Conn
    person: state_store.PersonRow

    async def violation(
        self,
        rule: Rule,
        event: AreaEvent,
        details: dict[str, Any],
    ) -> list[NewEvent]:
        if self.person.rules.suspended(rule.type.value, event.ts_ms):
            return []  # a suspension window (e.g. a hospital stay): judged, not alerted
        at = ms_to_dt(event.ts_ms)
        alert_id, inserted = await store.upsert_open_alert(
            self.conn,
            person_id=self.person.id,
            jurisdiction_id=self.person.jurisdiction_id,
            type=rule.type,
            rule_key=rule.key,
            at=at,
            late=event.late,
            episode_id=rule.episode_id,
            evidence_ping_ids=list(event.evidence_ping_ids),
            details=details,
        )
        kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
        return [await alert_event(self.conn, self.person, kind, alert_id, rule.episode_id, at)]

    async def back(
        self,
        rule: Rule,
        event: AreaEvent,
        detail: str,
        always: EventType | None,
    ) -> list[NewEvent]:
        """Compliant again: the open alert records when; `always` is sent even without one."""
        at = ms_to_dt(event.ts_ms)
        found = await store.open_alert_id(
            self.conn, person_id=self.person.id, type=rule.type, rule_key=rule.key
        )
        if found is not None:
            await store.merge_details(self.conn, alert_id=found, details={detail: at.isoformat()})
        kind = always or (EventType.ALERT_UPDATED if found is not None else None)
        if kind is None:
            return []
        return [await alert_event(self.conn, self.person, kind, found, rule.episode_id, at)]

    async def updated(self, alert_id: int, at: datetime, details: dict[str, Any]) -> NewEvent:
        """News on an alert opened elsewhere (signal_lost, overdue_return)."""
        await store.merge_details(self.conn, alert_id=alert_id, details=details)
        return await alert_event(
            self.conn, self.person, EventType.ALERT_UPDATED, alert_id, None, at
        )


# from this many fixes, columns: `advance` judges a compliant batch of them without stepping
# each. Fewer, a Fix each: numpy's cost per call is more than what it saves.
# See docs/decisions/0025-judging-batches-as-columns.md
COLUMNS_FROM = 16


def fixes_of(
    pings: list[StreamPing], codes: CodeArray, far: BoolArray | None = None
) -> list[Fix] | FixColumns:
    count = len(pings)
    if count >= COLUMNS_FROM:
        ids = np.fromiter((p["id"] for p in pings), np.int64, count)
        times = np.fromiter((p["ts_ms"] for p in pings), np.int64, count)
        return FixColumns(ids, times, codes, far)
    # tolist() makes Python ints and bools in one go, far cheaper than int() per numpy scalar
    code_list: list[int] = codes.tolist()
    if far is None:
        return [Fix(p["id"], p["ts_ms"], c) for p, c in zip(pings, code_list, strict=True)]
    far_list: list[bool] = far.tolist()
    return [
        Fix(p["id"], p["ts_ms"], c, f) for p, c, f in zip(pings, code_list, far_list, strict=True)
    ]


def fix_order(ping: StreamPing) -> tuple[int, int]:
    return ping["ts_ms"], ping["id"]


def single(ping: StreamPing) -> AreaEvent:
    """One report that decides on its own (a device flag), as the event it makes."""
    return AreaEvent(EventKind.EXITED, ping["ts_ms"], 0, (ping["id"],))


def iso(event: AreaEvent) -> str:
    return ms_to_dt(event.ts_ms).isoformat()


def at_ping(pings: list[StreamPing], event: AreaEvent | None = None) -> dict[str, Any]:
    """Where the person was on the fix that decided the event (the only one if no event)."""
    ids = {pings[0]["id"]} if event is None else set(event.evidence_ping_ids[-1:])
    ping = next((p for p in pings if p["id"] in ids), None)
    return {} if ping is None else {"lat": ping["lat"], "lon": ping["lon"]}


async def alert_event(
    conn: Conn,
    person: state_store.PersonRow,
    kind: EventType,
    alert_id: int | None,
    episode_id: str | None,
    at: datetime,
) -> NewEvent:
    payload: dict[str, Any] = {
        "person_id": person.id,
        "episode_id": episode_id,
        "at": at.isoformat(),
    }
    if alert_id is not None:
        alert = await store.get_alert(conn, alert_id=alert_id)
        assert alert is not None
        payload["alert"] = alert.to_wire()
    return NewEvent(
        kind,
        person.id,
        person.jurisdiction_id,
        person.jurisdiction_path,
        payload,
        alert_id=alert_id,
    )
