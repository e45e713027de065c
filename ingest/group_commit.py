"""Group commit: concurrent requests share one COPY and one commit, then one XADD per partition.

A request is answered only after the commit that made its pings durable. While one flush runs,
the next requests queue up, so batches grow with load and stay small (low latency) when idle.
The queue is bounded: past it, requests are told to retry (503), never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

import asyncpg
import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ingest import store
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from ingest.lanes import Lane
from ingest.models import Ping
from pings import streams
from pings.batch import PingBatch
from pings.clock import ms_to_dt, now_ms
from pings.replay import mark_replay

log = logging.getLogger(__name__)


ROLLED_BACK_RETRY_S = 0.05


class CommitUnavailableError(Exception):
    """The flush could not commit (database down, or shutting down): answer 503."""


class StorageRefusedError(Exception):
    """PostgreSQL refused this request's data itself (not the connection): answer 422."""


@dataclass
class Pending:
    """One request's validated pings, waiting for the flush that answers its future. Its own
    shape, not a PingBatch: a request of one ping is the common case, and a column per field
    for one ping costs more than the Pings it is built from (the flush builds one batch)."""

    person_id: int
    pings: list[Ping]
    future: asyncio.Future[set[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class GroupConfig:
    partitions: int
    stream_maxlen: int
    max_batch_pings: int = 5000
    max_queued_pings: int = 50_000
    # flushes storing at once, each on a connection of its own: while PostgreSQL runs one
    # COPY the API prepares the next, instead of the two waiting on each other
    lanes: int = 2


@dataclass
class Stored:
    """One flush's committed rows, waiting for their turn to go to the streams."""

    batch: list[Pending]
    pings: PingBatch
    new_ids: dict[int, int]
    received_ms: int


class GroupCommitter:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, config: GroupConfig) -> None:
        self.pool, self.redis, self.config = pool, redis, config
        self._queue: deque[Pending] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        # flushes reach the streams in the order they were taken: one person's pings stay in
        # order even when a later flush commits first
        self._taken = 0
        self._forwarded = 0
        self._turn = asyncio.Condition()
        # lanes not flushing; readiness borrows one for a moment to check its connection
        self._idle: asyncio.Queue[Lane] = asyncio.Queue()
        self._failing = False  # the last flush could not reach the database
        self._ids = store.PingIds()

    async def check(self) -> None:
        """Raise unless a flush could commit now: an idle lane's own connection must answer
        (a dead one is replaced), so readiness fails exactly while ingest cannot commit."""
        try:
            lane = self._idle.get_nowait()
        except asyncio.QueueEmpty:  # every lane is flushing: the last outcome says it
            if self._failing:
                raise CommitUnavailableError("ingest's last flush could not commit") from None
            return
        try:
            await lane.check()
        finally:
            self._idle.put_nowait(lane)

    def has_room(self, count: int) -> bool:
        return self._queued + count <= self.config.max_queued_pings

    async def submit(self, person_id: int, pings: list[Ping]) -> set[int]:
        """Ids of the pings that were new (the rest were duplicates), once durable."""
        pending = Pending(person_id, pings)
        self._queue.append(pending)
        self._queued += len(pings)
        self._wake.set()
        return await pending.future

    async def run(self) -> None:
        for _ in range(self.config.lanes):
            self._idle.put_nowait(Lane(self.pool))
        runners = [asyncio.create_task(self._run_lane()) for _ in range(self.config.lanes)]
        try:
            await asyncio.gather(*runners)
        finally:
            for runner in runners:
                runner.cancel()
            await asyncio.gather(*runners, return_exceptions=True)
            self._fail_all(list(self._queue))
            while not self._idle.empty():
                await self._idle.get_nowait().release()

    async def _run_lane(self) -> None:
        batch: list[Pending] = []
        try:
            while True:
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                batch = self._take()
                await self._flush(batch)
        finally:
            self._fail_all(batch)  # cancelled mid-flush: answered 503, never left hanging

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
        ticket = self._taken  # taken before any await: tickets follow the order of _take
        self._taken += 1
        lane = await self._idle.get()
        stored: list[Stored] = []
        try:
            stored = await self._store(lane, batch)
        finally:  # whatever happened, the turn passes on: a later flush never waits forever
            self._idle.put_nowait(lane)
            await self._forward_in_turn(ticket, stored)

    async def _store(
        self, lane: Lane, batch: list[Pending], *, again: bool = False
    ) -> list[Stored]:
        pings = PingBatch.of_reports(
            [p.person_id for p in batch for _ in p.pings], [ping for p in batch for ping in p.pings]
        )
        received_ms = now_ms()  # no later than the rows' received_at
        try:
            new_ids = await lane.insert(pings, self._ids)
            self._failing = False
            return [Stored(batch, pings, new_ids, received_ms)]
        except DB_ERRORS as exc:
            log.warning("group commit of %d pings failed: %r", len(pings), exc)
            self._failing = True
            self._fail_all(batch)
        except asyncpg.TransactionRollbackError as exc:
            # a deadlock with a concurrent flush of some of the same pings (a device's retry
            # while its first upload waits), or the like: nothing was stored. Once more, after
            # the other transaction has had a moment to go on (an immediate retry can take the
            # same rows first again), and if that fails too the devices retry (503). Never a
            # 422: it tells a device to drop pings that nothing was wrong with.
            if again:
                log.warning("group commit of %d pings rolled back twice: %s", len(pings), exc)
                self._fail_all(batch)
            else:
                await asyncio.sleep(ROLLED_BACK_RETRY_S)
                return await self._store(lane, batch, again=True)
        except asyncpg.PostgresError as exc:
            if len(batch) > 1:  # one request's data was refused: commit the others without it
                return [s for pending in batch for s in await self._store(lane, [pending])]
            log.warning("PostgreSQL refused a request's pings: %s", exc)
            batch[0].future.set_exception(StorageRefusedError(str(exc)))
        return []

    async def _forward_in_turn(self, ticket: int, stored: list[Stored]) -> None:
        async with self._turn:
            await self._turn.wait_for(lambda: self._forwarded == ticket)
        try:
            for flush in stored:
                await self._forward(flush.pings, flush.new_ids, flush.received_ms)
                answer(flush.batch, flush.new_ids)
        finally:
            async with self._turn:
                self._forwarded += 1
                self._turn.notify_all()

    async def _forward(self, pings: PingBatch, new_ids: dict[int, int], received_ms: int) -> None:
        by_partition = stream_entries(pings, new_ids, self.config.partitions, received_ms)
        if not by_partition:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition, entry in by_partition.items():
                    pipe.xadd(
                        streams.ping_stream(partition),
                        entry,  # type: ignore[arg-type]
                        maxlen=self.config.stream_maxlen,
                        approximate=True,
                    )
                await pipe.execute()
        except RedisError:
            # the pings are durable already: ask their evaluators to replay from PostgreSQL
            log.exception("could not hand %d pings to the evaluators", len(pings))
            await self._ask_replay(sorted(by_partition), received_ms)

    async def _ask_replay(self, partitions: list[int], received_ms: int) -> None:
        since = ms_to_dt(received_ms)
        try:
            async with self.pool.acquire(timeout=5.0) as conn:
                await mark_replay(conn, partitions=partitions, since=since)
        except DB_ERRORS:
            log.error("could not mark partitions %s for replay", partitions)

    def _fail_all(self, batch: list[Pending]) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(CommitUnavailableError("database unavailable"))


def answer(batch: list[Pending], new_ids: dict[int, int]) -> None:
    """Each request learns which of its pings were new: rows are in batch order."""
    start = 0
    for pending in batch:
        end = start + len(pending.pings)
        ids = {new_ids[n] for n in range(start, end) if n in new_ids}
        start = end
        if not pending.future.done():
            pending.future.set_result(ids)


def stream_entries(
    pings: PingBatch, new_ids: dict[int, int], partitions: int, received_ms: int
) -> dict[int, dict[bytes, bytes]]:
    """The new pings of a flush as one stream entry per partition (pings.streams), each
    partition's pings in the flush's order: the flush's columns, cut."""
    if not new_ids:
        return {}
    places = np.fromiter(sorted(new_ids), np.int64, len(new_ids))
    ids = np.fromiter(map(new_ids.__getitem__, places.tolist()), np.int64, len(places))
    every = len(places) == len(pings)
    person_ids = pings.person_ids if every else pings.person_ids[places]
    of_ping = person_ids % partitions  # streams.partition_of, a column at a time
    order = np.argsort(of_ping, kind="stable")
    # one index per partition into the flush (its places) and into the new pings (order)
    cuts = np.flatnonzero(np.diff(of_ping[order])) + 1
    entries = {}
    for chosen in np.split(order, cuts):
        part = pings.take(chosen if every else places[chosen], ids=ids[chosen])
        entries[int(of_ping[chosen[0]])] = streams.encode(part, received_ms=received_ms)
    return entries
