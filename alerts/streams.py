"""Redis names shared by ingest (producer), evaluators (consumers) and hubs, in one place."""

from __future__ import annotations

from typing import TypedDict

import orjson
import redis.asyncio as aioredis

PING_STREAM_PREFIX = "pings:"
EVALUATOR_GROUP = "evaluators"
# wake-up feed for hubs: entries name the newest committed event id
EVENT_STREAM = "events"
EVENT_STREAM_MAXLEN = 10_000


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


def encode_batch(pings: list[StreamPing], *, received_ms: int) -> dict[bytes, bytes]:
    """One stream entry carries a whole batch; `received_ms` is when ingest began storing it."""
    return {b"b": orjson.dumps(pings), b"r": str(received_ms).encode()}


def decode_batch(fields: dict[bytes, bytes]) -> list[StreamPing]:
    pings: list[StreamPing] = orjson.loads(fields[b"b"])
    return pings


def received_ms(fields: dict[bytes, bytes]) -> int | None:
    raw = fields.get(b"r")
    return int(raw) if raw else None
