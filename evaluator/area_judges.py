"""The judges of areas, each its own state machine over the person's fixes: the allowed area,
each exclusion zone, and home during each curfew window. Pure (evaluator.decisions); the
machines are geofence's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alerts.models import AlertType, EventType
from alerts.person_store import PersonRow
from evaluator.decisions import (
    Batch,
    Cleared,
    Decision,
    LeavesEnded,
    Rule,
    State,
    Violated,
    fixes_of,
    with_key,
)
from geofence import OUTSIDE
from geofence.models import CodeArray
from geofence.person_rules import Curfew
from geofence.state import AreaEvent, AreaState, EventKind, Status, advance
from pings.clock import ms_to_dt

ALLOWED_AREA_RULE = "allowed_area"
AREA_KEY = "area"  # the allowed area's machine
ZONES_KEY = "zones"  # exclusion zone id -> its machine's state
CURFEWS_KEY = "curfews"  # curfew rule id -> {"window": [start_ms, end_ms], "area": state}


def violates(event: AreaEvent) -> bool:
    """A machine judges compliance, its codes saying kept (INSIDE) or broken (OUTSIDE), so its
    `exited` is the rule violated whatever the area: the allowed area exited, an exclusion
    zone entered, home left in a curfew. The one place that reads the machine's word."""
    return event.kind is EventKind.EXITED


def violated(rule: Rule, event: AreaEvent, details: dict[str, Any]) -> Violated:
    return Violated(rule, event.ts_ms, details, event.evidence_ping_ids, event.late)


def iso(event: AreaEvent) -> str:
    return ms_to_dt(event.ts_ms).isoformat()


def at_ping(batch: Batch, event: AreaEvent) -> dict[str, Any]:
    """Where the person was on the fix that decided the event (nothing if it was an earlier
    batch's)."""
    ids = batch.readings.ids
    if not event.evidence_ping_ids or event.evidence_ping_ids[-1] not in ids:
        return {}
    return batch.position(ids.index(event.evidence_ping_ids[-1]))


