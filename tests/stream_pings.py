"""Pings as the evaluators receive them from the streams, written as rows for unit tests."""

from __future__ import annotations

from typing import Any, TypedDict

from ingest.models import Ping
from pings.batch import CHECKIN, TAMPER, PingBatch, nan_to_none
from pings.clock import us_to_ms


class PingRow(TypedDict):
    """One ping of a stream entry, by field name, its fix time floored to milliseconds."""

    id: int
    person_id: int
    device_id: str
    ts_ms: int
    lat: float
    lon: float
    accuracy_m: float
    checkin: bool
    tamper: bool
    battery_pct: float | None


def stream_ping(n: int, **fields: Any) -> PingRow:
    """Ping number n (its id, person and fix time in ms), with any field given instead."""
    ping: PingRow = {
        "id": n,
        "person_id": n,
        "device_id": "d",
        "ts_ms": n,
        "lat": 0.0,
        "lon": 0.0,
        "accuracy_m": 5.0,
        "checkin": False,
        "tamper": False,
        "battery_pct": None,
    }
    return ping | fields  # type: ignore[return-value]


def rows_of(batch: PingBatch) -> list[PingRow]:
    """Each ping of a batch as a row, to compare batches in a test."""
    columns = (
        batch.ids.tolist(),
        batch.person_ids.tolist(),
        batch.device_ids,
        us_to_ms(batch.ts_us).tolist(),
        batch.lat.tolist(),
        batch.lon.tolist(),
        batch.accuracy_m.tolist(),
        (batch.flags & CHECKIN).astype(bool).tolist(),
        (batch.flags & TAMPER).astype(bool).tolist(),
        nan_to_none(batch.battery_pct),
    )
    return [
        {
            "id": i,
            "person_id": person,
            "device_id": device,
            "ts_ms": ts,
            "lat": lat,
            "lon": lon,
            "accuracy_m": acc,
            "checkin": checkin,
            "tamper": tamper,
            "battery_pct": battery,
        }
        for (i, person, device, ts, lat, lon, acc, checkin, tamper, battery) in zip(
            *columns, strict=True
        )
    ]


def batch_of(rows: list[tuple[int, Ping]]) -> PingBatch:
    """(person id, validated ping) rows as the batch the group commit builds of them."""
    return PingBatch.of_reports([person for person, _ in rows], [ping for _, ping in rows])
