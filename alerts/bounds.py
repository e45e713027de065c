"""Bounds every officer-API input is held to before it reaches PostgreSQL: ids fit bigint,
counts integer, text holds no NUL, JSON fits jsonb, instants fit timestamptz.

PostgreSQL refuses what these types refuse, but only after the request has reached it, and
then as an error that names a query argument, not the field. Here, the lowest package with
an HTTP API, so that the alert API and the registry (monitor) share one definition.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
MIN_INT64 = -(2**63)

# a bigserial id: what a path, query or body may name
DbId = Annotated[int, Field(ge=1, le=INT64_MAX)]
# a row count to skip: PostgreSQL's OFFSET is a bigint
Offset = Annotated[int, Field(ge=0, le=INT64_MAX)]

# text columns cannot hold NUL, and UTF-8 cannot hold an unpaired surrogate
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NO_NUL_PATTERN = "^[^\\x00]*$"


def storable_text(value: str) -> str:
    if UNSTORABLE.search(value):
        raise ValueError("must not contain NUL (\\u0000) characters or unpaired surrogates")
    return value


Text = Annotated[
    str, AfterValidator(storable_text), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]


def storable_json(value: Any, where: str = "") -> Any:
    """`value` unchanged if jsonb can hold it; a ValueError naming the path inside it if not
    (orjson refuses integers beyond 64 bits, jsonb refuses \\u0000 in strings and keys)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            storable_json(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            _text_at(str(key), path)
            storable_json(item, path)
    else:
        _storable_scalar(value, where or "value")
    return value


def _storable_scalar(value: Any, where: str) -> None:
    if isinstance(value, str):
        _text_at(value, where)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT64 <= value <= INT64_MAX:
            raise ValueError(f"{where}: integers must fit 64 bits")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: numbers must be finite")


def _text_at(value: str, where: str) -> None:
    try:
        storable_text(value)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


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
