"""Native wire format: a ping object, a list, {"pings": [...]}, or NDJSON; per-item validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from ingest.errors import MalformedBodyError
from ingest.models import Ping
from pings.clock import dt_to_us, us_to_dt
from pings.storable import storable_json

CRS_NAMES = ("wgs84", "gcj02", "bd09")
SOURCES = ("gps", "wifi", "cell")
MAX_ATTRS_BYTES = 4096


class FieldError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")


def as_sent(error: str, names: Mapping[str, str]) -> str:
    """A FieldError's text naming the key an app sent instead of the native field."""
    field, colon, problem = error.partition(": ")
    return f"{names[field]}: {problem}" if colon and field in names else error


# a ping with only these keys has no optional field to check (every check of an absent one
# answers its default)
PLAIN_KEYS = frozenset({"device_id", "ts", "lat", "lon", "accuracy_m"})
NUMBER_TYPES = (int, float)  # a tuple: isinstance with `int | float` is slower, per field
NUMBER_SET = frozenset(NUMBER_TYPES)
LAT_RANGE, LON_RANGE, ACCURACY_RANGE = (-90.0, 90.0), (-180.0, 180.0), (0.0, 100_000.0)
PLAIN_RANGES = (LAT_RANGE, LON_RANGE, ACCURACY_RANGE)


@dataclass(frozen=True)
class Limits:
    now: datetime
    clock_skew_s: int
    retention_days: int
    # the accepted fix-time range in epoch microseconds, worked out once per request
    latest_us: int = field(init=False, repr=False, compare=False)
    earliest_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        latest = self.now + timedelta(seconds=self.clock_skew_s)
        earliest = self.now - timedelta(days=self.retention_days)
        object.__setattr__(self, "latest_us", dt_to_us(latest))
        object.__setattr__(self, "earliest_us", dt_to_us(earliest))


def parse_body(raw: bytes, content_type: str) -> list[Any]:
    """The items of a request body; raises MalformedBodyError naming what is wrong."""
    if not raw.strip():
        raise MalformedBodyError(
            'empty body: send a ping object, a list of them, or {"pings": [...]}'
        )
    if "ndjson" in content_type or "jsonlines" in content_type:
        return [
            _loads(line, f"line {n + 1}") for n, line in enumerate(raw.splitlines()) if line.strip()
        ]
    body = _loads(raw, "body")
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and "pings" in body:
        if not isinstance(body["pings"], list):
            raise MalformedBodyError("pings: must be a list of ping objects")
        return list(body["pings"])
    return [body]