def allowed_area(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """Out of the allowed area (越界) without leave is the violation; back inside closes the
    leaves that had begun and tells the console the person returned."""
    area, events = advance(
        batch.judged_through, batch.fixes(batch.codes, batch.far), batch.thresholds
    )
    decisions: list[Decision] = []
    for event in events:
        decisions += _allowed_area_event(person, batch, event)
    return {**state, AREA_KEY: area.to_json()}, decisions


def _allowed_area_event(person: PersonRow, batch: Batch, event: AreaEvent) -> list[Decision]:
    # a past excursion proven by late fixes is its own alert, not news on the current one
    key = f"{ALLOWED_AREA_RULE}@{event.episode}" if event.late else ALLOWED_AREA_RULE
    rule = Rule(AlertType.OUT_OF_AREA, key, f"{person.id}-{event.episode}")
    if violates(event):
        if person.rules.permit_at(event.ts_ms) is not None:  # 外出审批: away with leave
            return []
        details = batch.position(batch.latest) | {"exited_at": iso(event)}
        return [violated(rule, event, details)]
    if event.late:  # a past excursion's end: the late alert says when it ended
        return [Cleared(rule, event.ts_ms, "returned_at")]
    ended: list[Decision] = [LeavesEnded(event.ts_ms)] if person.rules.permits else []
    # person.returned goes out even without an alert (a permitted or suspended excursion)
    return [*ended, Cleared(rule, event.ts_ms, "returned_at", EventType.PERSON_RETURNED)]


def exclusion_zones(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """Each zone is its own machine: certainly inside the zone is the violation.

    The allowed area's state before these pings says how far every machine has judged (they
    all see the same fixes): a zone that keeps no state has judged as far, older fixes are late.
    """
    saved: dict[str, Any] = state.get(ZONES_KEY, {})
    if not saved and not person.exclusion_fence_ids:
        return state, []  # most people: no zone, nothing remembered (a tenth of the worker's time)
    through = batch.judged_through
    zones = batch.fences.classify_zones(person.exclusion_fence_ids, batch.points)
    outside = np.full(len(batch), OUTSIDE, dtype=np.int8)
    # a pristine zone stays pristine on fixes outside it: only zones hit or under way are run
    under_way = {int(z) for z in saved} & set(person.exclusion_fence_ids)
    pristine = AreaState(last_ts_ms=through.last_ts_ms, last_ping_id=through.last_ping_id)
    kept: dict[str, Any] = {}
    decisions: list[Decision] = []
    for zone_id in sorted(set(zones) | under_way):
        entry = saved.get(str(zone_id))
        machine = pristine if entry is None else AreaState.from_json(entry)
        # kept while outside the zone: the machine is given the zone's codes negated
        kept_codes = -zones.get(zone_id, outside)
        machine, events = advance(machine, batch.fixes(kept_codes), batch.thresholds)
        if machine.status is Status.OUTSIDE or machine.run_count or machine.episode_seq:
            kept[str(zone_id)] = machine.to_json()  # a pristine zone costs no state
        for e in events:
            rule = Rule(
                AlertType.EXCLUSION_ZONE, f"zone:{zone_id}", f"{person.id}-z{zone_id}-{e.episode}"
            )
            if violates(e):
                details = {"fence_id": zone_id, "entered_at": iso(e)} | at_ping(batch, e)
                decisions.append(violated(rule, e, details))
            else:
                decisions.append(Cleared(rule, e.ts_ms, "left_at"))
    return with_key(state, ZONES_KEY, kept), decisions


def curfews(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
    """Inside the home zone during each curfew window; a new window starts afresh."""
    saved: dict[str, Any] = state.get(CURFEWS_KEY, {})
    if not saved and not person.rules.curfews:
        return state, []  # most people
    times = batch.readings.times
    kept: dict[str, Any] = {}
    decisions: list[Decision] = []
    for curfew in person.rules.curfews:
        key = str(curfew.rule_id)
        windows = [person.rules.curfew_window(curfew, ts_ms) for ts_ms in times]
        entry = saved.get(key)
        if any(windows):
            home = batch.fences.classify([curfew.fence_id], batch.points)
            for window in sorted({w for w in windows if w is not None}):
                chosen = [i for i, w in enumerate(windows) if w == window]
                entry, found = _curfew_window(person, curfew, window, entry, batch, chosen, home)
                decisions += found
        if entry is not None:
            kept[key] = entry
    return with_key(state, CURFEWS_KEY, kept), decisions


def _curfew_window(
    person: PersonRow,
    curfew: Curfew,
    window: tuple[int, int],
    entry: dict[str, Any] | None,
    batch: Batch,
    chosen: list[int],
    home: CodeArray,
) -> tuple[dict[str, Any] | None, list[Decision]]:
    """The window's machine on the pings at the `chosen` places (those in the window);
    `home` holds every ping's code against the home zone."""
    if entry is not None and window[0] < entry["window"][0]:
        return entry, []  # fixes of a past night arriving late: that night was judged
    if entry is not None and window[0] == entry["window"][0]:
        machine = AreaState.from_json(entry["area"])
    else:
        machine = AreaState()  # a new night: nothing carried over from the last one
    fixes = fixes_of(batch.ordered.ids[batch.span][chosen], batch.ts_ms[chosen], home[chosen])
    machine, events = advance(machine, fixes, batch.thresholds)
    decisions: list[Decision] = []
    for e in events:
        rule = Rule(
            AlertType.CURFEW,
            f"curfew:{curfew.rule_id}",
            f"{person.id}-c{curfew.rule_id}-{window[0]}-{e.episode}",
        )
        if violates(e):
            details = {
                "fence_id": curfew.fence_id,
                "window_start": ms_to_dt(window[0]).isoformat(),
                "window_end": ms_to_dt(window[1]).isoformat(),
                "away_at": iso(e),
            } | at_ping(batch, e)
            decisions.append(violated(rule, e, details))
        else:
            decisions.append(Cleared(rule, e.ts_ms, "home_at"))
    return {"window": list(window), "area": machine.to_json()}, decisions
