"""Concurrent evaluations gathered into one transaction, one transaction at a time.

A worker reads its partitions without waiting for what it read to be judged
(evaluator.consumer): requests queue here while a transaction runs, and one task judges
everything queued in the next transaction. Batches grow with load, and an idle worker still
judges a lone ping at once.

A busy worker (its last transaction ended moments ago) first waits `gather_s`, as
PostgreSQL's commit_delay does: without it, single-ping load runs as many small transactions,
each paying its fixed round trips. See docs/decisions/0022-evaluator-reads-and-gather.md
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from evaluator.state_store import Progress
from pings.batch import PingBatch

log = logging.getLogger(__name__)

# the most pings judged in one transaction: one holds every judged person's row lock. The
# consumers cut their reads into requests of up to this many (a stream entry is never split),
# and the coalescer adds requests to a transaction up to it (a request is never split).
MAX_PINGS_PER_TRANSACTION = 5000
# how long a busy worker gathers requests before a transaction; busy: its last transaction
# ended less than BUSY_GATHERS gathers ago
GATHER_S = 0.015
BUSY_GATHERS = 10

Judge = Callable[[PingBatch, list[Progress], list[int]], Awaitable[list[int]]]


@dataclass
class Request:
    pings: PingBatch
    progress: Sequence[Progress]
    published_event_ids: Sequence[int]
    answer: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Coalescer:
    """`submit` answers the ids of the events committed with the request's pings, or raises
    what the request's transaction raised (a shared transaction that fails is retried one
    request at a time, so only a request that fails on its own fails). A transaction's event
    ids all go to the first of its requests still waiting (they wake the hubs once); a
    request whose caller gave up is left out."""

    def __init__(self, judge: Judge, *, max_pings: int, gather_s: float = GATHER_S) -> None:
        self.judge, self.max_pings, self.gather_s = judge, max_pings, gather_s
        self.queue: deque[Request] = deque()
        self.running: asyncio.Task[None] | None = None
        self.last_ended = -math.inf  # loop time the last transaction ended

    async def submit(
        self,
        pings: PingBatch,
        progress: Sequence[Progress] = (),
        published_event_ids: Sequence[int] = (),
    ) -> list[int]:
        request = Request(pings, progress, published_event_ids)
        self.queue.append(request)
        if self.running is None or self.running.done():
            # its own task: a caller cancelled mid-transaction must not cancel the others' work
            self.running = asyncio.create_task(self._drain())
        return await request.answer

    async def _drain(self) -> None:
        while True:
            await self._gather()
            batch = self._next_batch()
            if not batch:
                return
            try:
                await self._transaction(batch)
            finally:
                self.last_ended = asyncio.get_running_loop().time()

    async def _gather(self) -> None:
        """At least one loop turn: a flush of ingest wakes the consumers of several partitions
        at once, and their reads land in the same turn; without it the first would start a
        transaction alone. A busy worker waits a few ms more (see the module's docstring)."""
        idle_s = asyncio.get_running_loop().time() - self.last_ended
        await asyncio.sleep(self.gather_s if idle_s < self.gather_s * BUSY_GATHERS else 0)

    async def _transaction(self, batch: list[Request]) -> None:
        if len(batch) == 1:
            await self._alone(batch[0])
            return
        try:
            event_ids = await self._judge(batch)
        except Exception:
            # a failed shared transaction must not cost every partition a retry and a
            # replay: each request is judged again on its own, and only a failing one fails
            log.warning("a transaction of %d requests failed; judging each alone", len(batch))
            for request in batch:
                await self._alone(request)
            return
        self._answer(batch, event_ids)

    async def _alone(self, request: Request) -> None:
        if request.answer.done():  # its caller gave up meanwhile
            return
        try:
            event_ids = await self._judge([request])
        except Exception as exc:
            if not request.answer.done():
                request.answer.set_exception(exc)
            return
        self._answer([request], event_ids)

    async def _judge(self, batch: list[Request]) -> list[int]:
        pings = PingBatch.concat([r.pings for r in batch])
        progress = [p for r in batch for p in r.progress]
        published = [i for r in batch for i in r.published_event_ids]
        return await self.judge(pings, progress, published)

    @staticmethod
    def _answer(batch: list[Request], event_ids: list[int]) -> None:
        for request in batch:
            if not request.answer.done():
                request.answer.set_result(event_ids)
                event_ids = []

    def _next_batch(self) -> list[Request]:
        """The oldest waiting requests, up to max_pings (always at least one)."""
        batch: list[Request] = []
        size = 0
        while self.queue:
            request = self.queue[0]
            if request.answer.done():  # its caller was cancelled
                self.queue.popleft()
                continue
            if batch and size + len(request.pings) > self.max_pings:
                break
            batch.append(self.queue.popleft())
            size += len(request.pings)
        return batch
