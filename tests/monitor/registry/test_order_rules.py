"""The lawful-use rules an order must meet before it is stored (monitor/registry/orders.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from monitor.errors import BadRequestError
from monitor.registry import orders, schemas

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
FAR_WEST = timezone(timedelta(hours=-14))  # year 9999 there is past the end of UTC's
DAY = timedelta(days=1)
GOOD: dict[str, Any] = {
    "kind": "electronic_positioning",
    "starts_at": NOW,
    "ends_at": NOW + 90 * DAY,
    "basis": "left_residence_without_approval",
    "approved_by": "Li, bureau head",
}
CHECK: dict[str, Any] = {**GOOD, "kind": "information_check", "basis": "supervision_term"}


def order(**changes: Any) -> schemas.OrderIn:
    return schemas.OrderIn(**{**GOOD, **changes})


@pytest.mark.parametrize(
    "data",
    [
        order(),
        order(starts_at=NOW - 23 * timedelta(hours=1)),  # entered the next morning
        order(starts_at=NOW + 30 * DAY, ends_at=NOW + 122 * DAY),  # a renewal made early
        order(ends_at=NOW + 92 * DAY),
        schemas.OrderIn(**{**CHECK, "ends_at": NOW + 5 * 365 * DAY}),
        order(basis="pending_revocation"),
    ],
)
def test_lawful_orders_pass(data: schemas.OrderIn) -> None:
    orders.check_order(data, now=NOW)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (order(starts_at=NOW - 2 * DAY), "starts_at", "one day before"),
        (order(starts_at=datetime(1, 1, 1, tzinfo=UTC)), "starts_at", "one day before"),
        (order(starts_at=NOW + 32 * DAY, ends_at=NOW + 60 * DAY), "starts_at", "31 days"),
        (order(starts_at=NOW.replace(tzinfo=None)), "starts_at", "time zone"),
        (order(ends_at=NOW), "ends_at", "after starts_at"),
        (order(ends_at=NOW + 93 * DAY), "ends_at", "three months"),
        (order(ends_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=FAR_WEST)), "ends_at", "three"),
        (schemas.OrderIn(**{**CHECK, "ends_at": NOW + 6 * 365 * DAY}), "ends_at", "five years"),
        (order(basis="supervision_term"), "basis", "left_residence_without_approval"),
        (schemas.OrderIn(**{**CHECK, "basis": "pending_revocation"}), "basis", "supervision_term"),
    ],
)
def test_unlawful_orders_are_refused_naming_the_field(
    data: schemas.OrderIn, field: str, words: str
) -> None:
    with pytest.raises(BadRequestError) as refused:
        orders.check_order(data, now=NOW)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ") and words in refused.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"basis": "enrolment"},  # not a statutory ground
        {"basis": ""},
        {"approved_by": ""},
        {"approved_by": "   "},
        {"approved_by": "bureau\x00head"},
        {"approved_by": "x" * 201},
    ],
)
def test_basis_and_approver_are_required(changes: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        order(**changes)
    assert refused.value.errors()[0]["loc"] == (next(iter(changes)),)


def test_an_approver_is_required() -> None:
    without = {k: v for k, v in GOOD.items() if k != "approved_by"}
    with pytest.raises(pydantic.ValidationError):
        schemas.OrderIn(**without)
