"""Concurrent evaluations share one transaction; one transaction runs at a time."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from evaluator.coalesce import BUSY_GATHERS, GATHER_S, Coalescer
from evaluator.state_store import Progress
from monitor.settings import Settings
from pings.batch import PingBatch
from pings.clock import ms_to_dt
from tests.stream_pings import PingRow, stream_ping


def ping(n: int) -> PingRow:
    return stream_ping(n)


def batch(*rows: PingRow) -> PingBatch:
    return PingBatch.of_rows(rows)


async def turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


class Judge:
    """Records each transaction; holds it open until told to finish."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[tuple[list[int], list[int], list[int]]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on
        self.running = 0
        self.most_at_once = 0

    async def __call__(
        self, pings: PingBatch, progress: list[Progress], published: list[int]
    ) -> list[int]:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.calls.append((pings.ids.tolist(), [c.partition for c in progress], published))
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        if self.fail_on is not None and self.fail_on in pings.ids.tolist():
            raise RuntimeError("the transaction failed")
        return [1000 + i for i in pings.ids.tolist()]


async def test_requests_made_during_a_transaction_share_the_next_one() -> None:
    judge = Judge()
    coalescer = Coalescer(judge, max_pings=100)
    first = asyncio.create_task(coalescer.submit(batch(ping(1)), [Progress(0, 1, ms_to_dt(1))]))
    await turns(3)  # the first transaction has begun
    later = [
        asyncio.create_task(
            coalescer.submit(batch(ping(n)), [Progress(n, n, ms_to_dt(n))], [n * 10])
        )
        for n in (2, 3, 4)
    ]
    await asyncio.sleep(0)
    judge.release.set()
    answers = await asyncio.gather(first, *later)
    assert [c[0] for c in judge.calls] == [[1], [2, 3, 4]]
    assert judge.calls[1][1:] == ([2, 3, 4], [20, 30, 40])
    assert judge.most_at_once == 1
    # a transaction's events wake the hubs once: its first request carries them
    assert answers == [[1001], [1002, 1003, 1004], [], []]


async def test_a_lone_request_is_judged_at_once() -> None:
    judge = Judge()
    judge.release.set()
    assert await Coalescer(judge, max_pings=100).submit(batch(ping(7))) == [1007]


async def test_a_transaction_takes_no_more_than_max_pings() -> None:
    judge = Judge()
    coalescer = Coalescer(judge, max_pings=3)
    blocker = asyncio.create_task(coalescer.submit(batch(ping(0))))
    await turns(3)  # the first transaction has begun
    tasks = [
        asyncio.create_task(coalescer.submit(batch(ping(n), ping(n + 100)))) for n in (1, 2, 3)
    ]
    await asyncio.sleep(0)
    judge.release.set()
    await asyncio.gather(blocker, *tasks)
    assert [len(c[0]) for c in judge.calls] == [1, 2, 2, 2]


async def test_a_failed_shared_transaction_fails_only_the_request_that_fails_alone() -> None:
    """One partition's bad read must not cost every partition of the worker a retry and a
    replay: the shared transaction's requests are judged again one by one."""
    judge = Judge(fail_on=2)
    coalescer = Coalescer(judge, max_pings=100)
    blocker = asyncio.create_task(coalescer.submit(batch(ping(0))))
    await turns(3)  # the first transaction has begun
    fine, failing, also_fine = (
        asyncio.create_task(coalescer.submit(batch(ping(n)))) for n in (1, 2, 3)
    )
    await asyncio.sleep(0)
    judge.release.set()
    await blocker
    assert await fine == [1001]
    with pytest.raises(RuntimeError, match="the transaction failed"):
        await failing
    assert await also_fine == [1003]
    assert [c[0] for c in judge.calls] == [[0], [1, 2, 3], [1], [2], [3]]


