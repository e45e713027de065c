"""OwnTracks HTTP mode: `_type: location` messages; zero-valued fields may be absent.

A report the user asked for (trigger `t: "u"`, the app's publish button) is a check-in (签到):
the person showed where they are when asked to, which a `checkin` rule waits for."""

from __future__ import annotations

from typing import Any

from ingest.schemas import FieldError

KMH_TO_MPS = 1 / 3.6
CHARGING = {2, 3}  # bs: 0 unknown, 1 unplugged, 2 charging, 3 full
MANUAL = "u"  # trigger: a manual publish requested by the user
MODELLED = {"_type", "lat", "lon", "tst", "acc", "vel", "cog", "batt", "bs"}
NAMES = {"ts": "tst"}  # a refusal of the native item names the key the app sent


def is_location(body: Any) -> bool:
    return isinstance(body, dict) and body.get("_type") == "location"


def location_to_item(body: dict[str, Any], *, unknown_accuracy_m: float) -> dict[str, Any]:
    """One native item; an absent `acc` is 0, which means unknown, not perfect."""
    if "tst" not in body:
        raise FieldError("tst", "required (epoch seconds)")
    tst = body["tst"]
    if isinstance(tst, bool) or not isinstance(tst, int | float):
        raise FieldError("tst", "must be epoch seconds")
    acc, vel, cog = body.get("acc", 0), body.get("vel", 0), body.get("cog")
    item: dict[str, Any] = {
        "ts": int(tst * 1000),
        "lat": body.get("lat"),
        "lon": body.get("lon"),
        "accuracy_m": acc if isinstance(acc, int | float) and acc > 0 else unknown_accuracy_m,
        "speed_mps": vel * KMH_TO_MPS if isinstance(vel, int | float) and vel >= 0 else None,
        "heading_deg": cog if isinstance(cog, int | float) and 0 <= cog <= 360 else None,
        "battery_pct": body.get("batt"),
        "source": "gps",
        "checkin": True if body.get("t") == MANUAL else None,
        "attrs": {k: v for k, v in body.items() if k not in MODELLED} or None,
    }
    if body.get("bs") in CHARGING:
        item["attrs"] = {**(item["attrs"] or {}), "charging": True}
    return {k: v for k, v in item.items() if v is not None}
