"""The evaluator's step for device separation (人机分离): each of a person's bands against each
of their phones, on their latest fixes (the judgement itself is geofence.separation's)."""

from __future__ import annotations

from typing import Any

from alerts.models import AlertType, NewEvent
from alerts.verdicts import Rule, Verdicts, fix_order, ms_to_dt, single
from geofence.separation import (
    Change,
    DeviceFix,
    PairState,
    SeparationConfig,
    advance,
    distance_m,
    next_fix,
)
from pings.batch import StreamPing

# {"fixes": {device id: its latest fix}, "pairs": {band id: {phone id: its PairState}}}
SEPARATION_KEY = "separation"


async def separation(
    v: Verdicts, pings: list[StreamPing], state: dict[str, Any], config: SeparationConfig
) -> list[NewEvent]:
    """Judge every pair a new fix touches; a late fix (older than its device's latest) is
    stored but never judged, so it cannot flip the pair backwards."""
    bands, phones = v.person.band_ids, v.person.phone_ids
    if not bands or not phones:
        state.pop(SEPARATION_KEY, None)  # one kind only (most people): nothing to compare
        return []
    saved: dict[str, Any] = state.get(SEPARATION_KEY, {})
    watched = {*bands, *phones}
    fixes = {d: DeviceFix.from_json(f) for d, f in saved.get("fixes", {}).items() if d in watched}
    pairs: dict[str, dict[str, Any]] = {  # band id -> phone id -> its PairState
        band: {phone: p for phone, p in by_phone.items() if phone in phones}
        for band, by_phone in saved.get("pairs", {}).items()
        if band in bands
    }
    events: list[NewEvent] = []
    for ping in sorted((p for p in pings if p["device_id"] in watched), key=fix_order):
        device = ping["device_id"]
        previous = fixes.get(device)
        if previous is not None and ping["ts_ms"] <= previous.ts_ms:
            continue
        fix = DeviceFix(ping["ts_ms"], ping["lat"], ping["lon"], ping["accuracy_m"])
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
                events += await _alert(v, ping, change, (band, fixes[band]), (phone, fixes[phone]))
    state[SEPARATION_KEY] = {
        "fixes": {d: f.to_json() for d, f in fixes.items()},
        "pairs": pairs,
    }
    return events


def pairs_of(device: str, bands: tuple[str, ...], phones: tuple[str, ...]) -> list[tuple[str, str]]:
    if device in bands:
        return [(device, phone) for phone in phones]
    return [(band, device) for band in bands]


async def _alert(
    v: Verdicts,
    ping: StreamPing,
    change: Change,
    band: tuple[str, DeviceFix],
    phone: tuple[str, DeviceFix],
) -> list[NewEvent]:
    (band_id, band_fix), (phone_id, phone_fix) = band, phone
    rule = Rule(
        AlertType.DEVICE_SEPARATION,
        f"separation:{band_id}|{phone_id}",
        f"{v.person.id}-s-{ping['ts_ms']}",
    )
    if change is Change.REJOINED:
        return await v.back(rule, single(ping), "rejoined_at", None)
    details = {
        "device_id": band_id,
        "phone_id": phone_id,
        "distance_m": round(distance_m(band_fix, phone_fix)),
        "separated_at": ms_to_dt(ping["ts_ms"]).isoformat(),
        "band": fix_details(band_fix),
        "phone": fix_details(phone_fix),
    }
    return await v.violation(rule, single(ping), details)


def fix_details(fix: DeviceFix) -> dict[str, Any]:
    return {
        "at": ms_to_dt(fix.ts_ms).isoformat(),
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
    }
