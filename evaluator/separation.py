"""The judge of device separation (人机分离): each of a person's bands against each of their
phones, on their latest fixes (the judgement itself is geofence.separation's). Pure
(evaluator.decisions)."""

from __future__ import annotations

from typing import Any

from alerts.models import AlertType
from alerts.person_store import PersonRow
from evaluator.decisions import Batch, Cleared, Decision, Judge, Rule, State, Violated
from geofence.separation import (
    Change,
    DeviceFix,
    PairState,
    SeparationConfig,
    advance,
    distance_m,
    next_fix,
)
from pings.clock import ms_to_dt

# {"fixes": {device id: its latest fix}, "pairs": {band id: {phone id: its PairState}}}
SEPARATION_KEY = "separation"


def separation(config: SeparationConfig) -> Judge:
    """The judge, with the distances and times that make a pair apart."""

    def judge(person: PersonRow, batch: Batch, state: State) -> tuple[State, list[Decision]]:
        return separated(person, batch, state, config)

    return judge


def separated(
    person: PersonRow, batch: Batch, state: State, config: SeparationConfig
) -> tuple[State, list[Decision]]:
    """Judge every pair a new fix touches; a late fix (older than its device's latest) is
    stored but never judged, so it cannot flip the pair backwards."""
    bands, phones = person.band_ids, person.phone_ids
    if not bands or not phones:  # one kind only (most people): nothing to compare
        if SEPARATION_KEY not in state:
            return state, []
        return {k: v for k, v in state.items() if k != SEPARATION_KEY}, []
    saved: dict[str, Any] = state.get(SEPARATION_KEY, {})
    watched = {*bands, *phones}
    fixes = {d: DeviceFix.from_json(f) for d, f in saved.get("fixes", {}).items() if d in watched}
    pairs: dict[str, dict[str, Any]] = {  # band id -> phone id -> its PairState
        band: {phone: p for phone, p in by_phone.items() if phone in phones}
        for band, by_phone in saved.get("pairs", {}).items()
        if band in bands
    }
    decisions: list[Decision] = []
    readings = batch.readings
    devices, ids, times = readings.device_ids, readings.ids, readings.times
    lats, lons, accuracies = readings.lat, readings.lon, readings.accuracy_m
    of_watched = [place for place, device in enumerate(devices) if device in watched]
    for place in batch.in_fix_order(of_watched):
        device, ts_ms = devices[place], times[place]
        previous = fixes.get(device)
        if previous is not None and ts_ms <= previous.ts_ms:
            continue
        fix = DeviceFix(ts_ms, lats[place], lons[place], accuracies[place])
        fixes[device] = next_fix(previous, fix)
        for band, phone in pairs_of(device, bands, phones):
            if band not in fixes or phone not in fixes:
                continue
            of_band = pairs.setdefault(band, {})
            pair, change = advance(
                PairState.from_json(of_band.get(phone)), fixes[band], fixes[phone], config
            )
            of_band[phone] = pair.to_json()
            if change is not None:
                ping = (ids[place], ts_ms)
                decisions.append(
                    decision(person, ping, change, (band, fixes[band]), (phone, fixes[phone]))
                )
    fixes_json = {d: f.to_json() for d, f in fixes.items()}
    return {**state, SEPARATION_KEY: {"fixes": fixes_json, "pairs": pairs}}, decisions


def pairs_of(device: str, bands: tuple[str, ...], phones: tuple[str, ...]) -> list[tuple[str, str]]:
    if device in bands:
        return [(device, phone) for phone in phones]
    return [(band, device) for band in bands]


def decision(
    person: PersonRow,
    ping: tuple[int, int],
    change: Change,
    band: tuple[str, DeviceFix],
    phone: tuple[str, DeviceFix],
) -> Decision:
    """`ping` is the id and fix time of the ping that changed the pair."""
    (band_id, band_fix), (phone_id, phone_fix) = band, phone
    ping_id, ts_ms = ping
    rule = Rule(
        AlertType.DEVICE_SEPARATION, f"separation:{band_id}|{phone_id}", f"{person.id}-s-{ts_ms}"
    )
    if change is Change.REJOINED:
        return Cleared(rule, ts_ms, "rejoined_at")
    details = {
        "device_id": band_id,
        "phone_id": phone_id,
        "distance_m": round(distance_m(band_fix, phone_fix)),
        "separated_at": ms_to_dt(ts_ms).isoformat(),
        "band": fix_details(band_fix),
        "phone": fix_details(phone_fix),
    }
    return Violated(rule, ts_ms, details, (ping_id,))


def fix_details(fix: DeviceFix) -> dict[str, Any]:
    return {
        "at": ms_to_dt(fix.ts_ms).isoformat(),
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
    }
