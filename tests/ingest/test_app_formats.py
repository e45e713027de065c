"""OsmAnd and OwnTracks translators, fed what the real apps send."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest import osmand, owntracks
from ingest.models import Ping
from ingest.schemas import FieldError, Limits, item_to_ping

UNKNOWN = 100.0
LIMITS = Limits(now=datetime(2023, 11, 15, tzinfo=UTC), clock_skew_s=300, retention_days=3650)


def ping(item: dict[str, object]) -> Ping:
    return item_to_ping({**item, "device_id": "d"}, device_id="d", limits=LIMITS)


def test_traccar_client_query() -> None:
    params = {
        "id": "123456",
        "timestamp": "1700000000",
        "lat": "22.5",
        "lon": "114.0",
        "speed": "10",
        "bearing": "90",
        "altitude": "30",
        "accuracy": "12",
        "batt": "85.0",
        "charge": "true",
        "alarm": "sos",
    }
    item = osmand.query_to_item(params, unknown_accuracy_m=UNKNOWN)
    assert item["ts"] == 1_700_000_000_000 and item["accuracy_m"] == 12.0
    assert item["speed_mps"] == pytest.approx(5.14444) and item["heading_deg"] == 90.0
    assert item["battery_pct"] == 85.0 and item["attrs"] == {"charge": "true", "alarm": "sos"}
    assert osmand.query_device_id(params) == "123456"
    assert ping(item)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000123", 1_700_000_000_123),
        ("2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z"),
        ("2023-11-14 22:13:20", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20+08:00", "2023-11-14T22:13:20+08:00"),
    ],
)
def test_timestamp_forms(timestamp: str, expected: object) -> None:
    item = osmand.query_to_item(
        {"lat": "1", "lon": "2", "timestamp": timestamp}, unknown_accuracy_m=UNKNOWN
    )
    assert item["ts"] == expected


AT = {"timestamp": "1700000000"}


def test_location_pair_zero_accuracy_hdop_and_tamper() -> None:
    unknown = osmand.query_to_item(
        {**AT, "location": "22.5,114.0", "accuracy": "0"}, unknown_accuracy_m=UNKNOWN
    )
    assert (unknown["lat"], unknown["lon"], unknown["accuracy_m"]) == (22.5, 114.0, UNKNOWN)
    from_hdop = osmand.query_to_item(
        {**AT, "lat": "1", "lon": "2", "hdop": "1.2", "alarm": "removing"},
        unknown_accuracy_m=UNKNOWN,
    )
    assert from_hdop["accuracy_m"] == pytest.approx(6.0) and from_hdop["tamper"] is True


def test_hdop_zero_is_unknown_not_perfect() -> None:
    item = osmand.query_to_item({**AT, "lat": "1", "lon": "2", "hdop": "0"}, unknown_accuracy_m=9)
    assert item["accuracy_m"] == 9


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "1"}, "lat"),
        ({"lat": "x", "lon": "1"}, "lat"),
        ({"location": "1"}, "location"),
        ({"lat": "1", "lon": "2", "speed": "fast"}, "speed"),
        # a negative hdop was read as 1 m accuracy: the most certain fix there is
        ({"lat": "1", "lon": "2", "hdop": "-1"}, "hdop"),
        ({"lat": "1", "lon": "2", "hdop": "-0.5"}, "hdop"),
        ({"lat": "1", "lon": "2", "hdop": "nan"}, "hdop"),
        ({"lat": "1", "lon": "2", "hdop": "inf"}, "hdop"),
        ({"lat": "1", "lon": "2", "hdop": "-inf"}, "hdop"),
        ({"lat": "1", "lon": "2", "accuracy": "nan"}, "accuracy"),
        ({"lat": "1", "lon": "2", "speed": "nan"}, "speed"),
    ],
)
def test_bad_query_keys_are_named(params: dict[str, str], field: str) -> None:
    with pytest.raises(FieldError, match=rf"^{field}: "):
        osmand.query_to_item({**AT, **params}, unknown_accuracy_m=UNKNOWN)


@pytest.mark.parametrize("params", [{}, {"timestamp": ""}])
def test_a_query_ping_without_a_time_is_refused(params: dict[str, str]) -> None:
    """Dated at arrival, a buffered upload would be misdated by as long as it was buffered."""
    with pytest.raises(FieldError, match=r"^timestamp: required"):
        osmand.query_to_item({"lat": "1", "lon": "2", **params}, unknown_accuracy_m=UNKNOWN)


TRACCAR_CLIENT_9 = {
    "device_id": "123456",
    "location": {
        "timestamp": "2023-11-14T22:13:20.000Z",
        "is_moving": True,
        "odometer": 42,
        "event": "motionchange",
        "activity": {"type": "still"},
        "coords": {
            "latitude": 22.5,
            "longitude": 114.0,
            "accuracy": 0,
            "speed": -1,
            "heading": -1,
            "altitude": 12.0,
        },
        "battery": {"level": 0.85, "is_charging": False},
        "extras": {"alarm": "tampering"},
    },
}


@pytest.mark.parametrize("timestamp", [None, ""])
def test_traccar_client_9_json_without_a_time_is_refused(timestamp: str | None) -> None:
    location = {**TRACCAR_CLIENT_9["location"], "timestamp": timestamp}  # type: ignore[dict-item]
    if timestamp is None:
        del location["timestamp"]
    with pytest.raises(FieldError, match=r"^location\.timestamp: required"):
        osmand.json_to_item({**TRACCAR_CLIENT_9, "location": location}, unknown_accuracy_m=1)


def test_traccar_client_9_json() -> None:
    item = osmand.json_to_item(TRACCAR_CLIENT_9, unknown_accuracy_m=UNKNOWN)
    assert osmand.json_device_id(TRACCAR_CLIENT_9) == "123456"
    assert item["accuracy_m"] == UNKNOWN and "speed_mps" not in item and "heading_deg" not in item
    assert item["battery_pct"] == pytest.approx(85.0) and item["tamper"] is True
    assert item["attrs"]["odometer"] == 42 and item["attrs"]["alarm"] == "tampering"
    assert ping(item)


OWNTRACKS = {
    "_type": "location",
    "acc": 12,
    "alt": 30,
    "batt": 80,
    "bs": 2,
    "conn": "w",
    "lat": 22.5,
    "lon": 114.0,
    "tid": "ab",
    "tst": 1_700_000_000,
    "vac": 3,
    "vel": 36,
    "cog": 90,
}


def test_owntracks_location() -> None:
    item = owntracks.location_to_item(OWNTRACKS, unknown_accuracy_m=UNKNOWN)
    assert item["ts"] == 1_700_000_000_000 and item["speed_mps"] == pytest.approx(10.0)
    assert item["attrs"]["charging"] is True and item["attrs"]["tid"] == "ab"
    assert ping(item)


def test_owntracks_publish_button_is_a_checkin() -> None:
    manual = owntracks.location_to_item({**OWNTRACKS, "t": "u"}, unknown_accuracy_m=UNKNOWN)
    assert manual["checkin"] is True and ping(manual).checkin
    for trigger in ("p", "c", "t", "r", "v"):  # ping, region, timer, reportLocation, move
        item = owntracks.location_to_item({**OWNTRACKS, "t": trigger}, unknown_accuracy_m=UNKNOWN)
        assert "checkin" not in item and not ping(item).checkin
        assert item["attrs"]["t"] == trigger  # kept as it came


def test_owntracks_zero_fields_may_be_absent() -> None:
    item = owntracks.location_to_item(
        {"_type": "location", "lat": 1.0, "lon": 2.0, "tst": 1}, unknown_accuracy_m=UNKNOWN
    )
    assert item["accuracy_m"] == UNKNOWN and item["speed_mps"] == 0.0
    with pytest.raises(FieldError, match=r"^tst: "):
        owntracks.location_to_item(
            {"_type": "location", "lat": 1.0, "lon": 2.0}, unknown_accuracy_m=UNKNOWN
        )