async def test_a_caller_cancelled_mid_transaction_cancels_nobody_elses_work() -> None:
    gates = [asyncio.Event(), asyncio.Event()]
    calls: list[list[int]] = []

    async def judge(pings: PingBatch, _: list[Progress], __: list[int]) -> list[int]:
        calls.append(pings.ids.tolist())
        await gates[len(calls) - 1].wait()
        return [1000 + i for i in pings.ids.tolist()]

    coalescer = Coalescer(judge, max_pings=100, gather_s=0)  # the next transaction at once
    blocker = asyncio.create_task(coalescer.submit(batch(ping(0))))
    await turns(3)  # the first transaction has begun
    gone = asyncio.create_task(coalescer.submit(batch(ping(1))))
    stays = asyncio.create_task(coalescer.submit(batch(ping(2))))
    await asyncio.sleep(0)
    gates[0].set()
    await blocker
    await turns(2)
    assert calls == [[0], [1, 2]]  # the second transaction is running
    gone.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    gates[1].set()
    # it finished all the same; its events go to the request still waiting
    assert await stays == [1001, 1002]


async def test_a_caller_cancelled_before_its_turn_is_left_out() -> None:
    judge = Judge()
    coalescer = Coalescer(judge, max_pings=100, gather_s=0)  # the next transaction at once
    blocker = asyncio.create_task(coalescer.submit(batch(ping(0))))
    await turns(3)  # the first transaction has begun
    gone = asyncio.create_task(coalescer.submit(batch(ping(1))))
    await asyncio.sleep(0)
    gone.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    stays = asyncio.create_task(coalescer.submit(batch(ping(2))))
    judge.release.set()
    await asyncio.gather(blocker, stays)
    assert [c[0] for c in judge.calls] == [[0], [2]]


async def test_requests_arriving_in_the_same_loop_turn_share_the_first_transaction() -> None:
    """A flush of ingest wakes several partitions' consumers at once: their reads land in the
    same loop turn and must not wait a whole transaction behind the first of them."""
    judge = Judge()
    judge.release.set()
    coalescer = Coalescer(judge, max_pings=100)

    async def one_turn_later(n: int) -> list[int]:
        await asyncio.sleep(0)  # its reply took one more loop turn to parse
        return await coalescer.submit(batch(ping(n)))

    first = asyncio.create_task(coalescer.submit(batch(ping(1))))
    await asyncio.gather(first, one_turn_later(2))
    assert [c[0] for c in judge.calls] == [[1, 2]]


async def test_a_busy_worker_gathers_requests_before_its_next_transaction() -> None:
    """Right after a transaction, the next waits gather_s: consumers answered by the last one
    read again and join it, instead of a transaction each."""
    judge = Judge()
    judge.release.set()
    coalescer = Coalescer(judge, max_pings=100, gather_s=0.5)
    assert await coalescer.submit(batch(ping(1))) == [1001]  # idle: judged at once
    first = asyncio.create_task(coalescer.submit(batch(ping(2))))
    await turns(5)
    assert len(judge.calls) == 1  # busy: gathering
    second = asyncio.create_task(coalescer.submit(batch(ping(3))))
    assert await first == [1002, 1003]
    assert await second == []
    assert [c[0] for c in judge.calls] == [[1], [2, 3]]


async def test_an_idle_worker_judges_a_lone_ping_without_gathering() -> None:
    judge = Judge()
    judge.release.set()
    coalescer = Coalescer(judge, max_pings=100, gather_s=60.0)
    coalescer.last_ended = asyncio.get_running_loop().time() - 60.0 * BUSY_GATHERS
    # a minute-long gather would time this out: an idle worker does not wait for company
    assert await asyncio.wait_for(coalescer.submit(batch(ping(7))), timeout=10) == [1007]


def test_the_services_gather_default_is_the_coalescers() -> None:
    """monitor.settings and evaluator.coalesce each state the default (settings imports nothing
    of alerts); this keeps them one value."""
    assert Settings().evaluator_gather_ms == GATHER_S * 1000
