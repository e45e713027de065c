"""Bounds every officer-API input is held to before it reaches PostgreSQL: ids fit bigint,
counts integer, text holds no NUL, JSON fits jsonb, instants fit timestamptz.

PostgreSQL refuses what these types refuse, but only after the request has reached it, and
then as an error that names a query argument, not the field. Here, the lowest package with
an HTTP API, so that the alert API and the registry (monitor) share one definition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from pings.storable import INT64_MAX, MIN_INT64, storable_json, storable_text

__all__ = [
    "INT32_MAX", "INT64_MAX", "MIN_INT64", "DbId", "Instant", "JsonObject", "Offset", "Text",
    "storable_instant", "storable_json", "storable_text",
]  # fmt: skip

INT32_MAX = 2**31 - 1

# a bigserial id: what a path, query or body may name
DbId = Annotated[int, Field(ge=1, le=INT64_MAX)]
# a row count to skip: PostgreSQL's OFFSET is a bigint
Offset = Annotated[int, Field(ge=0, le=INT64_MAX)]

NO_NUL_PATTERN = "^[^\\x00]*$"


Text = Annotated[
    str, AfterValidator(storable_text), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]


JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]


def storable_instant(value: datetime) -> datetime:
    """An instant with its offset, within years 1..9999 in UTC too: 0001-01-01T00:00+14:00
    is still year 0 in UTC, beyond what Python (and so asyncpg) can convert."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give a time zone offset, e.g. 2026-01-01T08:00:00+08:00")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between years 1 and 9999 in UTC") from None
    return value


Instant = Annotated[datetime, AfterValidator(storable_instant)]
