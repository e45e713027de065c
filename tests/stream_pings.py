"""Pings as the evaluators receive them from the streams, for unit tests."""

from __future__ import annotations

from typing import Any, cast

from ingest.models import Ping
from pings.batch import PingBatch, StreamPing


def stream_ping(n: int, **fields: Any) -> StreamPing:
    """Ping number n (its id, person and fix time in ms), with any field given instead."""
    ping = {
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
    return cast(StreamPing, ping | fields)


def batch_of(rows: list[tuple[int, Ping]]) -> PingBatch:
    """(person id, validated ping) rows as the batch the group commit builds of them."""
    return PingBatch.of_reports([person for person, _ in rows], [ping for _, ping in rows])
