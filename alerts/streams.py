"""Redis names shared by ingest (producer), evaluators (consumers) and hubs, in one place."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import orjson
import redis.asyncio as aioredis

PING_STREAM_PREFIX = "pings:"
EVALUATOR_GROUP = "evaluators"
# wake-up feed for hubs: entries name the newest committed event id
EVENT_STREAM = "events"
EVENT_STREAM_MAXLEN = 10_000
# the audit chain's head, now and then (monitor/audit/anchors.py); a copy beside the file
AUDIT_ANCHOR_STREAM = "audit:anchors"
AUDIT_ANCHOR_MAXLEN = 100_000


def ping_stream(partition: int) -> str:
    return f"{PING_STREAM_PREFIX}{partition}"


def partition_of_stream(name: bytes | str) -> int:
    """The partition a ping stream's name (as Redis answers it) stands for."""
    text = name.decode() if isinstance(name, bytes) else name
    return int(text.removeprefix(PING_STREAM_PREFIX))


def partition_of(person_id: int, partitions: int) -> int:
    """One person's pings always land in the same partition, so one consumer sees them in order."""
    return person_id % partitions


def connect(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, decode_responses=False, health_check_interval=30)


class StreamPing(TypedDict):
    """One ping as it travels to the evaluators (WGS-84, epoch ms)."""

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


# A stream entry's pings, a column each: fixed-width columns are little-endian numpy bytes
# (Redis fields are binary-safe), device ids a JSON list, not a JSON object a ping whose floats
# go to decimal text and back: see docs/decisions/0021-stream-entries-as-columns.md
INT64, FLOAT64, FLAGS = np.dtype("<i8"), np.dtype("<f8"), np.dtype("u1")
CHECKIN, TAMPER = 1, 2  # bits of the flags column
Column = npt.NDArray[Any]


def encode_columns(
    *,
    ids: Column,
    person_ids: Column,
    device_ids: list[str],
    ts_ms: Column,
    lat: Column,
    lon: Column,
    accuracy_m: Column,
    flags: Column,
    battery_pct: Column,
    received_ms: int,
) -> dict[bytes, bytes]:
    """One stream entry of a batch of pings given as columns; battery NaN where unknown.
    A column already of its entry type (ingest's, on a little-endian host) is not copied."""
    return {
        b"n": str(len(device_ids)).encode(),
        b"id": ids.astype(INT64, copy=False).tobytes(),
        b"person": person_ids.astype(INT64, copy=False).tobytes(),
        b"device": orjson.dumps(device_ids),
        b"ts": ts_ms.astype(INT64, copy=False).tobytes(),
        b"lat": lat.astype(FLOAT64, copy=False).tobytes(),
        b"lon": lon.astype(FLOAT64, copy=False).tobytes(),
        b"acc": accuracy_m.astype(FLOAT64, copy=False).tobytes(),
        b"flags": flags.astype(FLAGS, copy=False).tobytes(),
        b"battery": battery_pct.astype(FLOAT64, copy=False).tobytes(),
        b"r": str(received_ms).encode(),
    }


def encode_batch(pings: list[StreamPing], *, received_ms: int) -> dict[bytes, bytes]:
    """One stream entry carries a whole batch; `received_ms` is when ingest began storing it."""
    return encode_columns(
        ids=np.array([p["id"] for p in pings], dtype=INT64),
        person_ids=np.array([p["person_id"] for p in pings], dtype=INT64),
        device_ids=[p["device_id"] for p in pings],
        ts_ms=np.array([p["ts_ms"] for p in pings], dtype=INT64),
        lat=np.array([p["lat"] for p in pings], dtype=FLOAT64),
        lon=np.array([p["lon"] for p in pings], dtype=FLOAT64),
        accuracy_m=np.array([p["accuracy_m"] for p in pings], dtype=FLOAT64),
        flags=np.array([CHECKIN * p["checkin"] | TAMPER * p["tamper"] for p in pings], dtype=FLAGS),
        battery_pct=np.array(
            [np.nan if p["battery_pct"] is None else p["battery_pct"] for p in pings],
            dtype=FLOAT64,
        ),
        received_ms=received_ms,
    )


def decode_batch(fields: dict[bytes, bytes]) -> list[StreamPing]:
    """The pings of an entry; raises KeyError or ValueError for one that is not readable.
    Reads the JSON entries of earlier versions too, which a stream may still hold."""
    if b"b" in fields:
        pings: list[StreamPing] = orjson.loads(fields[b"b"])
        return pings
    count = int(fields[b"n"])
    flags = np.frombuffer(fields[b"flags"], FLAGS)
    battery = np.frombuffer(fields[b"battery"], FLOAT64)
    unknown = np.isnan(battery)
    batteries: list[float | None] = (
        [None] * len(battery)
        if unknown.all()
        else [None if u else b for u, b in zip(unknown.tolist(), battery.tolist(), strict=True)]
    )
    columns = (
        np.frombuffer(fields[b"id"], INT64).tolist(),
        np.frombuffer(fields[b"person"], INT64).tolist(),
        orjson.loads(fields[b"device"]),
        np.frombuffer(fields[b"ts"], INT64).tolist(),
        np.frombuffer(fields[b"lat"], FLOAT64).tolist(),
        np.frombuffer(fields[b"lon"], FLOAT64).tolist(),
        np.frombuffer(fields[b"acc"], FLOAT64).tolist(),
        (flags & CHECKIN).astype(bool).tolist(),
        (flags & TAMPER).astype(bool).tolist(),
        batteries,
    )
    if any(len(column) != count for column in columns):
        raise ValueError(f"an entry of {count} pings has columns of other lengths")
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


def received_ms(fields: dict[bytes, bytes]) -> int | None:
    raw = fields.get(b"r")
    return int(raw) if raw else None
