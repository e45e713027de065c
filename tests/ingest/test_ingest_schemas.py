"""Native wire format: every bad field is named; good items pass through unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import MalformedBodyError
from ingest.schemas import FieldError, Limits, item_to_ping, parse_body

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
LIMITS = Limits(now=NOW, clock_skew_s=300, retention_days=180)
GOOD: dict[str, Any] = {"ts": "2026-11-24T07:59:00Z", "lat": 22.5, "lon": 114.0, "accuracy_m": 12}


def test_good_item_parses() -> None:
    ping = item_to_ping(
        {**GOOD, "checkin": True, "seq": 5, "crs": "gcj02"}, device_id="d1", limits=LIMITS
    )
    assert ping.ts == NOW - timedelta(minutes=1)
    assert (ping.lat, ping.lon, ping.accuracy_m, ping.checkin, ping.seq) == (
        22.5,
        114.0,
        12.0,
        True,
        5,
    )
    assert ping.crs_in == "gcj02" and ping.device_id == "d1"


def test_epoch_milliseconds() -> None:
    ms = int((NOW - timedelta(seconds=5)).timestamp() * 1000)
    assert item_to_ping({**GOOD, "ts": ms}, device_id="d", limits=LIMITS).ts == NOW - timedelta(
        seconds=5
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"lat": "x"}, "lat"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"battery_pct": 101}, "battery_pct"),
        ({"ts": "2026-11-24T09:00:00Z"}, "ts"),
        ({"ts": "2020-01-01T00:00:00Z"}, "ts"),
        ({"ts": "yesterday"}, "ts"),
        ({"ts": "2026-11-24T07:00:00"}, "ts"),
        ({"ts": None}, "ts"),
        ({"crs": "utm"}, "crs"),
        ({"source": "radio"}, "source"),
        ({"checkin": "yes"}, "checkin"),
        ({"seq": 1.5}, "seq"),
        ({"device_id": "other"}, "device_id"),
        ({"lat": None}, "lat"),
        ({"heading_deg": 400}, "heading_deg"),
        ({"lat": float("nan")}, "lat"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError, match=f"^{field}: "):
        item_to_ping({**GOOD, **change}, device_id="d", limits=LIMITS)


def test_body_shapes() -> None:
    assert parse_body(b'{"lat": 1}', "application/json") == [{"lat": 1}]
    assert parse_body(b'[{"lat": 1}, {"lat": 2}]', "application/json") == [{"lat": 1}, {"lat": 2}]
    assert parse_body(b'{"pings": [{"lat": 1}]}', "application/json") == [{"lat": 1}]
    assert parse_body(b'{"lat": 1}\n\n{"lat": 2}\n', "application/x-ndjson") == [
        {"lat": 1},
        {"lat": 2},
    ]


@pytest.mark.parametrize("raw", [b"", b"{", b'{"pings": 3}'])
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        parse_body(raw, "application/json")


OPTIONAL_NULLABLE = ("speed_mps", "heading_deg", "battery_pct", "source", "seq", "crs", "attrs")


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    accuracy_m=st.floats(0, 100_000) | st.integers(0, 100_000),
    ts_ms=st.integers(
        int((NOW - timedelta(days=179)).timestamp() * 1000), int(NOW.timestamp() * 1000)
    ),
    nulls=st.sets(st.sampled_from(OPTIONAL_NULLABLE)),
    claimed=st.booleans(),
)
def test_a_plain_ping_is_read_as_one_with_its_optional_fields_null(
    lat: float, lon: float, accuracy_m: float, ts_ms: int, nulls: set[str], claimed: bool
) -> None:
    """The shortcut for pings with only the plain keys (schemas.PLAIN_KEYS) answers what the
    full check answers: explicit nulls send the same item down the full path."""
    plain: dict[str, Any] = {"ts": ts_ms, "lat": lat, "lon": lon, "accuracy_m": accuracy_m}
    if claimed:
        plain["device_id"] = "d1"
    with_nulls = {**plain, **dict.fromkeys(nulls)}
    assert item_to_ping(plain, device_id="d1", limits=LIMITS) == item_to_ping(
        with_nulls, device_id="d1", limits=LIMITS
    )


def test_a_nul_in_attrs_is_named_by_its_path() -> None:
    """PostgreSQL cannot store a NUL: it refused the whole request, good pings and all."""
    with pytest.raises(FieldError, match=r"^attrs\.a\[1\]\.b: "):
        item_to_ping({**GOOD, "attrs": {"a": [1, {"b": "\x00"}]}}, device_id="d", limits=LIMITS)


def test_the_text_of_an_escape_is_not_a_nul() -> None:
    ping = item_to_ping({**GOOD, "attrs": {"note": "\\u0000"}}, device_id="d", limits=LIMITS)
    assert ping.attrs == {"note": "\\u0000"}
