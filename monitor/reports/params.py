"""Report inputs held to their bounds: a half-open period of dates or instants read in an
IANA time zone, a month, and no query parameter the route does not know."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.exceptions import RequestValidationError
from pydantic import PlainValidator, TypeAdapter, WithJsonSchema

from alerts.bounds import Instant

MAX_SPAN_DAYS = 400  # a year and a bit: year-on-year holidays, never a scan of all history
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
MONTH = re.compile(r"(\d{4})-(\d{2})")
INSTANT = TypeAdapter(Instant)


def date_or_instant(value: Any) -> date | datetime:
    """`2026-10-01` (local midnight in the report's zone) or an instant with its offset;
    a datetime is never read as a date, nor a date as UTC midnight."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("a date (2026-10-01) or an instant with an offset (…T08:00:00+08:00)")
    if DATE_ONLY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"not a calendar date: {error}") from None
    return INSTANT.validate_python(value)


Bound = Annotated[
    date | datetime,
    PlainValidator(date_or_instant),
    WithJsonSchema({"type": "string", "maxLength": 40, "examples": ["2026-10-01"]}),
]


def invalid(field: str, message: str) -> RequestValidationError:
    """The same 422 as a value out of its bounds, naming the query parameter."""
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("tz", f"{name!r} is not an IANA time zone, e.g. Asia/Shanghai") from None


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and the zone its days are counted in."""

    start: datetime
    end: datetime
    tz: str

    def label(self) -> str:
        """The local dates, for a filename: 2026-10-01_2026-10-08."""
        tz = ZoneInfo(self.tz)
        return "_".join(at.astimezone(tz).date().isoformat() for at in (self.start, self.end))


def instant_in(value: date | datetime, tz: ZoneInfo, field: str) -> datetime:
    try:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.combine(value, time(), tzinfo=tz).astimezone(UTC)
    except (OverflowError, ValueError):
        raise invalid(field, "must lie between years 1 and 9999 in UTC") from None


def period(start: date | datetime, end: date | datetime, tz_name: str) -> Period:
    tz = zone(tz_name)
    since, until = instant_in(start, tz, "from"), instant_in(end, tz, "to")
    if since >= until:
        raise invalid("to", "must be after from")
    if until - since > timedelta(days=MAX_SPAN_DAYS):
        raise invalid("to", f"a report spans at most {MAX_SPAN_DAYS} days")
    return Period(since, until, tz_name)


def month_period(month: str, tz_name: str) -> Period:
    """`2026-10`: from the first of the month to the first of the next, local midnights."""
    tz = zone(tz_name)
    found = MONTH.fullmatch(month)
    if found is None or not 1 <= int(found[2]) <= 12 or not 1 <= int(found[1]) <= 9998:
        raise invalid("month", "a month as YYYY-MM, years 0001 to 9998")
    year, number = int(found[1]), int(found[2])
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(instant_in(first, tz, "month"), instant_in(following, tz, "month"), tz_name)
