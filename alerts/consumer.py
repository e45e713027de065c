"""Stream consumers: a loop per partition feeds the evaluator; a relay finishes publishing."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from alerts import metrics, state_store, store, streams
from alerts.coalesce import MAX_PINGS_PER_TRANSACTION
from alerts.evaluator import Evaluator
from alerts.verdicts import ms_to_dt

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0
# ingest stamps an entry before its rows get received_at; allow for that and for clock skew
REPLAY_MARGIN = timedelta(seconds=60)
REPLAY_CHECK_S = 5.0


def worker_name() -> str:
    """Unique per process: it owns partition leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: aioredis.Redis, stream: str) -> bool:
    """True when the group had to be made: a first start, or Redis lost its data."""
    try:
        await redis.xgroup_create(stream, streams.EVALUATOR_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True


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
        await store.mark_published(conn, through=max(event_ids))


@dataclass
class Chunk:
    """Consecutive entries of one read, judged in one transaction and acknowledged together."""

    partition: int
    entry_ids: list[bytes] = field(default_factory=list)
    pings: list[streams.StreamPing] = field(default_factory=list)
    received_through_ms: int | None = None

    def add(self, entry_id: bytes, pings: list[streams.StreamPing], received: int | None) -> None:
        self.entry_ids.append(entry_id)
        self.pings += pings
        if received is not None:
            self.received_through_ms = max(received, self.received_through_ms or received)

    @property
    def progress(self) -> list[state_store.Progress]:
        if self.received_through_ms is None or not self.pings:
            return []
        last_ping_id = max(p["id"] for p in self.pings)
        return [
            state_store.Progress(self.partition, last_ping_id, ms_to_dt(self.received_through_ms))
        ]


class PartitionConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        evaluator: Evaluator,
        *,
        partition: int,
        partitions: int,
        batch: int,
        block_ms: int,
        consumer: str,
        max_pings: int = MAX_PINGS_PER_TRANSACTION,
    ) -> None:
        self.redis, self.pool, self.evaluator = redis, pool, evaluator
        self.partition, self.partitions = partition, partitions
        self._checked_at = time.monotonic()
        self.stream = streams.ping_stream(partition)
        self.batch, self.block_ms, self.consumer = batch, block_ms, consumer
        self.max_pings = max_pings
        self._unmarked: list[int] = []  # events published, the watermark not yet past them

    async def run(self) -> None:
        """Forever: unacknowledged entries first (a restart), then new ones. After any Redis
        failure, and whenever ingest asks, what was received since the checkpoint is replayed
        from PostgreSQL: a failure may have cost stream entries, never pings."""
        failed = False
        while True:
            try:
                created = await ensure_group(self.redis, self.stream)
                await self.replay_if_needed(force=created or failed)
                failed = False
                await self._drain("0")
                while True:
                    await self._drain(">")
                    await self._replay_when_asked()
            except Exception:  # a consumer never dies: it retries, then replays what it missed
                log.exception("consumer of %s failed; retrying", self.stream)
                failed = True
                await asyncio.sleep(RETRY_DELAY_S)

    async def _replay_when_asked(self) -> None:
        now = time.monotonic()
        if now - self._checked_at >= REPLAY_CHECK_S:
            self._checked_at = now
            await self.replay_if_needed(force=False)

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
            if entries:
                await self._handle(entries)
            if start == ">" or not entries:
                return

    async def _handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Judge the entries of one read in as few transactions as the cap allows: under load,
        entries are small and a transaction each would make the per-entry overhead the
        bottleneck; the cap keeps one transaction from holding 64 x 500 pings' locks."""
        for chunk in self._chunks(entries):
            event_ids: list[int] = []
            if chunk.pings:
                with metrics.BATCH_SECONDS.time():
                    event_ids = await self.evaluator.evaluate(
                        chunk.pings, chunk.progress, self._unmarked
                    )
                if event_ids:  # the watermark moves with new events only
                    self._unmarked = []
            await self._acknowledge(chunk.entry_ids, event_ids)

    async def _acknowledge(self, entry_ids: list[bytes], event_ids: list[int]) -> None:
        """After commit, in one Redis round trip: acknowledge the entries and wake the hubs.
        The watermark passes them in the next transaction that writes events, not a round
        trip of its own; if none comes soon, the relay wakes the hubs again (harmless)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, streams.EVALUATOR_GROUP, *entry_ids)
            if event_ids:
                pipe.xadd(
                    streams.EVENT_STREAM,
                    {b"last": str(max(event_ids)).encode()},
                    maxlen=streams.EVENT_STREAM_MAXLEN,
                    approximate=True,
                )
            acked, *woken = await pipe.execute(raise_on_error=False)
        if isinstance(acked, Exception):
            raise acked
        if woken and isinstance(woken[0], Exception):
            log.warning("could not publish events up to %d; the relay will", max(event_ids))
        else:
            self._unmarked += event_ids

    def _chunks(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> Iterator[Chunk]:
        chunk = Chunk(self.partition)
        for entry_id, fields in entries:
            try:
                pings, received = streams.decode_batch(fields), streams.received_ms(fields)
            except (KeyError, ValueError):
                log.error("dropping unreadable entry %s on %s", entry_id, self.stream)
                pings, received = [], None
            if chunk.pings and len(chunk.pings) + len(pings) > self.max_pings:
                yield chunk
                chunk = Chunk(self.partition)
            chunk.add(entry_id, pings, received)
        yield chunk

    async def replay_if_needed(self, *, force: bool) -> None:
        async with self.pool.acquire() as conn:
            row = await state_store.checkpoint(conn, partition=self.partition)
        if row is None:
            return  # never evaluated anything: a first start
        since = (force and row["received_through"]) or row["replay_from"]
        if since is None:
            return
        asked_at = datetime.now(UTC)
        await self.replay_since(since - REPLAY_MARGIN)
        async with self.pool.acquire() as conn:
            await state_store.clear_replay(conn, partition=self.partition, through=asked_at)

    async def replay_since(self, since: datetime) -> None:
        """Judge every ping received since `since`, person by person in fix-time order.
        Pings judged already are late by now and change nothing."""
        after: tuple[int, datetime, int] = (-1, datetime.min.replace(tzinfo=UTC), -1)
        replayed = 0
        while True:
            async with self.pool.acquire() as conn:
                rows = await state_store.replay_page(
                    conn,
                    since=since,
                    partitions=self.partitions,
                    partition=self.partition,
                    after=after,
                    limit=self.batch,
                )
            if not rows:
                break
            pings = [record_to_stream(r) for r in rows]
            await publish(self.redis, self.pool, await self.evaluator.evaluate(pings))
            after = (rows[-1]["person_id"], rows[-1]["ts"], rows[-1]["id"])
            replayed += len(rows)
        log.warning("partition %d: replayed %d pings from PostgreSQL", self.partition, replayed)


def record_to_stream(row: asyncpg.Record) -> streams.StreamPing:
    return streams.StreamPing(
        id=row["id"],
        person_id=row["person_id"],
        device_id=row["device_id"],
        ts_ms=row["ts_ms"],
        lat=row["lat"],
        lon=row["lon"],
        accuracy_m=row["accuracy_m"],
        checkin=row["checkin"],
        tamper=row["tamper"],
        battery_pct=row["battery_pct"],
    )


async def relay(redis: aioredis.Redis, pool: asyncpg.Pool, *, interval_s: float) -> None:
    """Wake the hubs for events whose publisher died between commit and publish: those
    committed a pass ago or earlier and still above the watermark. (A hub also reads on its
    own every hub_poll_s; this makes the worst case one relay interval.)"""
    committed_before = None  # the last event id committed at the previous pass
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with pool.acquire() as conn:
                last, published = await store.publication(conn)
            if committed_before is not None and published < committed_before:
                await publish(redis, pool, [last])
            committed_before = last
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("relay pass failed; retrying")
