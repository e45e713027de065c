"""Stream consumer: one read of a worker's partitions feeds the evaluator, whose events it
publishes after commit (alerts.outbox)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from alerts.outbox import publish
from evaluator import metrics as evaluation_metrics
from evaluator import state_store
from evaluator.coalesce import MAX_PINGS_PER_TRANSACTION
from evaluator.engine import Evaluator
from pings import replay, streams
from pings.batch import PingBatch
from pings.clock import ms_to_dt

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0
# ingest stamps an entry before its rows get received_at; allow for that and for clock skew
REPLAY_MARGIN = timedelta(seconds=60)
REPLAY_CHECK_S = 5.0
# the consumer name of every partition's owner (see StreamConsumer)
CONSUMER = "evaluator"
# how long the shared read waits while partitions are still joining it
JOINING_BLOCK_MS = 20
# while a transaction runs, the shared read collects new entries this often
READ_PACE_S = 0.005
# a partition that leaves (released, or its lease lost) first lets the judgement of what it
# read finish, this long at most: the next owner would otherwise claim and judge it again
HANDOVER_WAIT_S = 2.0

Entry = tuple[bytes, dict[bytes, bytes]]


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


@dataclass
class Chunk:
    """Consecutive entries of one read, judged in one transaction and acknowledged together."""

    partition: int
    entry_ids: list[bytes] = field(default_factory=list)
    batches: list[PingBatch] = field(default_factory=list)
    count: int = 0  # pings in the batches
    received_through_ms: int | None = None

    def add(self, entry_id: bytes, pings: PingBatch, received: int | None) -> None:
        self.entry_ids.append(entry_id)
        if len(pings):
            self.batches.append(pings)
            self.count += len(pings)
        if received is not None:
            self.received_through_ms = max(received, self.received_through_ms or received)

    @property
    def progress(self) -> list[state_store.Progress]:
        if self.received_through_ms is None or not self.count:
            return []
        last_ping_id = max(int(b.ids.max()) for b in self.batches)
        return [
            state_store.Progress(self.partition, last_ping_id, ms_to_dt(self.received_through_ms))
        ]


class StreamConsumer:
    """Feeds the evaluator from every partition this worker owns.

    A partition joins when `run_partition` has made its group, replayed from PostgreSQL what
    a failure may have cost, and claimed the entries read but never acknowledged (by a dead
    owner, or by this worker before a failure). Then one shared loop reads all joined
    partitions with one XREADGROUP and acknowledges them in one pipeline: a worker owning 8
    partitions made 8 blocking reads and 8 acknowledgements for what one of each carries. It
    does not wait for a read to be judged before the next (see `run`).
    Each partition's entries are judged as a request of their own (the coalescer puts them in
    one transaction); a partition whose judgement fails leaves the shared read and starts
    again with a replay, as does every partition when the read itself fails.

    The consumer name is one constant: a consumer group belongs to one stream, so the name
    names no more than "this partition's owner", and a new owner claims whatever is pending.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        evaluator: Evaluator,
        *,
        partitions: int,
        batch: int,
        block_ms: int,
        max_pings: int = MAX_PINGS_PER_TRANSACTION,
        pace_s: float = READ_PACE_S,
    ) -> None:
        self.redis, self.pool, self.evaluator = redis, pool, evaluator
        self.partitions, self.batch, self.block_ms = partitions, batch, block_ms
        self.max_pings, self.pace_s = max_pings, pace_s
        self._in_flight: dict[asyncio.Task[None], set[int]] = {}  # judgements, their partitions
        self._queued_pings = 0  # read and not yet judged
        # acknowledgements asked in this loop turn, sent together
        self._acks: list[tuple[list[tuple[int, list[bytes]]], list[int], asyncio.Future[None]]] = []
        self._acking: asyncio.Task[None] | None = None
        # joined partitions; a partition's future is set when it must leave and start again
        self.live: dict[int, asyncio.Future[None]] = {}
        self.starting = 0  # partitions between their lease and joining the shared read
        self._joined = asyncio.Event()
        self._checked_at = time.monotonic()
        self._unmarked: list[int] = []  # events published, the watermark not yet past them

    async def run_partition(self, partition: int) -> None:
        """Forever, for one leased partition: start it, then let the shared read serve it
        until that fails. After any failure, what was received since the checkpoint is
        replayed from PostgreSQL: a failure may have cost stream entries, never pings."""
        failed = False
        stream = streams.ping_stream(partition)
        try:
            while True:
                self.starting += 1
                try:
                    created = await ensure_group(self.redis, stream)
                    await self.replay_if_needed(partition, force=created or failed)
                    await self._claim_pending(partition)
                except Exception:  # it never dies: it retries, then replays what it missed
                    log.exception("starting partition %d failed; retrying", partition)
                    failed = True
                    await asyncio.sleep(RETRY_DELAY_S)
                    continue
                finally:
                    self.starting -= 1
                left = asyncio.get_running_loop().create_future()
                self.live[partition] = left
                self._joined.set()
                await left
                failed = True
                await asyncio.sleep(RETRY_DELAY_S)
        finally:  # the lease is going: leave the shared read, finish what it read
            self.live.pop(partition, None)
            await self._finish_judging(partition)

    async def _finish_judging(self, partition: int) -> None:
        """Wait (a while) for the judgements holding this partition's entries, so that they
        are acknowledged before the lease passes on. Correct either way (a ping judged twice
        is late the second time and changes nothing), but a hand-over with reads in flight
        had the next owner claim and judge again up to `max_pings` pings."""
        judging = [task for task, parts in self._in_flight.items() if partition in parts]
        if judging:
            await asyncio.wait(judging, timeout=HANDOVER_WAIT_S)

    async def run(self) -> None:
        """The shared read, forever. It does not wait for what it read to be judged: while a
        transaction runs, it reads again every `pace_s`, so that what arrives meanwhile is
        queued for the next transaction (as a group commit gathers), up to `max_pings`."""
        try:
            while True:
                if not self.live:
                    self._joined.clear()
                    await self._joined.wait()
                    continue
                partitions = sorted(self.live)
                try:
                    reads = await self._read(partitions)
                    if reads:
                        self._start(reads)
                    await self._replay_when_asked()
                except Exception:
                    log.exception("reading partitions %s failed; each starts again", partitions)
                    self._leave(set(partitions))
                await self._pace()
        finally:  # what was read and not acknowledged is claimed again at the next start
            waiting = [*self._in_flight, *([self._acking] if self._acking else [])]
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _read(self, partitions: list[int]) -> dict[int, list[Entry]]:
        # while partitions are still joining, short reads: a long one would keep them waiting
        block = min(self.block_ms, JOINING_BLOCK_MS) if self.starting else self.block_ms
        reply: Any = await self.redis.xreadgroup(
            streams.EVALUATOR_GROUP,
            CONSUMER,
            {streams.ping_stream(p): ">" for p in partitions},
            count=self.batch,
            block=block,
        )
        return {streams.partition_of_stream(name): entries for name, entries in reply or []}

    def _start(self, reads: dict[int, list[Entry]]) -> None:
        chunks = {p: list(self._chunks(p, entries)) for p, entries in reads.items()}
        pings = sum(c.count for cs in chunks.values() for c in cs)
        self._queued_pings += pings
        task = asyncio.create_task(self._judged(chunks, pings))
        self._in_flight[task] = set(chunks)
        task.add_done_callback(self._in_flight.pop)

    async def _judged(self, chunks: dict[int, list[Chunk]], pings: int) -> None:
        try:
            failed = await self._handle(chunks)
        except Exception:
            log.exception("acknowledging partitions %s failed; each starts again", sorted(chunks))
            failed = set(chunks)
        finally:
            self._queued_pings -= pings
        self._leave(failed)

    async def _pace(self) -> None:
        while self._in_flight and self._queued_pings >= self.max_pings:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        if self._in_flight:
            await asyncio.sleep(self.pace_s)

    def _leave(self, partitions: set[int]) -> None:
        """These partitions start again: replay, claim, then join the read anew."""
        for partition in partitions:
            left = self.live.pop(partition, None)
            if left is not None and not left.done():
                left.set_result(None)

    async def _claim_pending(self, partition: int) -> None:
        """Take over and judge every entry read but never acknowledged, whoever read it."""
        stream = streams.ping_stream(partition)
        cursor: Any = "0-0"
        while True:
            reply: Any = await self.redis.xautoclaim(
                stream, streams.EVALUATOR_GROUP, CONSUMER, 0, cursor, count=self.batch
            )
            cursor, entries = reply[0], [e for e in reply[1] if e[1]]
            if entries and await self._handle({partition: list(self._chunks(partition, entries))}):
                raise RuntimeError(f"judging the pending entries of {stream} failed")
            if cursor in (b"0-0", "0-0"):
                return

    async def _replay_when_asked(self) -> None:
        now = time.monotonic()
        if now - self._checked_at >= REPLAY_CHECK_S:
            self._checked_at = now
            for partition in sorted(self.live):
                await self.replay_if_needed(partition, force=False)

    async def _handle(self, chunks: dict[int, list[Chunk]]) -> set[int]:
        """Judge each partition's chunks, then acknowledge those judged and wake the hubs in
        one Redis round trip. Answers the partitions whose judgement failed."""
        judged: list[tuple[int, list[bytes]]] = []
        event_ids: list[int] = []
        unmarked, self._unmarked = self._unmarked, []
        results = await asyncio.gather(
            *(
                self._judge(partition, parts, unmarked, judged, event_ids)
                for partition, parts in chunks.items()
            ),
            return_exceptions=True,
        )
        failed = set()
        for partition, result in zip(chunks, results, strict=True):
            if isinstance(result, BaseException):
                log.error("judging partition %d failed", partition, exc_info=result)
                failed.add(partition)
        if not event_ids:  # the watermark moves with new events only
            self._unmarked = unmarked + self._unmarked
        await self._acknowledge(judged, event_ids)
        return failed

    async def _judge(
        self,
        partition: int,
        chunks: list[Chunk],
        unmarked: list[int],
        judged: list[tuple[int, list[bytes]]],
        event_ids: list[int],
    ) -> None:
        """A partition's entries of one read, cut into as few transactions as the cap allows:
        under load, entries are small and a transaction each would make the per-entry
        overhead the bottleneck; the cap keeps one transaction from holding 64 x 500 pings'
        locks."""
        for chunk in chunks:
            if chunk.count:
                with evaluation_metrics.BATCH_SECONDS.time():
                    event_ids += await self.evaluator.evaluate(
                        PingBatch.concat(chunk.batches), chunk.progress, unmarked
                    )
            judged.append((partition, chunk.entry_ids))

    async def _acknowledge(
        self, judged: list[tuple[int, list[bytes]]], event_ids: list[int]
    ) -> None:
        """After commit: acknowledge the entries and wake the hubs. The reads judged in one
        transaction are answered in the same loop turn, and go in one Redis round trip."""
        if not judged:
            return
        done = asyncio.get_running_loop().create_future()
        self._acks.append((judged, event_ids, done))
        if self._acking is None or self._acking.done():
            self._acking = asyncio.create_task(self._flush_acks())
        await done

    async def _flush_acks(self) -> None:
        """One round trip for every acknowledgement asked in this loop turn."""
        await asyncio.sleep(0)
        acks, self._acks = self._acks, []
        by_partition: dict[int, list[bytes]] = defaultdict(list)
        for judged, _, _ in acks:
            for partition, entry_ids in judged:
                by_partition[partition] += entry_ids
        event_ids = [i for _, ids, _ in acks for i in ids]
        failure: Exception | None = None
        try:
            await self._send_acks(by_partition, event_ids)
        except Exception as exc:
            failure = exc
        for _, _, done in acks:
            if done.done():  # its caller was cancelled
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)

    async def _send_acks(self, by_partition: dict[int, list[bytes]], event_ids: list[int]) -> None:
        """Acknowledge and wake the hubs in one pipeline. The watermark passes these events in
        the next transaction that writes events, not a round trip of its own; if none comes
        soon, the relay wakes the hubs again (harmless)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition, entry_ids in by_partition.items():
                pipe.xack(streams.ping_stream(partition), streams.EVALUATOR_GROUP, *entry_ids)
            if event_ids:
                pipe.xadd(
                    streams.EVENT_STREAM,
                    {b"last": str(max(event_ids)).encode()},
                    maxlen=streams.EVENT_STREAM_MAXLEN,
                    approximate=True,
                )
            results = await pipe.execute(raise_on_error=False)
        for result in results[: len(by_partition)]:
            if isinstance(result, Exception):
                raise result
        if event_ids and isinstance(results[-1], Exception):
            log.warning("could not publish events up to %d; the relay will", max(event_ids))
        else:
            self._unmarked += event_ids

    def _chunks(self, partition: int, entries: list[Entry]) -> Iterator[Chunk]:
        chunk = Chunk(partition)
        for entry_id, fields in entries:
            try:
                pings, received = streams.decode(fields), streams.received_ms(fields)
            except (KeyError, ValueError):
                log.error("dropping unreadable entry %s of partition %d", entry_id, partition)
                pings, received = PingBatch.empty(), None
            if chunk.count and chunk.count + len(pings) > self.max_pings:
                yield chunk
                chunk = Chunk(partition)
            chunk.add(entry_id, pings, received)
        yield chunk

    async def replay_if_needed(self, partition: int, *, force: bool) -> None:
        async with self.pool.acquire() as conn:
            row = await state_store.checkpoint(conn, partition=partition)
        if row is None:
            return  # never evaluated anything: a first start
        since = (force and row["received_through"]) or row["replay_from"]
        if since is None:
            return
        asked_at = datetime.now(UTC)
        await self.replay_since(partition, since - REPLAY_MARGIN)
        async with self.pool.acquire() as conn:
            await replay.clear_replay(conn, partition=partition, through=asked_at)

    async def replay_since(self, partition: int, since: datetime) -> None:
        """Judge every ping received since `since`, person by person in fix-time order.
        Pings judged already are late by now and change nothing."""
        after: replay.Cursor = (-1, datetime.min.replace(tzinfo=UTC), -1)
        replayed = 0
        while True:
            async with self.pool.acquire() as conn:
                page = await replay.replay_page(
                    conn,
                    since=since,
                    partitions=self.partitions,
                    partition=partition,
                    after=after,
                    limit=self.batch,
                )
            if page is None:
                break
            pings, after = page
            await publish(self.redis, self.pool, await self.evaluator.evaluate(pings))
            replayed += len(pings)
        log.warning("partition %d: replayed %d pings from PostgreSQL", partition, replayed)
