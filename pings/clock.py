"""The ping's time units and every conversion between them along its path, in one place.

A ping's fix time is epoch microseconds (int64) from validation to the stream and back:
PostgreSQL's timestamptz holds microseconds, so nothing is lost between the wire, the row and
the stream entry, and an integer costs less to build, compare and encode than a datetime. The
state machines (geofence.state) count epoch milliseconds: `us_to_ms` floors, the only rounding
on the path. Datetimes appear only at the edges: SQL parameters, JSON payloads.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
US_PER_MS = 1000
US_PER_S = 1_000_000
# PostgreSQL's binary timestamptz counts microseconds from 2000-01-01 UTC
PG_EPOCH_US = 946_684_800 * US_PER_S


def dt_to_us(moment: datetime) -> int:
    """An aware datetime as whole epoch microseconds, exactly."""
    return (moment - EPOCH) // MICROSECOND


def us_to_dt(ts_us: int) -> datetime:
    """Epoch microseconds as an aware UTC datetime, exactly."""
    return EPOCH + ts_us * MICROSECOND


def ms_to_dt(ts_ms: int) -> datetime:
    """Epoch milliseconds (a state machine's time) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def dt_to_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds, floored as `us_to_ms` floors."""
    return dt_to_us(moment) // US_PER_MS


def us_to_ms(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Fix times for the state machines: floored, so a fix time with a sub-millisecond part
    is the same millisecond from the stream and from a replay out of PostgreSQL."""
    return ts_us // US_PER_MS


def us_to_pg(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Fix times as PostgreSQL's binary COPY wants a timestamptz."""
    return ts_us - PG_EPOCH_US


def now_ms() -> int:
    """The wall clock in epoch milliseconds (a stream entry's received mark)."""
    return time.time_ns() // 1_000_000
