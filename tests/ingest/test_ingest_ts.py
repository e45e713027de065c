"""Fix times: any `ts` a device can send is read or refused by name, and never costs the
other pings of its batch."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest import osmand
from ingest.engine import validate
from ingest.schemas import COLUMNWISE_MIN, FieldError, Limits, item_to_ping

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
LIMITS = Limits(now=NOW, clock_skew_s=300, retention_days=180)
NOW_MS = int(NOW.timestamp() * 1000)
GOOD: dict[str, Any] = {"ts": NOW_MS - 60_000, "lat": 22.5, "lon": 114.0, "accuracy_m": 12}

# each was an OverflowError (a 500 for the whole batch) while the refusal was being worded:
# the offset takes the instant outside the years 1..9999 in UTC
FAR_OFFSETS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-14:00",
]


@pytest.mark.parametrize("ts", FAR_OFFSETS)
def test_a_time_outside_the_utc_calendar_is_refused_by_name(ts: str) -> None:
    with pytest.raises(FieldError, match=r"^ts: .*outside"):
        item_to_ping({**GOOD, "ts": ts}, device_id="d", limits=LIMITS)


def test_osmand_timestamp_with_a_far_offset_is_refused_by_name() -> None:
    item = osmand.query_to_item(
        {"lat": "1", "lon": "2", "timestamp": "0001-01-01 00:00:00+08:00"},
        unknown_accuracy_m=100.0,
    )
    with pytest.raises(FieldError, match=r"^ts: "):
        item_to_ping(item, device_id="d", limits=LIMITS)


def offset_text(moment: datetime, minutes: int) -> str:
    sign, size = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"{moment.isoformat()}{sign}{size // 60:02d}:{size % 60:02d}"


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
TS_VALUES = (
    st.builds(offset_text, st.datetimes(), st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    | st.datetimes().map(datetime.isoformat)
    | st.datetimes().map(lambda d: d.isoformat() + "Z")
    | JSON_SCALARS
    | st.integers(-(2**70), 2**70)
    | st.lists(JSON_SCALARS, max_size=3)
    | st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2)
)


@settings(max_examples=500, deadline=None)
@given(ts=TS_VALUES, size=st.sampled_from([3, COLUMNWISE_MIN + 1]), at=st.integers(0, 2))
@example(ts=FAR_OFFSETS[0], size=3, at=1)
@example(ts=FAR_OFFSETS[2], size=COLUMNWISE_MIN + 1, at=0)
@example(ts=2**64, size=COLUMNWISE_MIN + 1, at=2)
def test_no_ts_loses_the_good_pings_beside_it(ts: Any, size: int, at: int) -> None:
    """The item with this ts is read or refused naming `ts`; every other item is read."""
    items = [{**GOOD, "ts": GOOD["ts"] + n} for n in range(size)]
    items[at] = {**GOOD, "ts": ts}
    valid, rejected = validate(items, "d", LIMITS)
    assert sorted([index for index, _ in valid] + [e.index for e in rejected]) == list(range(size))
    assert {index for index, _ in valid} >= set(range(size)) - {at}
    assert all(e.index == at and e.error.startswith("ts: ") for e in rejected)


# what orjson.loads can hand over: no NaN, integers within 64 bits (signed or not)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "device_id", "ts", "lat", "lon", "accuracy_m", "speed_mps", "heading_deg", "battery_pct",
    "checkin", "tamper", "source", "seq", "crs", "attrs",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(field=st.sampled_from(FIELDS) | st.text(), value=JSON, at=st.integers(0, 2))
@example(field="attrs", value={"k": ["\x00"]}, at=1)  # jsonb refused it, and the whole flush
@example(field="seq", value=2**64 - 1, at=0)
def test_no_value_of_any_field_loses_the_good_pings_beside_it(
    field: str, value: Any, at: int
) -> None:
    """Whatever a field holds, its item is read or refused naming that field."""
    items = [{**GOOD, "ts": GOOD["ts"] + n} for n in range(3)]
    items[at] = {**GOOD, field: value}
    valid, rejected = validate(items, "d", LIMITS)
    assert {index for index, _ in valid} >= {0, 1, 2} - {at}
    # the field, or a path within it ('attrs.k[0]: ...')
    named = re.compile(rf"{re.escape(field)}[:.\[]")
    assert all(e.index == at and named.match(e.error) for e in rejected), rejected


OSMAND_KEYS = [
    "id", "lat", "lon", "location", "timestamp", "speed", "bearing", "heading", "accuracy",
    "hdop", "batt", "altitude", "alarm",
]  # fmt: skip
NUMERIC_TEXT = st.from_regex(r"\A-?[0-9]{0,20}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?\Z")


def read_or_refused(item: dict[str, Any]) -> None:
    with contextlib.suppress(FieldError):
        item_to_ping({**item, "device_id": "d"}, device_id="d", limits=LIMITS)


@settings(max_examples=500, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(OSMAND_KEYS) | st.text(max_size=5),
        NUMERIC_TEXT | st.sampled_from(["nan", "-inf", "1,2", ""]) | st.text(max_size=30),
    )
)
@example(params={"lat": "1", "lon": "2", "timestamp": "0001-01-01 00:00:00+08:00"})
@example(params={"lat": "1", "lon": "2", "timestamp": "1", "hdop": "-1e308"})
def test_any_osmand_query_is_read_or_refused_by_name(params: dict[str, str]) -> None:
    try:
        item = osmand.query_to_item(params, unknown_accuracy_m=100.0)
    except FieldError:
        return
    read_or_refused(item)


@settings(max_examples=300, deadline=None)
@given(body=JSON | st.fixed_dictionaries({"location": st.dictionaries(st.text(), JSON)}))
@example(body={"timestamp": "9999-12-31T23:59:59-14:00", "coords": {"latitude": 1, "longitude": 2}})
def test_any_traccar_client_9_json_is_read_or_refused_by_name(body: Any) -> None:
    for location in ({"coords": body}, body):
        try:
            item = osmand.json_to_item({"location": location}, unknown_accuracy_m=100.0)
        except FieldError:
            continue
        read_or_refused(item)
