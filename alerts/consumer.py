"""Stream consumers: a loop per partition feeds the evaluator; a relay finishes publishing."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from alerts import metrics, store, streams
from alerts.evaluator import Evaluator

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0


def worker_name() -> str:
    """Unique per process: it owns partition leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: aioredis.Redis, stream: str) -> None:
    try:
        await redis.xgroup_create(stream, streams.EVALUATOR_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def publish(redis: aioredis.Redis, pool: asyncpg.Pool, event_ids: list[int]) -> None:
    """After commit: wake the hubs, then mark the events published. The relay retries failures."""
    if not event_ids:
        return
    try:
        await redis.xadd(
            streams.EVENT_STREAM,
            {b"last": str(max(event_ids)).encode()},
            maxlen=streams.EVENT_STREAM_MAXLEN,
            approximate=True,
        )
    except RedisError:
        log.warning("could not publish events up to %d; the relay will", max(event_ids))
        return
    async with pool.acquire() as conn:
        await store.mark_published(conn, event_ids=event_ids)


class PartitionConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        evaluator: Evaluator,
        *,
        partition: int,
        batch: int,
        block_ms: int,
        consumer: str,
    ) -> None:
        self.redis, self.pool, self.evaluator = redis, pool, evaluator
        self.stream = streams.ping_stream(partition)
        self.batch, self.block_ms, self.consumer = batch, block_ms, consumer

    async def run(self) -> None:
        """Forever: first this consumer's unacknowledged entries (a restart), then new ones."""
        while True:
            try:
                await ensure_group(self.redis, self.stream)
                await self._drain("0")
                while True:
                    await self._drain(">")
            except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("consumer of %s failed; retrying", self.stream)
                await asyncio.sleep(RETRY_DELAY_S)

    async def _drain(self, start: str) -> None:
        while True:
            reply: Any = await self.redis.xreadgroup(
                streams.EVALUATOR_GROUP,
                self.consumer,
                {self.stream: start},
                count=self.batch,
                block=None if start == "0" else self.block_ms,
            )
            entries = reply[0][1] if reply else []
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)
            if start == ">" or not entries:
                return

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            pings = streams.decode_batch(fields)
        except (KeyError, ValueError):
            log.error("dropping unreadable entry %s on %s", entry_id, self.stream)
            await self.redis.xack(self.stream, streams.EVALUATOR_GROUP, entry_id)
            return
        with metrics.BATCH_SECONDS.time():
            event_ids = await self.evaluator.evaluate(pings)
        await self.redis.xack(self.stream, streams.EVALUATOR_GROUP, entry_id)
        await publish(self.redis, self.pool, event_ids)


async def relay(redis: aioredis.Redis, pool: asyncpg.Pool, *, interval_s: float) -> None:
    """Republish events whose publisher died between commit and publish."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with pool.acquire() as conn:
                ids = await store.unpublished_event_ids(conn, older_than_s=interval_s)
            await publish(redis, pool, ids)
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("relay pass failed; retrying")
