"""Monitoring orders' lawful-use rules (ARCHITECTURE §8), checked before an order is stored.

Pure: the caller passes the database's `now`, so every API process judges by the same clock
ingest uses for the order windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import get_args

from monitor.errors import BadRequestError
from monitor.registry import schemas

# Art. 29: one approval covers at most three months; a renewal is a new order carrying on.
MAX_POSITIONING = timedelta(days=92)
# Information check lasts for the term of supervision. The longest probation term is five
# years (Criminal Law art. 73); a longer term (parole from life imprisonment: ten years) takes
# a second order carrying on from the first. A bound also catches a mistyped year.
MAX_INFORMATION_CHECK = timedelta(days=5 * 366)
# Orders are decided on paper and entered the same day or the next morning; a band fitted
# before the entry uploads the positions it buffered. More than a day back would make lawful,
# after the fact, positions taken when no order was in the system.
MAX_BACKDATE = timedelta(days=1)
# A renewal is approved shortly before the current order ends (the lapsing notice is a week
# by default). Starting further ahead would let a chain of orders made in one sitting cover
# a year and defeat the three-month limit.
MAX_LEAD = timedelta(days=31)

BASES: dict[schemas.OrderKind, tuple[str, ...]] = {
    "electronic_positioning": get_args(schemas.PositioningBasis),
    "information_check": get_args(schemas.InformationCheckBasis),
}


def check_order(data: schemas.OrderIn, *, now: datetime) -> None:
    """Raise BadRequestError naming the field when the order may not be made as asked."""
    check_basis(data)
    check_times(data, now=now)


def check_basis(data: schemas.OrderIn) -> None:
    allowed = BASES[data.kind]
    if data.basis not in allowed:
        raise BadRequestError(
            f"basis: an order of kind {data.kind} rests on one of {', '.join(allowed)}",
            field="basis",
        )


def check_times(data: schemas.OrderIn, *, now: datetime) -> None:
    for name in ("starts_at", "ends_at"):
        if getattr(data, name).tzinfo is None:
            raise BadRequestError(
                f"{name}: give a time zone offset, e.g. 2026-01-01T00:00:00+08:00", field=name
            )
    if data.starts_at < now - MAX_BACKDATE:
        raise BadRequestError(
            "starts_at: an order may start at most one day before it is entered", field="starts_at"
        )
    if data.starts_at > now + MAX_LEAD:
        raise BadRequestError(
            f"starts_at: an order may start at most {MAX_LEAD.days} days ahead; renew it "
            "when the current one is about to end",
            field="starts_at",
        )
    check_span(data)


def check_span(data: schemas.OrderIn) -> None:
    if data.ends_at <= data.starts_at:
        raise BadRequestError("ends_at: must be after starts_at", field="ends_at")
    if data.kind == "electronic_positioning" and data.ends_at - data.starts_at > MAX_POSITIONING:
        raise BadRequestError(
            "ends_at: an electronic positioning order covers at most three months; renew it",
            field="ends_at",
        )
    if data.ends_at - data.starts_at > MAX_INFORMATION_CHECK:
        raise BadRequestError(
            "ends_at: an information check order covers at most five years; a longer term of "
            "supervision takes a second order carrying on from the first",
            field="ends_at",
        )
