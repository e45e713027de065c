"""SettledCache: a dict for the caches' purposes, whose settled part no full collection walks."""

from __future__ import annotations

import gc

from hypothesis import given
from hypothesis import strategies as st

from pings.settled_cache import SETTLE_EVERY, SettledCache


class Row:
    """A value the collector tracks for good, as a dataclass row is."""


def fresh(n: int) -> tuple[float, tuple[str, int]]:
    return (n / 3, (f"device-{n}", n))  # made at run time: tracked until a collection sees it


def test_a_plain_dict_is_walked_again_after_one_new_tuple() -> None:
    """The CPython behaviour the cache exists for; should it change, the cache is not needed."""
    plain = {n: fresh(n) for n in range(1000)}
    gc.collect()
    gc.collect()
    assert not gc.is_tracked(plain)
    plain[1000] = fresh(1000)
    assert gc.is_tracked(plain)


def test_settled_entries_are_never_walked_and_still_found() -> None:
    cache: SettledCache[int, tuple[float, tuple[str, int]]] = SettledCache()
    for n in range(3 * SETTLE_EVERY):
        cache[n] = fresh(n)
    gc.collect()  # one collection may look at a tuple before the tuple inside it: two suffice
    gc.collect()
    cache.settle()
    assert cache.unsettled == 0
    cache[-1] = fresh(-1)  # a new, tracked entry waits in the young dict
    assert not cache.is_walked()
    assert len(cache) == 3 * SETTLE_EVERY + 1
    assert all(cache.get(n) == fresh(n) for n in range(-1, 3 * SETTLE_EVERY))


def test_an_entry_the_collector_keeps_tracking_stays_young_and_found() -> None:
    cache: SettledCache[str, Row | tuple[int, ...]] = SettledCache()
    row = Row()
    cache["row"] = row
    for n in range(4 * SETTLE_EVERY):
        cache[str(n)] = (n, n + 1)
    gc.collect()
    gc.collect()
    cache.settle()
    assert cache.unsettled == 1
    assert cache.get("row") is row
    assert not cache.is_walked()
    assert "row" in cache and cache.pop("row") is row and "row" not in cache


def test_settling_often_costs_amortised_constant_time_per_insert() -> None:
    """With nothing able to settle, each settle waits for the young dict to double."""
    cache: SettledCache[int, Row] = SettledCache()
    settles = 0
    for n in range(64 * SETTLE_EVERY):
        before = cache._settle_at
        cache[n] = Row()
        settles += cache._settle_at != before
    assert settles <= 7


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 20), st.integers(0, 5)),
        st.tuples(st.just("pop"), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("settle"), st.just(0), st.just(0)),
        st.tuples(st.just("collect"), st.just(0), st.just(0)),
        st.tuples(st.just("clear"), st.just(0), st.just(0)),
    ),
    max_size=60,
)


@given(OPS)
def test_it_answers_as_a_dict_would(ops: list[tuple[str, int, int]]) -> None:
    cache: SettledCache[int, tuple[str, int]] = SettledCache()
    model: dict[int, tuple[str, int]] = {}
    for op, key, value in ops:
        if op == "set":
            cache[key] = model[key] = (f"v{value}", value)
        elif op == "pop":
            assert cache.pop(key) == model.pop(key, None)
        elif op == "settle":
            cache.settle()
        elif op == "collect":
            gc.collect(0)
        else:
            cache.clear()
            model.clear()
        assert len(cache) == len(model)
    assert all(cache.get(k) == model.get(k) and (k in cache) == (k in model) for k in range(21))
    assert not cache.is_walked()
