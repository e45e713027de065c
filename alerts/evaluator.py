"""Evaluator: judges each person's pings against their fences and writes alerts with their events.

State, alerts and events are written in one transaction; the stream entry is acknowledged and
hubs are woken only after commit (a crash in between redelivers the entry, and the state
machine sees those fixes as already judged).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from asyncpg.pool import PoolConnectionProxy

from alerts import rules_store, state_store, store
from alerts.fences import FenceCache, Points, points_of
from alerts.models import AlertType, EventType, NewEvent
from alerts.streams import StreamPing
from geofence import OUTSIDE
from geofence.models import BoolArray, CodeArray
from geofence.rules import Curfew
from geofence.state import (
    DEFAULT_THRESHOLDS,
    AreaEvent,
    AreaState,
    EventKind,
    Fix,
    Status,
    Thresholds,
    advance,
    far_radius_m,
)

Conn = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)

ALLOWED_AREA_RULE = "allowed_area"
SIGNAL_KEY = "signal_lost_alert"  # set by the timers while a device is silent
PERMIT_KEY = "away_on_permit"  # the leave permit the current excursion began under
ZONES_KEY = "zones"  # exclusion zone id -> its machine's state
CURFEWS_KEY = "curfews"  # curfew rule id -> {"window": [start_ms, end_ms], "area": state}
DEVICE_KEY = "devices"  # device id -> {"last_ms", "tamper", "low"}: what each last reported
LOW_BATTERY_PCT = 15.0  # an ankle band below this may die before the officer can act
BATTERY_RECOVERED_PCT = 25.0


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
        points = points_of(pings)
        thresholds = thresholds_for(person)
        latest = max(pings, key=lambda p: p["ts_ms"])
        state = dict(saved)
        codes = self.fences.classify(person.allowed_fence_ids, points)
        far = self._far_outside(person, points, codes)
        area = AreaState.from_json(saved.get("area"))
        area, area_events = advance(area, fixes_of(pings, codes, far), thresholds)
        state["area"] = area.to_json()
        events: list[NewEvent] = []
        for area_event in area_events:
            events += await self._allowed_area_event(conn, person, area_event, latest, state)
        events += await self._exclusion_zones(conn, person, pings, points, thresholds, state)
        events += await self._curfews(conn, person, pings, points, thresholds, state)
        events += await self._device_alerts(conn, person, pings, state)
        if SIGNAL_KEY in state:  # the device is heard again: say so on the signal_lost alert
            events.append(await self._reconnected(conn, person, state.pop(SIGNAL_KEY), latest))
        if self._position_due(saved, latest):
            events.append(position_event(person, latest, area.status.value))
            state["last_position_ms"] = latest["ts_ms"]
        last_ts = ms_to_dt(area.last_ts_ms) if area.last_ts_ms is not None else None
        return state_store.SavedState(
            person.id, state, last_ts, latest["lat"], latest["lon"]
        ), events

    def _far_outside(
        self, person: state_store.PersonRow, points: Points, codes: CodeArray
    ) -> BoolArray:
        """Certainly more than far_radius_m(accuracy) out: decisive, skips the dwell."""
        far = np.zeros(len(codes), dtype=np.bool_)
        out = np.flatnonzero(codes == OUTSIDE)
        if len(out):
            lat, lon, acc = (a[out] for a in points)
            codes_far = self.fences.classify(
                person.allowed_fence_ids, (lat, lon, acc), far_radius_m(acc)
            )
            far[out] = codes_far == OUTSIDE
        return far

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

    async def _allowed_area_event(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        event: AreaEvent,
        latest: StreamPing,
        state: dict[str, Any],
    ) -> list[NewEvent]:
        # a past excursion proven by late fixes is its own alert, not news on the current one
        key = f"{ALLOWED_AREA_RULE}@{event.episode}" if is_late(event) else ALLOWED_AREA_RULE
        rule = Rule(AlertType.OUT_OF_AREA, key, f"{person.id}-{event.episode}")
        if event.kind is EventKind.EXITED:
            permit = person.rules.permit_at(event.ts_ms)
            if permit is not None:  # 外出审批: away with leave
                if not is_late(event):
                    state[PERMIT_KEY] = permit.permit_id
                return []
            details = {"lat": latest["lat"], "lon": latest["lon"], "exited_at": iso(event)}
            return await self._violation(conn, person, rule, event, details)
        if is_late(event):  # a past excursion's end: the late alert says when it ended
            return await self._back(conn, person, rule, event, "returned_at", None)
        state.pop(PERMIT_KEY, None)
        events = await self._close_permits(conn, person, event)
        # person.returned goes out even without an alert (a permitted or suspended excursion)
        return events + await self._back(
            conn, person, rule, event, "returned_at", EventType.PERSON_RETURNED
        )

    async def _close_permits(
        self, conn: Conn, person: state_store.PersonRow, event: AreaEvent
    ) -> list[NewEvent]:
        """Back inside: every leave that had begun is closed (销假), overdue alerts told."""
        if not person.rules.permits:
            return []
        at = ms_to_dt(event.ts_ms)
        events = []
        for alert_id in await rules_store.close_permits(conn, person_id=person.id, at=at):
            await store.merge_details(conn, alert_id=alert_id, details={"returned_at": iso(event)})
            events.append(
                await alert_event(conn, person, EventType.ALERT_UPDATED, alert_id, None, at)
            )
        return events

    async def _exclusion_zones(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        pings: list[StreamPing],
        points: Points,
        thresholds: Thresholds,
        state: dict[str, Any],
    ) -> list[NewEvent]:
        """Each zone is its own machine: certainly inside the zone is the violation."""
        saved: dict[str, Any] = state.get(ZONES_KEY, {})
        kept: dict[str, Any] = {}
        events: list[NewEvent] = []
        for zone_id in person.exclusion_fence_ids:
            inside_zone = self.fences.classify([zone_id], points)
            machine = AreaState.from_json(saved.get(str(zone_id)))
            machine, zone_events = advance(machine, fixes_of(pings, -inside_zone), thresholds)
            if machine.status is Status.OUTSIDE or machine.run_count or machine.episode:
                kept[str(zone_id)] = machine.to_json()  # a pristine zone costs no state
            for e in zone_events:
                episode_id = f"{person.id}-z{zone_id}-{e.episode}"
                rule = Rule(AlertType.EXCLUSION_ZONE, f"zone:{zone_id}", episode_id)
                if e.kind is EventKind.EXITED:
                    details = {"fence_id": zone_id, "entered_at": iso(e)} | at_ping(pings, e)
                    events += await self._violation(conn, person, rule, e, details)
                else:
                    events += await self._back(conn, person, rule, e, "left_at", None)
        if kept:
            state[ZONES_KEY] = kept
        else:
            state.pop(ZONES_KEY, None)
        return events

    async def _curfews(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        pings: list[StreamPing],
        points: Points,
        thresholds: Thresholds,
        state: dict[str, Any],
    ) -> list[NewEvent]:
        """Inside the home zone during each curfew window; a new window starts afresh."""
        saved: dict[str, Any] = state.get(CURFEWS_KEY, {})
        kept: dict[str, Any] = {}
        events: list[NewEvent] = []
        for curfew in person.rules.curfews:
            key = str(curfew.rule_id)
            windows = [person.rules.curfew_window(curfew, p["ts_ms"]) for p in pings]
            entry = saved.get(key)
            if any(windows):
                home = self.fences.classify([curfew.fence_id], points)
                for window in sorted({w for w in windows if w is not None}):
                    chosen = [i for i, w in enumerate(windows) if w == window]
                    entry, found = await self._curfew_window(
                        conn, person, curfew, window, entry, thresholds,
                        [pings[i] for i in chosen], home[chosen],
                    )  # fmt: skip
                    events += found
            if entry is not None:
                kept[key] = entry
        if kept:
            state[CURFEWS_KEY] = kept
        else:
            state.pop(CURFEWS_KEY, None)
        return events

    async def _curfew_window(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        curfew: Curfew,
        window: tuple[int, int],
        entry: dict[str, Any] | None,
        thresholds: Thresholds,
        pings: list[StreamPing],
        home: CodeArray,
    ) -> tuple[dict[str, Any] | None, list[NewEvent]]:
        if entry is not None and window[0] < entry["window"][0]:
            return entry, []  # fixes of a past night arriving late: that night was judged
        if entry is not None and window[0] == entry["window"][0]:
            machine = AreaState.from_json(entry["area"])
        else:
            machine = AreaState()  # a new night: nothing carried over from the last one
        machine, found = advance(machine, fixes_of(pings, home), thresholds)
        events: list[NewEvent] = []
        for e in found:
            rule = Rule(
                AlertType.CURFEW,
                f"curfew:{curfew.rule_id}",
                f"{person.id}-c{curfew.rule_id}-{window[0]}-{e.episode}",
            )
            if e.kind is EventKind.EXITED:
                details = {
                    "fence_id": curfew.fence_id,
                    "window_start": ms_to_dt(window[0]).isoformat(),
                    "window_end": ms_to_dt(window[1]).isoformat(),
                    "away_at": iso(e),
                } | at_ping(pings, e)
                events += await self._violation(conn, person, rule, e, details)
            else:
                events += await self._back(conn, person, rule, e, "home_at", None)
        return {"window": list(window), "area": machine.to_json()}, events

    async def _device_alerts(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        pings: list[StreamPing],
        state: dict[str, Any],
    ) -> list[NewEvent]:
        """Strap cut or device removed (人机分离), and a flat battery: once per device episode.

        A device keeps flagging tamper on every report until refitted; only the change from
        clear to flagged is news. The battery alert opens below LOW_BATTERY_PCT and is re-armed
        only above BATTERY_RECOVERED_PCT, so a level hovering at the threshold stays quiet.
        """
        flags: dict[str, Any] = state.get(DEVICE_KEY, {})
        events: list[NewEvent] = []
        for device_id in sorted({p["device_id"] for p in pings}):
            mine = sorted((p for p in pings if p["device_id"] == device_id), key=fix_order)
            flag = dict(flags.get(device_id, {}))
            for ping in mine:
                if ping["ts_ms"] <= flag.get("last_ms", -1):
                    continue  # a late report says nothing about the device now
                flag["last_ms"] = ping["ts_ms"]
                events += await self._tamper(conn, person, ping, flag)
                events += await self._battery(conn, person, ping, flag)
            flags[device_id] = flag
        state[DEVICE_KEY] = flags
        return events

    async def _tamper(
        self, conn: Conn, person: state_store.PersonRow, ping: StreamPing, flag: dict[str, Any]
    ) -> list[NewEvent]:
        was, now = bool(flag.get("tamper")), bool(ping["tamper"])
        flag["tamper"] = now
        if now == was:
            return []
        device_id, at = ping["device_id"], ms_to_dt(ping["ts_ms"])
        rule = Rule(AlertType.TAMPER, f"device:{device_id}", f"{person.id}-t-{ping['ts_ms']}")
        if not now:
            return await self._back(conn, person, rule, single(ping), "cleared_at", None)
        details = {"device_id": device_id, "flagged_at": at.isoformat()} | at_ping([ping])
        return await self._violation(conn, person, rule, single(ping), details)

    async def _battery(
        self, conn: Conn, person: state_store.PersonRow, ping: StreamPing, flag: dict[str, Any]
    ) -> list[NewEvent]:
        level = ping["battery_pct"]
        if level is None:
            return []
        device_id = ping["device_id"]
        rule = Rule(AlertType.LOW_BATTERY, f"device:{device_id}", f"{person.id}-b-{ping['ts_ms']}")
        if flag.get("low") and level > BATTERY_RECOVERED_PCT:
            flag["low"] = False
            return await self._back(conn, person, rule, single(ping), "charged_at", None)
        if flag.get("low") or level >= LOW_BATTERY_PCT:
            return []
        flag["low"] = True
        details = {"device_id": device_id, "battery_pct": level}
        return await self._violation(conn, person, rule, single(ping), details)

    async def _violation(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        rule: Rule,
        event: AreaEvent,
        details: dict[str, Any],
    ) -> list[NewEvent]:
        if person.rules.suspended(rule.type.value, event.ts_ms):
            return []  # a suspension window (e.g. a hospital stay): judged, not alerted
        at = ms_to_dt(event.ts_ms)
        alert_id, inserted = await store.upsert_open_alert(
            conn,
            person_id=person.id,
            jurisdiction_id=person.jurisdiction_id,
            type=rule.type,
            rule_key=rule.key,
            at=at,
            late=is_late(event),
            episode_id=rule.episode_id,
            evidence_ping_ids=list(event.evidence_ping_ids),
            details=details,
        )
        kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
        return [await alert_event(conn, person, kind, alert_id, rule.episode_id, at)]

    async def _back(
        self,
        conn: Conn,
        person: state_store.PersonRow,
        rule: Rule,
        event: AreaEvent,
        detail: str,
        always: EventType | None,
    ) -> list[NewEvent]:
        """Compliant again: the open alert records when; `always` is sent even without one."""
        at = ms_to_dt(event.ts_ms)
        found = await store.open_alert_id(
            conn, person_id=person.id, type=rule.type, rule_key=rule.key
        )
        if found is not None:
            await store.merge_details(conn, alert_id=found, details={detail: at.isoformat()})
        kind = always or (EventType.ALERT_UPDATED if found is not None else None)
        if kind is None:
            return []
        return [await alert_event(conn, person, kind, found, rule.episode_id, at)]


@dataclass(frozen=True)
class Rule:
    """What one state machine alerts as: type, the rule key of its one open alert, episode."""

    type: AlertType
    key: str
    episode_id: str


def thresholds_for(person: state_store.PersonRow) -> Thresholds:
    """The level's defaults, with the person's own overrides (a `thresholds` rule)."""
    base = DEFAULT_THRESHOLDS[person.supervision_level]
    overrides: dict[str, Any] = {
        k: int(v) if k.endswith("_pings") else v for k, v in person.rules.thresholds.items()
    }
    return replace(base, **overrides)


def fixes_of(pings: list[StreamPing], codes: CodeArray, far: BoolArray | None = None) -> list[Fix]:
    if far is None:
        return [Fix(p["id"], p["ts_ms"], int(c)) for p, c in zip(pings, codes, strict=True)]
    return [
        Fix(p["id"], p["ts_ms"], int(c), bool(f)) for p, c, f in zip(pings, codes, far, strict=True)
    ]


def fix_order(ping: StreamPing) -> tuple[int, int]:
    return ping["ts_ms"], ping["id"]


def single(ping: StreamPing) -> AreaEvent:
    """One report that decides on its own (a device flag), as the event it makes."""
    return AreaEvent(EventKind.EXITED, ping["ts_ms"], 0, (ping["id"],))


def is_late(event: AreaEvent) -> bool:
    return event.late


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
