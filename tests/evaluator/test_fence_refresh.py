"""FenceCache asks for fence versions on a timer: an edited fence is judged by within seconds."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np

from alerts.person_store import PersonRow
from evaluator.fence_cache import FENCE_CHECK_S, FenceCache
from geofence import INSIDE, OUTSIDE
from geofence.index import TABLE_MIN_POINTS
from monitor.registry import schemas
from monitor.registry import store as registry_store
from simulators.fleet import offset
from tests.e2e.test_slice import CENTRE, square

EDITED_AT = offset(*CENTRE, 3000.0, 0.0)  # outside the first square, inside the edited one


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_edited_fence_is_judged_by_within_the_check_interval(
    pool: asyncpg.Pool,
) -> None:
    clock = FakeClock()
    cache = FenceCache(clock=clock)
    points = (np.array([EDITED_AT[0]]), np.array([EDITED_AT[1]]), np.array([10.0]))
    async with pool.acquire() as conn:
        fence = await registry_store.insert_fence(
            conn,
            data=schemas.FenceIn(name="edited", role="allowed", geometry=square(*CENTRE, 500)),
        )
        person = PersonRow(1, "strict", 1, "1.", allowed_fence_ids=(fence["id"],))
        await cache.refresh(conn, [person])
        assert cache.classify([fence["id"]], points).tolist() == [OUTSIDE]

        await conn.execute(
            "UPDATE fences SET geometry = $2, version = version + 1 WHERE id = $1",
            fence["id"],
            square(*CENTRE, 5000),
        )
        clock.now += FENCE_CHECK_S / 2  # between checks the cached version still answers
        await cache.refresh(conn, [person])
        assert cache.classify([fence["id"]], points).tolist() == [OUTSIDE]

        clock.now += FENCE_CHECK_S / 2
        await cache.refresh(conn, [person])
        assert cache.classify([fence["id"]], points).tolist() == [INSIDE]


async def test_a_new_fence_is_loaded_at_once(pool: asyncpg.Pool) -> None:
    clock = FakeClock()
    cache = FenceCache(clock=clock)
    points = (np.array([CENTRE[0]]), np.array([CENTRE[1]]), np.array([10.0]))
    async with pool.acquire() as conn:
        first = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="a", role="allowed", geometry=square(*CENTRE, 500))
        )
        await cache.refresh(conn, [PersonRow(1, "strict", 1, "1.", (first["id"],))])
        second = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="b", role="allowed", geometry=square(*CENTRE, 500))
        )
        await cache.refresh(conn, [PersonRow(2, "strict", 1, "1.", (second["id"],))])
    assert cache.classify([second["id"]], points).tolist() == [INSIDE]


async def test_a_busy_fence_gets_its_cell_table_built_off_the_event_loop(
    pool: asyncpg.Pool,
) -> None:
    cache = FenceCache(clock=FakeClock())
    async with pool.acquire() as conn:
        fence = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="busy", role="allowed", geometry=square(*CENTRE, 500))
        )
        person = PersonRow(1, "strict", 1, "1.", allowed_fence_ids=(fence["id"],))
        await cache.refresh(conn, [person])
        (index,) = cache._indexes_for([fence["id"]])
        few = np.full(TABLE_MIN_POINTS // 2, CENTRE[0]), np.full(TABLE_MIN_POINTS // 2, CENTRE[1])
        points = (*few, np.full(TABLE_MIN_POINTS // 2, 10.0))
        for _ in range(2):
            assert set(cache.classify([fence["id"]], points).tolist()) == {INSIDE}
        assert index.wants_table() and not index._table_built  # small batches never block on it

        await cache.refresh(conn, [person])  # the next transaction starts the build in a thread
        building = list(cache._building.values())
        assert len(building) == 1
        await cache.refresh(conn, [person])  # one build per index, however many transactions
        assert list(cache._building.values()) == building
        await asyncio.gather(*building)
    assert index._table_built and index.table is not None
    assert cache._building == {}
    assert set(cache.classify([fence["id"]], points).tolist()) == {INSIDE}
