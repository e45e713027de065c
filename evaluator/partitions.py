"""Partition ownership: each stream partition is evaluated by exactly one worker at a time.

Leases live in Redis with a TTL and are renewed while the owner lives. Workers announce
themselves so each takes a fair share; a dead worker's partitions are taken over when its
leases expire. A new owner claims what the previous owner read but never acknowledged
(evaluator.consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LEASE_KEY = "{}lease:partition:{}"
WORKER_KEY = "{}workers:{}"
# renew only a lease we still hold
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def fair_share(partitions: int, workers: int) -> int:
    return math.ceil(partitions / max(workers, 1))


class PartitionOwner:
    """Keeps a fair share of partitions leased and runs one consumer task per leased partition."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        partitions: int,
        owner: str,
        run_partition: Callable[[int], Coroutine[Any, Any, None]],
        ttl_ms: int = 10_000,
        namespace: str = "",
    ) -> None:
        self.redis, self.partitions, self.owner = redis, partitions, owner
        self.run_partition, self.ttl_ms, self.namespace = run_partition, ttl_ms, namespace
        self.tasks: dict[int, asyncio.Task[None]] = {}

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.rebalance()
                except RedisError:
                    log.warning("partition leases unreachable; keeping what runs until they expire")
                await asyncio.sleep(self.ttl_ms / 3000)
        finally:
            await self.stop_all()

    async def rebalance(self) -> None:
        await self.redis.set(WORKER_KEY.format(self.namespace, self.owner), b"1", px=self.ttl_ms)
        workers = len(
            [k async for k in self.redis.scan_iter(WORKER_KEY.format(self.namespace, "*"))]
        )
        share = fair_share(self.partitions, workers)
        for partition, task in list(self.tasks.items()):
            if task.done():  # it should never end; if it did, start it again
                log.error("consumer of partition %d ended; restarting it", partition)
                self.tasks[partition] = asyncio.create_task(self.run_partition(partition))
            if not await self.redis.eval(RENEW, 1, self._lease(partition), self.owner, self.ttl_ms):
                log.warning("lost the lease on partition %d", partition)
                await self.stop(partition)
        # together: each may wait a moment for its judgements to end (evaluator.consumer)
        await asyncio.gather(*(self.release(p) for p in sorted(self.tasks)[share:]))
        for partition in range(self.partitions):
            if len(self.tasks) >= share:
                break
            if partition not in self.tasks and await self.redis.set(
                self._lease(partition), self.owner.encode(), nx=True, px=self.ttl_ms
            ):
                log.info("%s owns partition %d", self.owner, partition)
                self.tasks[partition] = asyncio.create_task(self.run_partition(partition))

    def _lease(self, partition: int) -> str:
        return LEASE_KEY.format(self.namespace, partition)

    async def release(self, partition: int) -> None:
        await self.stop(partition)
        await self.redis.eval(RELEASE, 1, self._lease(partition), self.owner)

    async def stop(self, partition: int) -> None:
        task = self.tasks.pop(partition)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def stop_all(self) -> None:
        """Release every lease, together: each partition may wait a moment for its
        judgements (evaluator.consumer), and those waits must not add up at shutdown."""

        async def release(partition: int) -> None:
            with contextlib.suppress(RedisError):
                await self.release(partition)

        await asyncio.gather(*(release(p) for p in list(self.tasks)))
        with contextlib.suppress(RedisError):
            await self.redis.delete(WORKER_KEY.format(self.namespace, self.owner))
