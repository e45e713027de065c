"""The rules beyond the allowed area, each its own state machine: exclusion zones, curfews,
and device flags (tamper, low battery). Pure decisions come from geofence; alerts go through
Verdicts inside the evaluator's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from alerts.fences import FenceCache, Points
from alerts.models import AlertType, NewEvent
from alerts.state_store import PersonRow
from alerts.verdicts import Rule, Verdicts, at_ping, fix_order, fixes_of, iso, ms_to_dt, single
from geofence import OUTSIDE
from geofence.models import CodeArray
from geofence.rules import Curfew
from geofence.state import AreaState, EventKind, Status, Thresholds, advance
from pings.batch import StreamPing

ZONES_KEY = "zones"  # exclusion zone id -> its machine's state
CURFEWS_KEY = "curfews"  # curfew rule id -> {"window": [start_ms, end_ms], "area": state}
DEVICE_KEY = "devices"  # device id -> {"last_ms", "tamper", "low"}: what each last reported
LOST_KEY = "signal_lost"  # device id -> its open signal_lost alert (alerts.timer_store)
LOW_BATTERY_PCT = 15.0  # an ankle band below this may die before the officer can act
BATTERY_RECOVERED_PCT = 25.0


async def exclusion_zones(
    v: Verdicts,
    fences: FenceCache,
    pings: list[StreamPing],
    points: Points,
    thresholds: Thresholds,
    state: dict[str, Any],
    judged_through: AreaState,
) -> list[NewEvent]:
    """Each zone is its own machine: certainly inside the zone is the violation.

    `judged_through` is the allowed area's state before these pings: every machine sees the
    same fixes, so a zone that keeps no state has judged as far, and older fixes are late."""
    saved: dict[str, Any] = state.get(ZONES_KEY, {})
    if not saved and not v.person.exclusion_fence_ids:
        return []  # most people: no zone, nothing remembered (a tenth of the worker's time)
    kept: dict[str, Any] = {}
    events: list[NewEvent] = []
    zones = fences.classify_zones(v.person.exclusion_fence_ids, points)
    outside = np.full(len(pings), OUTSIDE, dtype=np.int8)
    # a pristine zone stays pristine on fixes outside it: only zones hit or under way are run
    under_way = {int(z) for z in saved} & set(v.person.exclusion_fence_ids)
    pristine = AreaState(
        last_ts_ms=judged_through.last_ts_ms, last_ping_id=judged_through.last_ping_id
    )
    for zone_id in sorted(set(zones) | under_way):
        inside_zone = zones.get(zone_id, outside)
        entry = saved.get(str(zone_id))
        machine = pristine if entry is None else AreaState.from_json(entry)
        machine, zone_events = advance(machine, fixes_of(pings, -inside_zone), thresholds)
        if machine.status is Status.OUTSIDE or machine.run_count or machine.episode_seq:
            kept[str(zone_id)] = machine.to_json()  # a pristine zone costs no state
        for e in zone_events:
            episode_id = f"{v.person.id}-z{zone_id}-{e.episode}"
            rule = Rule(AlertType.EXCLUSION_ZONE, f"zone:{zone_id}", episode_id)
            if e.kind is EventKind.EXITED:
                details = {"fence_id": zone_id, "entered_at": iso(e)} | at_ping(pings, e)
                events += await v.violation(rule, e, details)
            else:
                events += await v.back(rule, e, "left_at", None)
    keep(state, ZONES_KEY, kept)
    return events


async def curfews(
    v: Verdicts,
    fences: FenceCache,
    pings: list[StreamPing],
    points: Points,
    thresholds: Thresholds,
    state: dict[str, Any],
) -> list[NewEvent]:
    """Inside the home zone during each curfew window; a new window starts afresh."""
    saved: dict[str, Any] = state.get(CURFEWS_KEY, {})
    kept: dict[str, Any] = {}
    events: list[NewEvent] = []
    for curfew in v.person.rules.curfews:
        key = str(curfew.rule_id)
        windows = [v.person.rules.curfew_window(curfew, p["ts_ms"]) for p in pings]
        entry = saved.get(key)
        if any(windows):
            home = fences.classify([curfew.fence_id], points)
            for window in sorted({w for w in windows if w is not None}):
                chosen = [i for i, w in enumerate(windows) if w == window]
                entry, found = await _curfew_window(
                    v, curfew, window, entry, thresholds,
                    [pings[i] for i in chosen], home[chosen],
                )  # fmt: skip
                events += found
        if entry is not None:
            kept[key] = entry
    keep(state, CURFEWS_KEY, kept)
    return events


async def _curfew_window(
    v: Verdicts,
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
            f"{v.person.id}-c{curfew.rule_id}-{window[0]}-{e.episode}",
        )
        if e.kind is EventKind.EXITED:
            details = {
                "fence_id": curfew.fence_id,
                "window_start": ms_to_dt(window[0]).isoformat(),
                "window_end": ms_to_dt(window[1]).isoformat(),
                "away_at": iso(e),
            } | at_ping(pings, e)
            events += await v.violation(rule, e, details)
        else:
            events += await v.back(rule, e, "home_at", None)
    return {"window": list(window), "area": machine.to_json()}, events


async def device_alerts(
    v: Verdicts, pings: list[StreamPing], state: dict[str, Any]
) -> list[NewEvent]:
    """Strap cut or device removed (人机分离), and a flat battery: once per device episode.

    A device keeps flagging tamper on every report until refitted; only the change from
    clear to flagged is news. The battery alert opens below LOW_BATTERY_PCT and is re-armed
    only above BATTERY_RECOVERED_PCT, so a level hovering at the threshold stays quiet.
    """
    flags: dict[str, Any] = state.get(DEVICE_KEY, {})
    events: list[NewEvent] = []
    for device_id in sorted({p["device_id"] for p in pings}):
        mine = [p for p in pings if p["device_id"] == device_id]
        flag = dict(flags.get(device_id, {}))
        if not flag.get("tamper") and not any(
            p["tamper"] or p["battery_pct"] is not None for p in mine
        ):
            # nothing to tell (almost every report): only the newest report's time moves
            newest = max(p["ts_ms"] for p in mine)
            if newest > flag.get("last_ms", -1):
                flag["last_ms"] = newest
            flags[device_id] = flag
            continue
        for ping in sorted(mine, key=fix_order):
            if ping["ts_ms"] <= flag.get("last_ms", -1):
                continue  # a late report says nothing about the device now
            flag["last_ms"] = ping["ts_ms"]
            if bool(ping["tamper"]) != bool(flag.get("tamper")):
                events += await _tamper(v, ping, flag)
            if ping["battery_pct"] is not None:
                events += await _battery(v, ping, ping["battery_pct"], flag)
        flags[device_id] = flag
    state[DEVICE_KEY] = flags
    return events


async def _tamper(v: Verdicts, ping: StreamPing, flag: dict[str, Any]) -> list[NewEvent]:
    """Called on a change of the tamper flag only."""
    now = bool(ping["tamper"])
    flag["tamper"] = now
    device_id, at = ping["device_id"], ms_to_dt(ping["ts_ms"])
    rule = Rule(AlertType.TAMPER, f"device:{device_id}", f"{v.person.id}-t-{ping['ts_ms']}")
    if not now:
        return await v.back(rule, single(ping), "cleared_at", None)
    details = {"device_id": device_id, "flagged_at": at.isoformat()} | at_ping([ping])
    return await v.violation(rule, single(ping), details)


async def _battery(
    v: Verdicts, ping: StreamPing, level: float, flag: dict[str, Any]
) -> list[NewEvent]:
    low = flag.get("low")
    if (low and level <= BATTERY_RECOVERED_PCT) or (not low and level >= LOW_BATTERY_PCT):
        return []  # no change: the common case, on every report
    device_id = ping["device_id"]
    rule = Rule(AlertType.LOW_BATTERY, f"device:{device_id}", f"{v.person.id}-b-{ping['ts_ms']}")
    if low:
        flag["low"] = False
        return await v.back(rule, single(ping), "charged_at", None)
    flag["low"] = True
    details = {"device_id": device_id, "battery_pct": level}
    return await v.violation(rule, single(ping), details)


async def reconnections(
    v: Verdicts, pings: list[StreamPing], state: dict[str, Any]
) -> list[NewEvent]:
    """A device the timers found silent is heard again: its signal_lost alert says when."""
    lost: dict[str, int] = dict(state.get(LOST_KEY, {}))
    if not lost:
        return []  # nearly every batch
    events: list[NewEvent] = []
    for device_id in sorted({p["device_id"] for p in pings} & lost.keys()):
        at = ms_to_dt(max(p["ts_ms"] for p in pings if p["device_id"] == device_id))
        details = {"reconnected_at": at.isoformat()}
        events.append(await v.updated(lost.pop(device_id), at, details))
    keep(state, LOST_KEY, lost)
    return events


def quietest_fix(person: PersonRow, state: dict[str, Any]) -> datetime | None:
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


def keep(state: dict[str, Any], key: str, kept: dict[str, Any]) -> None:
    """A rule's machines under `key`, or no key at all when none has anything to remember."""
    if kept:
        state[key] = kept
    else:
        state.pop(key, None)
