"""Partition leases against real Redis: fair shares, hand-over on release and on death."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from evaluator.partitions import PartitionOwner, fair_share


def test_fair_share() -> None:
    assert [fair_share(8, n) for n in (0, 1, 2, 3, 8, 9)] == [8, 8, 4, 3, 1, 1]


async def owner(
    redis: aioredis.Redis, name: str, namespace: str, running: dict[int, str]
) -> PartitionOwner:
    async def run_partition(partition: int) -> None:
        assert partition not in running, f"partition {partition} run twice"
        running[partition] = name
        try:
            await asyncio.Event().wait()
        finally:
            running.pop(partition)

    return PartitionOwner(
        redis,
        partitions=8,
        owner=name,
        run_partition=run_partition,
        ttl_ms=600,
        namespace=namespace,
    )


async def test_two_workers_split_the_partitions_and_one_takes_over(redis_url: str) -> None:
    redis = aioredis.from_url(redis_url)
    namespace = f"t{uuid.uuid4().hex[:6]}:"
    running: dict[int, str] = {}
    first, second = (
        await owner(redis, "a", namespace, running),
        await owner(redis, "b", namespace, running),
    )
    try:
        await first.rebalance()
        await asyncio.sleep(0.05)  # let the new consumer tasks start
        assert sorted(running) == list(range(8)) and set(running.values()) == {"a"}
        await second.rebalance()  # b sees two workers but every lease is held
        await first.rebalance()  # a now gives back what exceeds its share
        await second.rebalance()
        await asyncio.sleep(0.05)
        assert sorted(running) == list(range(8))
        assert sorted(running.values()) == ["a"] * 4 + ["b"] * 4

        # a dies without releasing: its leases and its worker key expire, b takes everything
        for task in first.tasks.values():
            task.cancel()
        await asyncio.gather(*first.tasks.values(), return_exceptions=True)
        first.tasks.clear()
        await asyncio.sleep(0.8)
        await second.rebalance()
        await asyncio.sleep(0.05)
        assert sorted(running) == list(range(8)) and set(running.values()) == {"b"}
    finally:
        await second.stop_all()
        await first.stop_all()
        await redis.aclose()
