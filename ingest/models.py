"""One report as validation makes it from a wire item (pings.batch.PingBatch after the flush)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pings.clock import us_to_dt


# not frozen: a frozen dataclass sets each of its 14 fields through object.__setattr__, and
# building Pings was a tenth of the API's CPU on batched uploads (5.0 -> 1.1 us each). Nothing
# changes a Ping after validation; a new position is a dataclasses.replace.
# The fix time is epoch microseconds: the insert and the stream entry both want an integer, and
# an epoch-milliseconds wire value turned into a datetime and back cost more than the rest of
# a plain ping's validation.
@dataclass(slots=True)
class Ping:
    device_id: str
    ts_us: int
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None = None
    heading_deg: float | None = None
    battery_pct: float | None = None
    checkin: bool = False
    tamper: bool = False
    source: str | None = None
    seq: int | None = None
    crs_in: str = "wgs84"
    attrs: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def ts(self) -> datetime:
        return us_to_dt(self.ts_us)


@dataclass(frozen=True)
class Device:
    id: str
    person_id: int
    kind: str
    identifier_only: bool
    expected_interval_s: int


@dataclass(frozen=True)
class ItemError:
    index: int
    error: str


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[ItemError]
