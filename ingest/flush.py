"""One flush of the group commit: its rows, and their columns pulled out of the Pings once.

The COPY data (ingest.copy_binary) and the stream entries (ingest.group_commit.stream_entries)
are both built a column at a time from the same person ids, fix times, positions and
accuracies, pulled out of the Ping objects once (docs/decisions/0020-group-commit-by-copy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts import streams
from geofence.models import FloatArray, IntArray
from ingest.models import Ping


def is_plain(p: Ping) -> bool:
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


@dataclass(frozen=True, slots=True)
class Flush:
    """Rows (person id, ping), numbered by their place, and the same pings as columns."""

    rows: list[tuple[int, Ping]]
    device_ids: list[str]
    person_ids: IntArray
    ts_us: IntArray  # epoch microseconds
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    flags: np.ndarray  # uint8, alerts.streams.CHECKIN | TAMPER
    battery_pct: FloatArray  # NaN where unknown
    plain: bool  # every ping is (is_plain)

    @classmethod
    def of(cls, rows: list[tuple[int, Ping]]) -> Flush:
        pings = [p for _, p in rows]
        count = len(pings)
        plain = all(map(is_plain, pings))
        if plain:  # no flag and no battery: nothing more to read from the pings
            flags = np.zeros(count, dtype=np.uint8)
            battery = np.full(count, np.nan)
        else:
            flags = np.array(
                [streams.CHECKIN * p.checkin | streams.TAMPER * p.tamper for p in pings],
                dtype=np.uint8,
            )
            battery = np.array([p.battery_pct for p in pings], dtype=np.float64)  # None: NaN
        return cls(
            rows=rows,
            device_ids=[p.device_id for p in pings],
            person_ids=np.fromiter((person for person, _ in rows), np.int64, count),
            ts_us=np.fromiter((p.ts_us for p in pings), np.int64, count),
            lat=np.fromiter((p.lat for p in pings), np.float64, count),
            lon=np.fromiter((p.lon for p in pings), np.float64, count),
            accuracy_m=np.fromiter((p.accuracy_m for p in pings), np.float64, count),
            flags=flags,
            battery_pct=battery,
            plain=plain,
        )

    def __len__(self) -> int:
        return len(self.rows)
