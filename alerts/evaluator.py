"""Evaluator: judges each person's pings against their fences and writes alerts with their events.

State, alerts and events are written in one transaction; the stream entry is acknowledged and
hubs are woken only after commit (a crash in between redelivers the entry, and the state
machine sees those fixes as already judged).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from alerts import state_store, store
from alerts.fences import FenceCache
from alerts.models import AlertType, EventType, NewEvent
from alerts.streams import StreamPing
from geofence.state import DEFAULT_THRESHOLDS, AreaEvent, AreaState, EventKind, Fix, advance

Conn = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)

ALLOWED_AREA_RULE = "allowed_area"
SIGNAL_KEY = "signal_lost_alert"  # set by the timers while a device is silent


@dataclass(frozen=True)
class Checkpoint:
    partition: int
    received_through: datetime


@dataclass(frozen=True)
class EvaluatorConfig:
    position_interval_s: float


def ms_to_dt(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


class Evaluator:
    def __init__(self, pool: asyncpg.Pool, config: EvaluatorConfig) -> None:
        self.pool = pool
        self.config = config
        self.fences = FenceCache()

    async def evaluate(
        self, pings: list[StreamPing], checkpoint: Checkpoint | None = None
    ) -> list[int]:
        """Judge a batch; answers the ids of the events it committed.

        With a checkpoint, the partition's progress commits with the judgement itself.
        """
        by_person: dict[int, list[StreamPing]] = defaultdict(list)
        for ping in pings:
            by_person[ping["person_id"]].append(ping)
        person_ids = sorted(by_person)
        async with self.pool.acquire() as conn:
            persons = await state_store.persons(conn, person_ids=person_ids)
            await self.fences.refresh(conn, persons.values())
            async with conn.transaction():
                states = await state_store.lock_states(conn, person_ids=list(persons))
                events: list[NewEvent] = []
                saved: list[state_store.SavedState] = []
                for person_id, person in persons.items():
                    new_state, person_events = await self._judge(
                        conn, person, states.get(person_id, {}), by_person[person_id]
                    )
                    saved.append(new_state)
                    events += person_events
                await state_store.save_states(conn, states=saved)
                if checkpoint is not None:
                    await state_store.save_checkpoint(
                        conn,
                        partition=checkpoint.partition,
                        last_ping_id=max(p["id"] for p in pings),
                        received_through=checkpoint.received_through,
                    )
                return await store.append_events(conn, events=events)

    async def _judge(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        saved: dict[str, Any],
        pings: list[StreamPing],
    ) -> tuple[state_store.SavedState, list[NewEvent]]:
        codes = self.fences.classify(person, pings)
        fixes = [Fix(p["id"], p["ts_ms"], int(c)) for p, c in zip(pings, codes, strict=True)]
        area = AreaState.from_json(saved.get("area"))
        thresholds = DEFAULT_THRESHOLDS[person.supervision_level]
        area, area_events = advance(area, fixes, thresholds)
        latest = max(pings, key=lambda p: p["ts_ms"])
        events = [await self._area_event(conn, person, e, latest) for e in area_events]
        state = {**saved, "area": area.to_json()}
        if SIGNAL_KEY in state:  # the device is heard again: say so on the signal_lost alert
            events.append(await self._reconnected(conn, person, state.pop(SIGNAL_KEY), latest))
        if self._position_due(saved, latest):
            events.append(position_event(person, latest, area.status.value))
            state["last_position_ms"] = latest["ts_ms"]
        last_ts = ms_to_dt(area.last_ts_ms) if area.last_ts_ms is not None else None
        return state_store.SavedState(
            person.id, state, last_ts, latest["lat"], latest["lon"]
        ), events

    async def _reconnected(
        self, conn: Conn, person: state_store.PersonRow, alert_id: int, latest: StreamPing
    ) -> NewEvent:
        at = ms_to_dt(latest["ts_ms"])
        await store.merge_details(
            conn, alert_id=alert_id, details={"reconnected_at": at.isoformat()}
        )
        return await alert_event(conn, person, EventType.ALERT_UPDATED, alert_id, None, at)

    def _position_due(self, saved: dict[str, Any], latest: StreamPing) -> bool:
        last_ms = int(saved.get("last_position_ms", 0))
        return latest["ts_ms"] - last_ms >= self.config.position_interval_s * 1000

    async def _area_event(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        event: AreaEvent,
        latest: StreamPing,
    ) -> NewEvent:
        at = ms_to_dt(event.ts_ms)
        episode_id = f"{person.id}-{event.episode}"
        if event.kind is EventKind.EXITED:
            alert_id, inserted = await store.upsert_open_alert(
                conn,
                person_id=person.id,
                jurisdiction_id=person.jurisdiction_id,
                type=AlertType.OUT_OF_AREA,
                rule_key=ALLOWED_AREA_RULE,
                at=at,
                late=False,
                episode_id=episode_id,
                evidence_ping_ids=list(event.evidence_ping_ids),
                details={"lat": latest["lat"], "lon": latest["lon"], "exited_at": at.isoformat()},
            )
            kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
        else:
            found = await store.open_alert_id(
                conn, person_id=person.id, type=AlertType.OUT_OF_AREA, rule_key=ALLOWED_AREA_RULE
            )
            alert_id, kind = found or 0, EventType.PERSON_RETURNED
            if found is not None:
                await store.merge_details(
                    conn, alert_id=found, details={"returned_at": at.isoformat()}
                )
        return await alert_event(conn, person, kind, alert_id or None, episode_id, at)


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


def position_event(person: state_store.PersonRow, ping: StreamPing, status: str) -> NewEvent:
    payload = {
        "person_id": person.id,
        "lat": ping["lat"],
        "lon": ping["lon"],
        "accuracy_m": ping["accuracy_m"],
        "ts": ms_to_dt(ping["ts_ms"]).isoformat(),
        "status": status,
        "supervision_level": person.supervision_level,
    }
    return NewEvent(
        EventType.POSITION, person.id, person.jurisdiction_id, person.jurisdiction_path, payload
    )
