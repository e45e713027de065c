"""Stream entries as columns: what ingest writes, the evaluator reads back exactly."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.group_commit import stream_entries
from ingest.models import Ping
from pings import streams
from pings.batch import PingBatch
from tests.stream_pings import PingRow, rows_of

stream_pings = st.builds(
    PingRow,
    id=st.integers(1, 2**62),
    person_id=st.integers(1, 2**62),
    device_id=st.text(min_size=1, max_size=20),
    ts_ms=st.integers(-(2**50), 2**50),
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    accuracy_m=st.floats(0, 100_000),
    checkin=st.booleans(),
    tamper=st.booleans(),
    battery_pct=st.none() | st.floats(0, 100),
)


@given(st.lists(stream_pings, max_size=30), st.integers(0, 2**50))
def test_an_entry_reads_back_as_the_pings_written(pings: list[PingRow], received_ms: int) -> None:
    entry = streams.encode(PingBatch.of_rows(pings), received_ms=received_ms)
    assert rows_of(streams.decode(entry)) == pings
    assert streams.received_ms(entry) == received_ms


def test_fix_times_travel_in_microseconds_and_read_as_floored_milliseconds() -> None:
    batch = PingBatch.of_rows([a_ping()])
    exact = replace(batch, ts_us=batch.ts_us + 999)
    read = streams.decode(streams.encode(exact, received_ms=0))
    assert read.ts_us.tolist() == [3999]
    assert rows_of(read)[0]["ts_ms"] == 3


def test_an_entry_with_millisecond_fix_times_written_before_microseconds_still_reads() -> None:
    entry = streams.encode(PingBatch.of_rows([a_ping(ts_ms=1234)]), received_ms=0)
    earlier = {k: v for k, v in entry.items() if k != b"us"} | {b"ts": struct.pack("<q", 1234)}
    assert rows_of(streams.decode(earlier)) == [a_ping(ts_ms=1234)]


def a_ping(**changes: Any) -> PingRow:
    ping = PingRow(
        id=1,
        person_id=2,
        device_id="a",
        ts_ms=3,
        lat=1.0,
        lon=2.0,
        accuracy_m=5.0,
        checkin=False,
        tamper=False,
        battery_pct=None,
    )
    ping.update(changes)  # type: ignore[typeddict-item]  # keys checked by the tests using it
    return ping


def test_an_entry_of_json_objects_written_before_columns_still_reads() -> None:
    ping = a_ping(tamper=True)
    assert rows_of(streams.decode({b"b": orjson.dumps([ping]), b"r": b"9"})) == [ping]


@pytest.mark.parametrize(
    "damage",
    [
        {b"lat": b"\x00" * 7},  # not a whole float
        {b"lat": b"\x00" * 16},  # one float too many
        {b"device": b'["a", "b"]'},
        {b"n": b"x"},
    ],
)
def test_a_damaged_entry_is_refused_not_misread(damage: dict[bytes, bytes]) -> None:
    entry = streams.encode(PingBatch.of_rows([a_ping(battery_pct=50.0)]), received_ms=0)
    with pytest.raises(ValueError):
        streams.decode(entry | damage)
    without = dict(entry)
    del without[b"id"]
    with pytest.raises(KeyError):
        streams.decode(without)


@given(
    st.lists(
        st.tuples(st.integers(1, 50), st.booleans(), st.none() | st.floats(0, 100)),
        max_size=40,
    ),
    st.integers(1, 8),
    st.data(),
)
def test_a_flush_becomes_an_entry_per_partition_of_its_new_pings_in_order(
    shape: list[tuple[int, bool, float | None]], partitions: int, data: st.DataObject
) -> None:
    rows = [
        (person, Ping(f"dev-{person}", 10**15 + 999 * n, 22.5, 114.0, 5.0, checkin=checkin,
                      battery_pct=battery))
        for n, (person, checkin, battery) in enumerate(shape)
    ]  # fmt: skip
    new = data.draw(st.sets(st.sampled_from(range(len(rows))) if rows else st.nothing()))
    new_ids = {place: 1000 + place for place in new}
    batch = PingBatch.of_reports([person for person, _ in rows], [ping for _, ping in rows])
    entries = stream_entries(batch, new_ids, partitions, received_ms=7)
    read = {partition: rows_of(streams.decode(entry)) for partition, entry in entries.items()}
    for partition, pings in read.items():
        assert pings and all(p["person_id"] % partitions == partition for p in pings)
        assert [p["id"] for p in pings] == sorted(p["id"] for p in pings), "in flush order"
    expected = {
        1000 + place: (person, ping.ts_us // 1000, ping.checkin, ping.battery_pct)
        for place, (person, ping) in enumerate(rows)
        if place in new
    }
    assert {
        p["id"]: (p["person_id"], p["ts_ms"], p["checkin"], p["battery_pct"])
        for pings in read.values()
        for p in pings
    } == expected
