"""PingBatch: the pings of a flush, a stream entry or a judgement, as columns.

The group commit builds one from the requests it flushes; COPY stores it (pings.copy), the
stream carries it (pings.streams), a replay reads it back out of PostgreSQL (pings.replay) and
the evaluator cuts it by person (`by_person`), its judges reading each person's span. A column
per field, one time unit (epoch microseconds, pings.clock), the same fields everywhere after
validation: see docs/decisions/0032-one-ping-batch.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pings.clock import US_PER_MS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
FlagArray = npt.NDArray[np.uint8]

CHECKIN, TAMPER = 1, 2  # bits of the flags column
NO_IDS: IntArray = np.zeros(0, dtype=np.int64)


class Reported(Protocol):
    """What a validated report gives a batch (ingest.models.Ping is one)."""

    device_id: str
    ts_us: int
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None
    heading_deg: float | None
    battery_pct: float | None
    checkin: bool
    tamper: bool
    source: str | None
    seq: int | None
    crs_in: str
    attrs: dict[str, Any] | None


def nan_to_none(column: FloatArray) -> list[float | None]:
    """A float column's values, None where NaN (unknown)."""
    unknown = np.isnan(column)
    if unknown.all():
        return [None] * len(column)
    return [None if u else v for u, v in zip(unknown.tolist(), column.tolist(), strict=True)]


@dataclass(frozen=True, slots=True)
class Stored:
    """The fields only a few pings carry, which are stored and never judged: a column each,
    None where a ping has none. Present only on a batch ingest built from such pings."""

    speed_mps: list[float | None]
    heading_deg: list[float | None]
    source: list[str | None]
    seq: list[int | None]
    crs_in: list[str]
    attrs: list[dict[str, Any] | None]


def is_plain(p: Reported) -> bool:
    """Position, fix time and accuracy in WGS-84, nothing else: most pings."""
    return (
        p.speed_mps is None
        and p.heading_deg is None
        and p.battery_pct is None
        and not p.checkin
        and not p.tamper
        and p.source is None
        and p.seq is None
        and p.crs_in == "wgs84"
        and p.attrs is None
    )


