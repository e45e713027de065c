"""The judges of devices: tamper and low battery once per device episode, and a device the
timers found silent heard again. Pure (evaluator.decisions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.models import AlertType
from alerts.person_store import PersonRow
from evaluator.decisions import (
    Batch,
    Cleared,
    Decision,
    Noted,
    Rule,
    State,
    Violated,
    with_key,
)
from pings.clock import ms_to_dt

DEVICE_KEY = "devices"  # device id -> {"last_ms", "tamper", "low"}: what each last reported
LOST_KEY = "signal_lost"  # device id -> its open signal_lost alert (alerts.timer_store)
# a person's signal_lost alert from before silence was judged per device (LOST_KEY now):
# still told when the person is heard again
SIGNAL_KEY = "signal_lost_alert"
LOW_BATTERY_PCT = 15.0  # an ankle band below this may die before the officer can act
BATTERY_RECOVERED_PCT = 25.0


def device_flags(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """Strap cut or device removed (人机分离), and a flat battery: once per device episode.

    A device keeps flagging tamper on every report until refitted; only the change from
    clear to flagged is news. The battery alert opens below LOW_BATTERY_PCT and is re-armed
    only above BATTERY_RECOVERED_PCT, so a level hovering at the threshold stays quiet.
    """
    times, tampered, levels = batch.readings.times, batch.readings.tampered, batch.readings.battery
    flags: dict[str, Any] = dict(state.get(DEVICE_KEY, {}))
    decisions: list[Decision] = []
    for device_id, places in batch.places_by_device().items():
        flag = dict(flags.get(device_id, {}))
        if not flag.get("tamper") and not any(tampered[i] or levels[i] is not None for i in places):
            # nothing to tell (almost every report): only the newest report's time moves
            newest = max(times[i] for i in places)
            if newest > flag.get("last_ms", -1):
                flag["last_ms"] = newest
            flags[device_id] = flag
            continue
        for place in batch.in_fix_order(places):
            if times[place] <= flag.get("last_ms", -1):
                continue  # a late report says nothing about the device now
            flag["last_ms"] = times[place]
            if tampered[place] != bool(flag.get("tamper")):
                decisions += tamper(person, batch, place, flag)
            level = levels[place]
            if level is not None:
                decisions += battery(person, batch, place, level, flag)
        flags[device_id] = flag
    return {**state, DEVICE_KEY: flags}, decisions


def tamper(person: PersonRow, batch: Batch, place: int, flag: dict[str, Any]) -> list[Decision]:
    """Called on a change of the tamper flag only, for the ping at `place`; `flag` is the
    judge's own copy."""
    now = not flag.get("tamper")
    flag["tamper"] = now
    device_id, ts_ms = batch.readings.device_ids[place], batch.readings.times[place]
    rule = Rule(AlertType.TAMPER, f"device:{device_id}", f"{person.id}-t-{ts_ms}")
    if not now:
        return [Cleared(rule, ts_ms, "cleared_at")]
    details = {"device_id": device_id, "flagged_at": ms_to_dt(ts_ms).isoformat()}
    ping_id = batch.readings.ids[place]
    return [Violated(rule, ts_ms, details | batch.position(place), (ping_id,))]


def battery(
    person: PersonRow, batch: Batch, place: int, level: float, flag: dict[str, Any]
) -> list[Decision]:
    low = flag.get("low")
    if (low and level <= BATTERY_RECOVERED_PCT) or (not low and level >= LOW_BATTERY_PCT):
        return []  # no change: the common case, on every report
    device_id, ts_ms = batch.readings.device_ids[place], batch.readings.times[place]
    rule = Rule(AlertType.LOW_BATTERY, f"device:{device_id}", f"{person.id}-b-{ts_ms}")
    if low:
        flag["low"] = False
        return [Cleared(rule, ts_ms, "charged_at")]
    flag["low"] = True
    details = {"device_id": device_id, "battery_pct": level}
    return [Violated(rule, ts_ms, details, (batch.readings.ids[place],))]


def reconnections(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """A device the timers found silent is heard again: its signal_lost alert says when."""
    if not state.get(LOST_KEY):
        return state, []  # nearly every batch
    lost: dict[str, int] = dict(state[LOST_KEY])
    decisions: list[Decision] = []
    times = batch.readings.times
    for device_id, places in batch.places_by_device().items():
        if device_id not in lost:
            continue
        ts_ms = max(times[place] for place in places)
        details = {"reconnected_at": ms_to_dt(ts_ms).isoformat()}
        decisions.append(Noted(lost.pop(device_id), ts_ms, details))
    return with_key(state, LOST_KEY, lost), decisions


def person_heard(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """The person's signal_lost alert of before per-device silence, told they are heard."""
    if SIGNAL_KEY not in state:
        return state, []
    ts_ms = batch.readings.times[batch.latest]
    details = {"reconnected_at": ms_to_dt(ts_ms).isoformat()}
    rest = {k: v for k, v in state.items() if k != SIGNAL_KEY}
    return rest, [Noted(state[SIGNAL_KEY], ts_ms, details)]


def quietest_fix(person: PersonRow, state: State) -> datetime | None:
    """The oldest newest fix among the person's live devices (None if one never reported):
    no device of a person whose quietest is recent can be silent, so the timers skip them."""
    flags: dict[str, Any] = state.get(DEVICE_KEY, {})
    oldest: int | None = None
    for device_id in (*person.band_ids, *person.phone_ids):
        last_ms = flags.get(device_id, {}).get("last_ms")
        if last_ms is None:
            return None
        oldest = last_ms if oldest is None else min(oldest, last_ms)
    return None if oldest is None else ms_to_dt(oldest)
