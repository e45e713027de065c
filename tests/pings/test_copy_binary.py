"""The binary COPY data of plain pings: PostgreSQL's format, read back field by field."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.models import Ping
from ingest.store import COLUMNS
from pings.clock import PG_EPOCH_US
from pings.copy import HEADER, plain_copy
from tests.stream_pings import batch_of

device_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
plain_pings = st.builds(
    Ping,
    device_id=device_ids,
    ts_us=st.integers(0, 4_102_444_800_000_000),  # 1970 to 2100
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    accuracy_m=st.floats(0, 100_000),
)
rows = st.lists(st.tuples(st.integers(1, 2**62), plain_pings), max_size=40)


def read_copy(data: bytes) -> list[list[bytes | None]]:
    """Each row's fields as raw bytes (None for NULL), checking the framing on the way."""
    assert data.startswith(HEADER) and data.endswith(b"\xff\xff")
    at, found = len(HEADER), list[list[bytes | None]]()
    while True:
        (count,) = struct.unpack_from(">h", data, at)
        at += 2
        if count == -1:
            assert at == len(data), "nothing after the trailer"
            return found
        assert count == len(COLUMNS)
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", data, at)
            at += 4
            fields.append(None if length == -1 else data[at : at + length])
            at += max(length, 0)
        found.append(fields)


def expected_fields(person_id: int, ping: Ping, ping_id: int) -> list[bytes | None]:
    """The row as PostgreSQL's binary input functions want it, one value at a time."""
    return [
        struct.pack(">q", ping_id),
        ping.device_id.encode(),
        struct.pack(">q", person_id),
        struct.pack(">q", ping.ts_us - PG_EPOCH_US),
        struct.pack(">d", ping.lat),
        struct.pack(">d", ping.lon),
        struct.pack(">f", ping.accuracy_m),
        None,
        None,
        None,
        b"\x00",
        b"\x00",
        None,
        None,
        b"wgs84",
        None,
    ]


@given(rows, st.integers(1, 2**40))
def test_every_row_carries_each_column_in_order(rows: list[tuple[int, Ping]], first: int) -> None:
    """Whatever the mix of device id lengths (rows are grouped by it), each ping's row is
    there once, numbered by its place in the flush."""
    data = plain_copy(batch_of(rows), first)
    assert data is not None
    found = sorted(read_copy(data), key=lambda fields: struct.unpack(">q", fields[0] or b"")[0])
    assert found == [expected_fields(person, p, first + n) for n, (person, p) in enumerate(rows)]


OTHER_THAN_PLAIN: list[dict[str, Any]] = [
    {"speed_mps": 0.0},
    {"heading_deg": 90.0},
    {"battery_pct": 50.0},
    {"checkin": True},
    {"tamper": True},
    {"source": "gps"},
    {"seq": 0},
    {"crs_in": "gcj02"},
    {"attrs": {}},
    {"device_id": "tracker-ü"},
    {"device_id": ""},
]


@pytest.mark.parametrize("change", OTHER_THAN_PLAIN, ids=lambda c: next(iter(c)))
def test_one_ping_that_is_not_plain_leaves_the_whole_flush_to_asyncpg(
    change: dict[str, Any],
) -> None:
    plain = Ping("tracker-1", 1_700_000_000_000_000, 22.5, 114.0, 10.0)
    assert plain_copy(batch_of([(1, plain)]), 1) is not None
    assert plain_copy(batch_of([(1, plain), (2, replace(plain, **change))]), 1) is None