# not frozen, like ingest.models.Ping: a frozen dataclass sets its ten fields through
# object.__setattr__, and a flush makes one batch per stream partition. Nothing changes a batch
# once made; `take` and `concat` make new ones. No __eq__: columns are arrays.
@dataclass(slots=True, eq=False)
class PingBatch:
    """Pings as columns, in order. `ids` is empty until the pings are stored and numbered."""

    person_ids: IntArray
    device_ids: list[str]
    ts_us: IntArray  # epoch microseconds
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    flags: FlagArray  # CHECKIN | TAMPER
    battery_pct: FloatArray  # NaN where unknown
    ids: IntArray = field(default_factory=lambda: NO_IDS)
    stored: Stored | None = None  # None: no ping carries a stored-only field

    @classmethod
    def of_reports(cls, person_ids: Sequence[int], reports: Sequence[Reported]) -> PingBatch:
        """Validated reports, each of the person at its place in `person_ids`."""
        count = len(reports)
        plain = all(map(is_plain, reports))
        if plain:  # no flag, no battery, nothing stored-only: nothing more to read
            flags = np.zeros(count, dtype=np.uint8)
            battery = np.full(count, np.nan)
            stored = None
        else:
            flags = np.array(
                [CHECKIN * p.checkin | TAMPER * p.tamper for p in reports], dtype=np.uint8
            )
            battery = np.array([p.battery_pct for p in reports], dtype=np.float64)  # None: NaN
            stored = Stored(
                [p.speed_mps for p in reports],
                [p.heading_deg for p in reports],
                [p.source for p in reports],
                [p.seq for p in reports],
                [p.crs_in for p in reports],
                [p.attrs for p in reports],
            )
        return cls(
            person_ids=np.fromiter(person_ids, np.int64, count),
            device_ids=[p.device_id for p in reports],
            ts_us=np.fromiter((p.ts_us for p in reports), np.int64, count),
            lat=np.fromiter((p.lat for p in reports), np.float64, count),
            lon=np.fromiter((p.lon for p in reports), np.float64, count),
            accuracy_m=np.fromiter((p.accuracy_m for p in reports), np.float64, count),
            flags=flags,
            battery_pct=battery,
            stored=stored,
        )

    @classmethod
    def of_rows(cls, rows: Sequence[Mapping[str, Any]]) -> PingBatch:
        """Pings as rows by field name, the fix time as epoch milliseconds under `ts_ms` (the
        JSON stream entries of earlier versions; tests)."""
        return cls.of_records(rows, (r["ts_ms"] * US_PER_MS for r in rows))

    @classmethod
    def of_records(cls, rows: Sequence[Any], ts_us: Iterable[int]) -> PingBatch:
        """Rows with a ping's columns by name (stream rows, or PostgreSQL's records on a
        replay), their fix times given apart as epoch µs, since each source counts its own."""
        count = len(rows)
        return cls(
            ids=np.fromiter((r["id"] for r in rows), np.int64, count),
            person_ids=np.fromiter((r["person_id"] for r in rows), np.int64, count),
            device_ids=[r["device_id"] for r in rows],
            ts_us=np.fromiter(ts_us, np.int64, count),
            lat=np.fromiter((r["lat"] for r in rows), np.float64, count),
            lon=np.fromiter((r["lon"] for r in rows), np.float64, count),
            accuracy_m=np.fromiter((r["accuracy_m"] for r in rows), np.float64, count),
            flags=np.fromiter(
                (CHECKIN * r["checkin"] | TAMPER * r["tamper"] for r in rows), np.uint8, count
            ),
            battery_pct=np.array([r["battery_pct"] for r in rows], dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> PingBatch:
        return cls.of_rows([])

    @classmethod
    def concat(cls, batches: Sequence[PingBatch]) -> PingBatch:
        """One batch of several stored ones (ids set, nothing stored-only), in order."""
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return cls.empty()
        return cls(
            ids=np.concatenate([b.ids for b in batches]),
            person_ids=np.concatenate([b.person_ids for b in batches]),
            device_ids=[d for b in batches for d in b.device_ids],
            ts_us=np.concatenate([b.ts_us for b in batches]),
            lat=np.concatenate([b.lat for b in batches]),
            lon=np.concatenate([b.lon for b in batches]),
            accuracy_m=np.concatenate([b.accuracy_m for b in batches]),
            flags=np.concatenate([b.flags for b in batches]),
            battery_pct=np.concatenate([b.battery_pct for b in batches]),
        )

    def __len__(self) -> int:
        return len(self.device_ids)

    @property
    def is_plain(self) -> bool:
        """No ping carries a flag, a battery level or a stored-only field."""
        return (
            self.stored is None and not self.flags.any() and bool(np.isnan(self.battery_pct).all())
        )

    def take(
        self, places: npt.NDArray[np.intp] | IntArray, ids: IntArray | None = None
    ) -> PingBatch:
        """The pings at these places, stored-only fields left out; numbered `ids` if given."""
        if ids is None:
            ids = self.ids[places] if len(self.ids) else NO_IDS
        return PingBatch(
            ids=ids,
            person_ids=self.person_ids[places],
            device_ids=[self.device_ids[place] for place in places.tolist()],
            ts_us=self.ts_us[places],
            lat=self.lat[places],
            lon=self.lon[places],
            accuracy_m=self.accuracy_m[places],
            flags=self.flags[places],
            battery_pct=self.battery_pct[places],
        )

    def by_person(self) -> tuple[PingBatch, list[tuple[int, slice]]]:
        """The batch ordered by person (each person's pings in batch order), and each
        person's span of it: one reordering, then views, however many persons."""
        if not len(self):
            return self, []
        in_order = len(self) < 2 or bool((self.person_ids[1:] >= self.person_ids[:-1]).all())
        ordered = self if in_order else self.take(np.argsort(self.person_ids, kind="stable"))
        persons = ordered.person_ids
        starts = [0, *(np.flatnonzero(np.diff(persons)) + 1).tolist()]
        ends = [*starts[1:], len(persons)]
        firsts: list[int] = persons[starts].tolist()
        return ordered, [
            (person, slice(start, end))
            for person, start, end in zip(firsts, starts, ends, strict=True)
        ]
