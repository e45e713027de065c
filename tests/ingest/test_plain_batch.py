"""A batch checked column by column answers exactly what checking each item answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import schemas
from ingest.engine import validate
from pings.clock import dt_to_us

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
LIMITS = schemas.Limits(NOW, 300, 180)
NOW_MS = dt_to_us(NOW) // 1000
DEVICE = "band-1"

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-200, max_value=200),
    st.sampled_from([0.0, -0.0, 90.0, -90.0, 180.0, 100_000.0, 100_000.5, 2**64, True, False]),
    st.none(),
    st.text(max_size=3),
)
fix_times = st.one_of(
    st.integers(min_value=NOW_MS - 181 * 86_400_000, max_value=NOW_MS + 400_000),
    st.floats(min_value=NOW_MS - 86_400_000, max_value=NOW_MS),  # epoch ms with a fraction
    st.sampled_from([-1, 0, 10**14, 2**63, 2**70, True, 1.5, "2026-12-02T12:00:00Z", None]),
)


def plain_item(draw: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "ts": draw(fix_times),
        "lat": draw(numbers),
        "lon": draw(numbers),
        "accuracy_m": draw(numbers),
    }
    for key in draw(st.lists(st.sampled_from(list(item)), max_size=1)):
        del item[key]  # a required field missing
    extra = draw(st.sampled_from([None, ("device_id", DEVICE), ("device_id", "x"), ("seq", 1)]))
    if extra is not None:
        item[extra[0]] = extra[1]
    return item


@st.composite
def batches(draw: Any) -> list[Any]:
    """Mostly good pings with, now and then, one bad or not plain."""
    good = st.fixed_dictionaries(
        {
            "ts": st.integers(min_value=NOW_MS - 86_400_000, max_value=NOW_MS),
            "lat": st.one_of(st.floats(min_value=-90, max_value=90), st.integers(-90, 90)),
            "lon": st.floats(min_value=-180, max_value=180),
            "accuracy_m": st.one_of(st.floats(min_value=0, max_value=100_000), st.just(0)),
        }
    )
    items: list[Any] = draw(st.lists(good, min_size=schemas.COLUMNWISE_MIN, max_size=40))
    if draw(st.booleans()):
        bad = plain_item(draw) if draw(st.integers(0, 9)) else draw(st.sampled_from([[], 3]))
        items[draw(st.integers(0, len(items) - 1))] = bad
    return items


def one_by_one(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        try:
            out.append(repr(schemas.item_to_ping(item, device_id=DEVICE, limits=LIMITS)))
        except schemas.FieldError as exc:
            out.append(str(exc))
    return out


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_columnwise_answers_what_item_by_item_answers(items: list[Any]) -> None:
    fast = schemas.plain_batch(items, DEVICE, LIMITS)
    reference = one_by_one(items)
    if fast is not None:  # repr: -0.0 and 0.0 are equal, but not the same answer
        assert [repr(p) for p in fast] == reference
    valid, rejected = validate(items, DEVICE, LIMITS)
    answers = {i: repr(p) for i, p in valid} | {e.index: e.error for e in rejected}
    assert [answers[i] for i in range(len(items))] == reference


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_a_batch_of_good_plain_pings_takes_the_columnwise_path(items: list[Any]) -> None:
    """Every item valid, with only plain keys and an integer fix time (epoch ms with a
    fraction, or RFC 3339 text, is valid but left to the item-by-item check)."""
    good = all(answer.startswith("Ping(") for answer in one_by_one(items))
    plain = all(
        isinstance(item, dict) and "seq" not in item and type(item.get("ts")) is int
        for item in items
    )
    if good and plain:
        assert schemas.plain_batch(items, DEVICE, LIMITS) is not None


def test_negative_zero_is_stored_as_zero_on_both_paths() -> None:
    item = {"ts": NOW_MS, "lat": -0.0, "lon": -0.0, "accuracy_m": -0.0}
    fast = schemas.plain_batch([item] * schemas.COLUMNWISE_MIN, DEVICE, LIMITS)
    assert fast is not None
    assert all(math.copysign(1, p.lat) == 1 and math.copysign(1, p.accuracy_m) == 1 for p in fast)
