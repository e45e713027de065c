"""OsmAnd protocol as Traccar Client sends it: query/form keys, or the JSON of Traccar Client 9.

Both become native ping items (see schemas.item_to_ping); keys we do not model are kept as
attributes. Accuracy 0 means unknown, never perfect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ingest.schemas import FieldError

KNOTS_TO_MPS = 0.514444
# a common GNSS error budget: horizontal accuracy ~ HDOP x 5 m
UERE_M = 5.0
TAMPER_ALARMS = {"tampering", "removing", "tamper", "strapcut"}
MODELLED = {
    "id",
    "deviceid",
    "lat",
    "lon",
    "location",
    "timestamp",
    "speed",
    "bearing",
    "heading",
    "accuracy",
    "hdop",
    "batt",
    "altitude",
    "valid",
}


# the native fields a refusal names (schemas), as each variant calls them; only those whose
# value is shown as the app sent it
QUERY_NAMES = {"ts": "timestamp"}
JSON_NAMES = {
    "ts": "location.timestamp",
    "lat": "location.coords.latitude",
    "lon": "location.coords.longitude",
}


def query_device_id(params: Mapping[str, str]) -> str | None:
    return params.get("id") or params.get("deviceid")


def query_to_item(params: Mapping[str, str], *, unknown_accuracy_m: float) -> dict[str, Any]:
    """One native item from OsmAnd query or form keys; raises FieldError naming the key."""
    lat, lon = _position(params)
    item: dict[str, Any] = {
        "ts": _timestamp(params.get("timestamp")),
        "lat": lat,
        "lon": lon,
        "accuracy_m": _accuracy(params, unknown_accuracy_m),
        "speed_mps": _scaled(params, "speed", KNOTS_TO_MPS),
        "heading_deg": _bearing(params.get("bearing") or params.get("heading")),
        "battery_pct": _scaled(params, "batt", 1.0),
        "source": "gps",
        "tamper": params.get("alarm", "").lower() in TAMPER_ALARMS,
        "attrs": {k: v for k, v in params.items() if k not in MODELLED} or None,
    }
    return {k: v for k, v in item.items() if v is not None}


def _number(value: str, key: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FieldError(key, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise FieldError(key, f"{value!r} is not a finite number")
    return number


def _position(params: Mapping[str, str]) -> tuple[float, float]:
    if "location" in params:
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise FieldError("location", "expected 'lat,lon'")
        return _number(parts[0], "location"), _number(parts[1], "location")
    if "lat" not in params or "lon" not in params:
        raise FieldError("lat", "lat and lon (or location=lat,lon) are required")
    return _number(params["lat"], "lat"), _number(params["lon"], "lon")


# a ping dated on arrival would misdate a buffered upload by as long as the phone held it
TIME_REQUIRED = "required: the time of the fix (epoch seconds or milliseconds, or ISO 8601)"


def _timestamp(value: str | None) -> int | str:
    """Epoch seconds or milliseconds, ISO 8601, or 'yyyy-MM-dd HH:mm:ss' (UTC)."""
    if value is None or value == "":
        raise FieldError("timestamp", TIME_REQUIRED)
    if value.isdigit():
        number = int(value)
        return number * 1000 if number < 2**31 else number  # as Traccar tells s from ms
    text = value.replace(" ", "T") if "T" not in value else value
    return text if text.endswith("Z") or "+" in text[10:] or "-" in text[10:] else text + "Z"


def _accuracy(params: Mapping[str, str], unknown_m: float) -> float:
    accuracy = _number(params["accuracy"], "accuracy") if "accuracy" in params else 0.0
    if accuracy > 0:
        return accuracy
    hdop = _number(params["hdop"], "hdop") if params.get("hdop") else 0.0
    if hdop < 0:
        raise FieldError("hdop", f"{params['hdop']!r} is negative; leave it out when unknown")
    # 0, like accuracy 0, says nothing: unknown, never perfect
    return max(hdop * UERE_M, 1.0) if hdop > 0 else unknown_m


def _scaled(params: Mapping[str, str], key: str, factor: float) -> float | None:
    return _number(params[key], key) * factor if params.get(key) not in (None, "") else None


def _bearing(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    bearing = _number(value, "bearing")
    return None if bearing < 0 else bearing % 360.0  # -1: unknown


def json_device_id(body: Any) -> str | None:
    device = body.get("device_id") if isinstance(body, dict) else None
    return str(device) if device is not None else None


def json_to_item(body: Any, *, unknown_accuracy_m: float) -> dict[str, Any]:
    """Traccar Client 9 JSON: {device_id, location: {timestamp, coords, battery, extras, ...}}."""
    location = body.get("location") if isinstance(body, dict) else None
    if not isinstance(location, dict) or not isinstance(location.get("coords"), dict):
        raise FieldError("location", "expected location.coords with latitude and longitude")
    coords, battery = location["coords"], location.get("battery") or {}
    level = battery.get("level") if isinstance(battery, dict) else None
    accuracy = coords.get("accuracy")
    extras = location.get("extras")
    extras = extras if isinstance(extras, dict) else {}
    attrs = {k: location[k] for k in ("event", "is_moving", "odometer", "mock") if k in location}
    if location.get("timestamp") in (None, ""):
        raise FieldError("location.timestamp", TIME_REQUIRED)
    item: dict[str, Any] = {
        "ts": location["timestamp"],
        "lat": coords.get("latitude"),
        "lon": coords.get("longitude"),
        "accuracy_m": accuracy
        if isinstance(accuracy, int | float) and accuracy > 0
        else unknown_accuracy_m,
        "speed_mps": _non_negative(coords.get("speed")),
        "heading_deg": _non_negative(coords.get("heading")),
        "battery_pct": level * 100 if isinstance(level, int | float) and level >= 0 else None,
        "source": "gps",
        "tamper": str(extras.get("alarm", "")).lower() in TAMPER_ALARMS,
        "attrs": {**attrs, **extras} or None,
    }
    return {k: v for k, v in item.items() if v is not None}


def _non_negative(value: Any) -> Any:
    # the background-geolocation SDK reports -1 for "not available"
    return None if isinstance(value, int | float) and value < 0 else value
