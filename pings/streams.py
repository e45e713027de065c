"""The ping streams' format, and the Redis names shared by ingest (producer), evaluators
(consumers) and hubs, in one place."""

from __future__ import annotations

import numpy as np
import orjson
import redis.asyncio as aioredis

from pings.batch import PingBatch
from pings.clock import US_PER_MS

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


# A stream entry's pings, a column each: fixed-width columns are little-endian numpy bytes
# (Redis fields are binary-safe), device ids a JSON list, not a JSON object a ping whose floats
# go to decimal text and back: see docs/decisions/0021-stream-entries-as-columns.md. Fix times
# are epoch microseconds (field "us"); entries of earlier versions carry milliseconds ("ts").
INT64, FLOAT64, FLAGS = np.dtype("<i8"), np.dtype("<f8"), np.dtype("u1")


def encode(batch: PingBatch, *, received_ms: int) -> dict[bytes, bytes]:
    """One stream entry of a stored batch; `received_ms` is when ingest began storing it.
    A column already of its entry type (ingest's, on a little-endian host) is not copied."""
    return {
        b"n": str(len(batch)).encode(),
        b"id": batch.ids.astype(INT64, copy=False).tobytes(),
        b"person": batch.person_ids.astype(INT64, copy=False).tobytes(),
        b"device": orjson.dumps(batch.device_ids),
        b"us": batch.ts_us.astype(INT64, copy=False).tobytes(),
        b"lat": batch.lat.astype(FLOAT64, copy=False).tobytes(),
        b"lon": batch.lon.astype(FLOAT64, copy=False).tobytes(),
        b"acc": batch.accuracy_m.astype(FLOAT64, copy=False).tobytes(),
        b"flags": batch.flags.astype(FLAGS, copy=False).tobytes(),
        b"battery": batch.battery_pct.astype(FLOAT64, copy=False).tobytes(),
        b"r": str(received_ms).encode(),
    }


def decode(fields: dict[bytes, bytes]) -> PingBatch:
    """The pings of an entry; raises KeyError or ValueError for one that is not readable.
    Reads the entries of earlier versions too, which a stream may still hold."""
    if b"b" in fields:  # a JSON list of rows
        return PingBatch.of_rows(orjson.loads(fields[b"b"]))
    count = int(fields[b"n"])
    if b"us" in fields:
        ts_us = np.frombuffer(fields[b"us"], INT64)
    else:
        ts_us = np.frombuffer(fields[b"ts"], INT64) * US_PER_MS
    batch = PingBatch(
        ids=np.frombuffer(fields[b"id"], INT64),
        person_ids=np.frombuffer(fields[b"person"], INT64),
        device_ids=orjson.loads(fields[b"device"]),
        ts_us=ts_us,
        lat=np.frombuffer(fields[b"lat"], FLOAT64),
        lon=np.frombuffer(fields[b"lon"], FLOAT64),
        accuracy_m=np.frombuffer(fields[b"acc"], FLOAT64),
        flags=np.frombuffer(fields[b"flags"], FLAGS),
        battery_pct=np.frombuffer(fields[b"battery"], FLOAT64),
    )
    columns = (batch.ids, batch.person_ids, batch.device_ids, batch.ts_us, batch.lat)
    others = (batch.lon, batch.accuracy_m, batch.flags, batch.battery_pct)
    if any(len(column) != count for column in (*columns, *others)):
        raise ValueError(f"an entry of {count} pings has columns of other lengths")
    return batch


def received_ms(fields: dict[bytes, bytes]) -> int | None:
    raw = fields.get(b"r")
    return int(raw) if raw else None
