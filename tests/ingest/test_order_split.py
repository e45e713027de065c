"""Pings outside every monitoring order are refused, one by one, whatever the shortcut."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.engine import NOT_COVERED, is_covered, split_by_order
from ingest.models import Ping

times = st.integers(min_value=0, max_value=10_000)
windows = st.lists(st.tuples(times, times).map(lambda w: (min(w), max(w))), max_size=4).map(tuple)


@given(st.lists(times, max_size=30), windows)
def test_each_ping_is_kept_exactly_when_an_order_covers_it(
    ts_values: list[int], orders: tuple[tuple[int, int], ...]
) -> None:
    valid = [(index * 2, Ping("d", ts, 1.0, 2.0, 3.0)) for index, ts in enumerate(ts_values)]
    kept, refused = split_by_order(valid, orders)
    assert kept == [(i, p) for i, p in valid if is_covered(p.ts_us, orders)]
    assert [e.index for e in refused] == [i for i, p in valid if not is_covered(p.ts_us, orders)]
    assert all(e.error == NOT_COVERED for e in refused)


def test_a_window_ends_before_its_end_time() -> None:
    """Orders are [starts_at, ends_at): a fix at the end instant is not covered."""
    valid = [(0, Ping("d", 10, 1.0, 2.0, 3.0)), (1, Ping("d", 20, 1.0, 2.0, 3.0))]
    kept, refused = split_by_order(valid, ((10, 20),))
    assert [i for i, _ in kept] == [0] and [e.index for e in refused] == [1]
