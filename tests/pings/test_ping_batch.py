"""PingBatch: cut by person without losing or reordering a person's pings; one time unit."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pings.batch import PingBatch
from pings.clock import dt_to_ms, dt_to_us, ms_to_dt, us_to_dt, us_to_ms
from tests.stream_pings import rows_of, stream_ping


@given(st.lists(st.integers(1, 6), max_size=40))
def test_each_person_gets_their_pings_in_batch_order(persons: list[int]) -> None:
    rows = [stream_ping(n, person_id=person) for n, person in enumerate(persons)]
    ordered, spans = PingBatch.of_rows(rows).by_person()
    assert [person for person, _ in spans] == sorted(set(persons))
    read = rows_of(ordered)
    for person, span in spans:
        assert read[span] == [r for r in rows if r["person_id"] == person]
    assert sum(span.stop - span.start for _, span in spans) == len(rows)


def test_a_batch_already_in_person_order_is_not_copied() -> None:
    batch = PingBatch.of_rows([stream_ping(n, person_id=n // 3) for n in range(9)])
    ordered, spans = batch.by_person()
    assert ordered is batch
    assert spans == [(0, slice(0, 3)), (1, slice(3, 6)), (2, slice(6, 9))]


def test_concat_keeps_order_and_an_empty_batch_is_empty() -> None:
    a = PingBatch.of_rows([stream_ping(1), stream_ping(2)])
    b = PingBatch.of_rows([stream_ping(3, battery_pct=40.0, tamper=True)])
    both = PingBatch.concat([a, b])
    assert rows_of(both) == rows_of(a) + rows_of(b)
    assert len(PingBatch.concat([])) == 0 and rows_of(PingBatch.empty()) == []


@given(st.integers(-(10**15), 10**15))
def test_microseconds_floor_to_the_same_millisecond_as_a_datetime_does(ts_us: int) -> None:
    moment = us_to_dt(ts_us)
    assert dt_to_us(moment) == ts_us
    assert int(us_to_ms(np.array([ts_us], dtype=np.int64))[0]) == dt_to_ms(moment) == ts_us // 1000


def test_milliseconds_read_as_the_instant_they_name() -> None:
    assert ms_to_dt(1_700_000_000_123) == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)


def test_positions_of_spans_gathered_or_viewed_alike() -> None:
    from evaluator.engine import points_of_spans

    rows = [stream_ping(n, person_id=n // 2, lat=float(n)) for n in range(8)]  # 4 persons
    ordered, spans = PingBatch.of_rows(rows).by_person()
    every, offsets = points_of_spans(ordered, [s for _, s in spans], every=True)
    assert every[0] is ordered.lat and offsets == [0, 2, 4, 6]
    run, offsets = points_of_spans(ordered, [spans[1][1], spans[2][1]], every=False)
    assert run[0].tolist() == [2.0, 3.0, 4.0, 5.0] and offsets == [0, 2]
    assert run[0].base is not None, "one run of the batch is a view"
    apart, offsets = points_of_spans(ordered, [spans[0][1], spans[3][1]], every=False)
    assert apart[0].tolist() == [0.0, 1.0, 6.0, 7.0] and offsets == [0, 2]
