"""Group commit: concurrent requests share one INSERT and one commit, then one XADD per partition.

A request is answered only after the commit that made its pings durable. While one flush runs,
the next requests queue up, so batches grow with load and stay small (low latency) when idle.
The queue is bounded: past it, requests are told to retry (503), never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerts import streams
from alerts.state_store import mark_replay
from ingest import store
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from ingest.models import Ping

log = logging.getLogger(__name__)

PingKey = tuple[str, datetime, float, float]


class CommitUnavailableError(Exception):
    """The flush could not commit (database down, or shutting down): answer 503."""


class StorageRefusedError(Exception):
    """PostgreSQL refused this request's data itself (not the connection): answer 422."""


@dataclass
class Pending:
    person_id: int
    pings: list[Ping]
    future: asyncio.Future[set[PingKey]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class GroupConfig:
    partitions: int
    stream_maxlen: int
    max_batch_pings: int = 5000
    max_queued_pings: int = 50_000


class GroupCommitter:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, config: GroupConfig) -> None:
        self.pool, self.redis, self.config = pool, redis, config
        self._queue: deque[Pending] = deque()
        self._queued = 0
        self._wake = asyncio.Event()

    def has_room(self, count: int) -> bool:
        return self._queued + count <= self.config.max_queued_pings

    async def submit(self, person_id: int, pings: list[Ping]) -> set[PingKey]:
        """Keys of the pings that were new (the rest were duplicates), once durable."""
        pending = Pending(person_id, pings)
        self._queue.append(pending)
        self._queued += len(pings)
        self._wake.set()
        return await pending.future

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._flush(self._take())
        finally:
            self._fail_all(list(self._queue))

    def _take(self) -> list[Pending]:
        batch: list[Pending] = []
        size, limit = 0, self.config.max_batch_pings
        while self._queue and (not batch or size + len(self._queue[0].pings) <= limit):
            pending = self._queue.popleft()
            batch.append(pending)
            size += len(pending.pings)
        self._queued -= size
        return batch

    async def _flush(self, batch: list[Pending]) -> None:
        rows = [(p.person_id, ping) for p in batch for ping in p.pings]
        received_ms = int(time.time() * 1000)  # no later than the rows' received_at
        try:
            async with self.pool.acquire(timeout=5.0) as conn:
                new_ids = await store.insert_pings(conn, rows=rows)
        except DB_ERRORS as exc:
            log.warning("group commit of %d pings failed: %r", len(rows), exc)
            self._fail_all(batch)
            return
        except asyncpg.PostgresError as exc:
            if len(batch) > 1:  # one request's data was refused: commit the others without it
                for pending in batch:
                    await self._flush([pending])
            else:
                log.warning("PostgreSQL refused a request's pings: %s", exc)
                batch[0].future.set_exception(StorageRefusedError(str(exc)))
            return
        await self._forward(rows, new_ids, received_ms)
        claimed: set[PingKey] = set()
        for pending in batch:
            keys = {k for p in pending.pings if (k := key_of(p)) in new_ids and k not in claimed}
            claimed |= keys
            if not pending.future.done():
                pending.future.set_result(keys)

    async def _forward(
        self, rows: list[tuple[int, Ping]], new_ids: dict[PingKey, int], received_ms: int
    ) -> None:
        by_partition: dict[int, list[streams.StreamPing]] = defaultdict(list)
        unsent = dict(new_ids)  # a ping repeated within the batch goes once
        for person_id, ping in rows:
            ping_id = unsent.pop(key_of(ping), None)
            if ping_id is not None:
                partition = streams.partition_of(person_id, self.config.partitions)
                by_partition[partition].append(to_stream(ping, ping_id, person_id))
        if not by_partition:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition, pings in by_partition.items():
                    pipe.xadd(
                        streams.ping_stream(partition),
                        streams.encode_batch(pings, received_ms=received_ms),  # type: ignore[arg-type]
                        maxlen=self.config.stream_maxlen,
                        approximate=True,
                    )
                await pipe.execute()
        except RedisError:
            # the pings are durable already: ask their evaluators to replay from PostgreSQL
            log.exception("could not hand %d pings to the evaluators", len(rows))
            await self._ask_replay(sorted(by_partition), received_ms)

    async def _ask_replay(self, partitions: list[int], received_ms: int) -> None:
        since = datetime.fromtimestamp(received_ms / 1000, tz=UTC)
        try:
            async with self.pool.acquire(timeout=5.0) as conn:
                await mark_replay(conn, partitions=partitions, since=since)
        except DB_ERRORS:
            log.error("could not mark partitions %s for replay", partitions)

    def _fail_all(self, batch: list[Pending]) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(CommitUnavailableError("database unavailable"))


def key_of(ping: Ping) -> PingKey:
    return (ping.device_id, ping.ts, ping.lat, ping.lon)


def to_stream(ping: Ping, ping_id: int, person_id: int) -> streams.StreamPing:
    return streams.StreamPing(
        id=ping_id,
        person_id=person_id,
        device_id=ping.device_id,
        ts_ms=int(ping.ts.timestamp() * 1000),
        lat=ping.lat,
        lon=ping.lon,
        accuracy_m=ping.accuracy_m,
        checkin=ping.checkin,
        tamper=ping.tamper,
        battery_pct=ping.battery_pct,
    )