def _loads(raw: bytes, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError(f"{where} is not valid JSON: {exc}") from None


def item_to_ping(item: Any, *, device_id: str, limits: Limits) -> Ping:
    """A validated Ping (coordinates still in `crs_in`); raises FieldError."""
    if not isinstance(item, dict):
        raise FieldError("item", "must be a JSON object")
    claimed = item.get("device_id", device_id)
    if claimed != device_id:
        raise FieldError("device_id", f"this credential belongs to device {device_id!r}")
    ts_us = parse_ts(item.get("ts"), limits)
    lat = number(item, "lat", *LAT_RANGE, required=True) or 0.0
    lon = number(item, "lon", *LON_RANGE, required=True) or 0.0
    accuracy_m = number(item, "accuracy_m", *ACCURACY_RANGE, required=True) or 0.0
    if item.keys() <= PLAIN_KEYS:  # most pings: nothing optional to look for, one call each
        return Ping(device_id, ts_us, lat, lon, accuracy_m)
    return Ping(
        device_id=device_id,
        ts_us=ts_us,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        speed_mps=number(item, "speed_mps", 0.0, 1000.0),
        heading_deg=number(item, "heading_deg", 0.0, 360.0),
        battery_pct=number(item, "battery_pct", 0.0, 100.0),
        checkin=flag(item, "checkin"),
        tamper=flag(item, "tamper"),
        source=choice(item, "source", SOURCES),
        seq=integer(item, "seq"),
        crs_in=choice(item, "crs", CRS_NAMES) or "wgs84",
        attrs=attributes(item),
    )


# a batch of this many items or more is first tried column by column (plain_batch)
COLUMNWISE_MIN = 16


def plain_batch(items: list[Any], device_id: str, limits: Limits) -> list[Ping] | None:
    """The Pings of a batch whose every item is plain (only PLAIN_KEYS, each value of its type
    and in its range), checked a column at a time; None when any item is not, and item by item
    item_to_ping then names what is wrong. Same answers as item_to_ping, a third of the CPU."""
    if not all(type(item) is dict and item.keys() <= PLAIN_KEYS for item in items):
        return None
    if any(item.get("device_id", device_id) != device_id for item in items):
        return None
    try:
        ts = [item["ts"] for item in items]
        lat = [item["lat"] for item in items]
        lon = [item["lon"] for item in items]
        accuracy = [item["accuracy_m"] for item in items]
    except KeyError:
        return None
    if not set(map(type, ts)) <= {int} or not all(
        set(map(type, column)) <= NUMBER_SET for column in (lat, lon, accuracy)
    ):
        return None  # bool is neither int nor float by type(): refused, as item_to_ping does
    try:
        ms = np.array(ts, dtype=np.int64)
        columns = [np.array(c, dtype=np.float64) for c in (lat, lon, accuracy)]
    except OverflowError:
        return None
    earliest, latest = int(ms.min()), int(ms.max())
    if not (earliest >= 0 and latest < 10**14):
        return None
    if not (earliest * 1000 >= limits.earliest_us and latest * 1000 <= limits.latest_us):
        return None
    for column, (low, high) in zip(columns, PLAIN_RANGES, strict=True):
        if not (np.isfinite(column).all() and column.min() >= low and column.max() <= high):
            return None
    # + 0.0: item_to_ping's `or 0.0` turns -0.0 into 0.0, and so does this
    lats, lons, accs = ((c + 0.0).tolist() for c in columns)
    return [
        Ping(device_id, t, la, lo, ac)
        for t, la, lo, ac in zip((ms * 1000).tolist(), lats, lons, accs, strict=True)
    ]


def parse_ts(value: Any, limits: Limits) -> int:
    """The fix time in epoch microseconds, within the accepted range."""
    ts_us = _to_epoch_us(value)
    if limits.earliest_us <= ts_us <= limits.latest_us:
        return ts_us
    if not MIN_US <= ts_us <= MAX_US:
        # a far offset at either end of the calendar: no datetime can even say when
        raise FieldError("ts", f"{value!r} is outside the years 1-9999 once converted to UTC")
    if ts_us > limits.latest_us:
        raise FieldError("ts", f"{iso(ts_us)} is in the future; check the device clock")
    raise FieldError("ts", f"{iso(ts_us)} is older than the {limits.retention_days}-day retention")


def _to_epoch_us(value: Any) -> int:
    if value is None:
        raise FieldError("ts", "required (RFC 3339 text or epoch milliseconds)")
    if isinstance(value, bool):
        raise FieldError("ts", "must be RFC 3339 text or epoch milliseconds")
    if isinstance(value, int):  # the usual wire value, exact with no datetime in between
        if not 0 <= value < 10**14:
            raise FieldError("ts", "epoch milliseconds out of range")
        return value * 1000
    if isinstance(value, float):
        if not math.isfinite(value) or not 0 <= value < 10**14:
            raise FieldError("ts", "epoch milliseconds out of range")
        return round(value * 1000)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(
                "ts", f"{value!r} is not RFC 3339 (e.g. 2026-01-31T08:00:00Z)"
            ) from None
        if parsed.tzinfo is None:
            raise FieldError("ts", "needs a time zone offset or Z")
        return dt_to_us(parsed)
    raise FieldError("ts", "must be RFC 3339 text or epoch milliseconds")


# the instants a datetime can hold, in epoch microseconds: from 0001-01-01 to 9999-12-31 UTC
MIN_US = dt_to_us(datetime.min.replace(tzinfo=UTC))
MAX_US = dt_to_us(datetime.max.replace(tzinfo=UTC))


def iso(ts_us: int) -> str:
    return us_to_dt(ts_us).isoformat()


def number(
    item: dict[str, Any], name: str, low: float, high: float, *, required: bool = False
) -> float | None:
    value = item.get(name)
    if value is None:
        if required:
            raise FieldError(name, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, NUMBER_TYPES):
        raise FieldError(name, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise FieldError(name, "must be finite")
    if not low <= value <= high:
        raise FieldError(name, f"{value} is outside [{low:g}, {high:g}]")
    return float(value)


def attributes(item: dict[str, Any]) -> dict[str, Any] | None:
    """Vendor keys we keep but do not model (alarm=sos, odometer, ...), bounded in size."""
    value = item.get("attrs")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("attrs", "must be an object")
    if len(orjson.dumps(value)) > MAX_ATTRS_BYTES:
        raise FieldError("attrs", f"larger than {MAX_ATTRS_BYTES} bytes")
    try:
        storable_json(value, "attrs")  # else jsonb refuses it, and with it the whole flush
    except ValueError as error:
        raise FieldError(*str(error).split(": ", 1)) from None
    return value


def integer(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise FieldError(name, "must be a 64-bit integer")
    return value


def flag(item: dict[str, Any], name: str) -> bool:
    value = item.get(name, False)
    if not isinstance(value, bool):
        raise FieldError(name, "must be true or false")
    return value


def choice(item: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise FieldError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)
