"""The evaluator's person cache: persons are read once, and again whenever they changed."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from alerts import person_store
from alerts.person_store import PersonRow
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor.registry import casework_store, schemas
from monitor.registry import store as registry_store
from pings.batch import PingBatch
from tests.e2e.test_slice import CENTRE, square
from tests.evaluator.test_rules import FAR_OUT, ping_ids
from tests.evaluator.test_store_and_stream import strict_person
from tests.stream_pings import PingRow, stream_ping

NOON = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def pings(person_id: int, where: tuple[float, float], start: datetime) -> list[PingRow]:
    base = int(start.timestamp() * 1000)
    return [
        stream_ping(
            next(ping_ids),
            person_id=person_id,
            device_id="band",
            ts_ms=base + i * 15_000,
            lat=where[0],
            lon=where[1],
            accuracy_m=10.0,
        )
        for i in range(8)
    ]


async def revision(pool: asyncpg.Pool, person_id: int) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT revision FROM persons WHERE id = $1", person_id)
    return value


CHANGES = {
    "level": "UPDATE persons SET supervision_level = 'lenient' WHERE id = $1",
    "time zone": "UPDATE persons SET timezone = 'Asia/Urumqi' WHERE id = $1",
    "rule added": "INSERT INTO person_rules (person_id, kind, params) "
    """VALUES ($1, 'suspension', '{"types": ["out_of_area"], "starts_at": "2026-11-30T00:00:00Z",
    "ends_at": "2026-12-01T00:00:00Z"}')""",
    "rule switched off": "UPDATE person_rules SET active = false WHERE person_id = $1",
    "permit": "INSERT INTO leave_permits (person_id, starts_at, ends_at) "
    "VALUES ($1, now(), now() + interval '1 hour')",
    "permit cancelled": "UPDATE leave_permits SET cancelled_at = now() WHERE person_id = $1",
    "fence dropped": "DELETE FROM person_fences WHERE person_id = $1",
    "fence role": "UPDATE fences SET role = 'exclusion' "
    "WHERE id IN (SELECT fence_id FROM person_fences WHERE person_id = $1)",
    "jurisdiction path": "UPDATE jurisdictions SET path = path || 'x/' "
    "WHERE id = (SELECT jurisdiction_id FROM persons WHERE id = $1)",
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_every_change_the_evaluator_reads_moves_the_revision(
    pool: asyncpg.Pool, change: str
) -> None:
    person_id = await strict_person(pool, f"revision-{change.replace(' ', '-')}")
    async with pool.acquire() as conn:
        if change in ("rule switched off", "permit cancelled", "fence role"):
            await conn.execute(CHANGES["rule added" if "rule" in change else "permit"], person_id)
        before = await revision(pool, person_id)
        await conn.execute(CHANGES[change], person_id)
    assert await revision(pool, person_id) > before


async def test_a_person_is_read_once_and_again_after_a_change(pool: asyncpg.Pool) -> None:
    person_id = await strict_person(pool, "cache")
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    await evaluator.evaluate(PingBatch.of_rows(pings(person_id, CENTRE, NOON)))
    await evaluator.evaluate(
        PingBatch.of_rows(pings(person_id, CENTRE, NOON + timedelta(minutes=5)))
    )
    assert evaluator.persons.reads == 1, "an unchanged person is not read again"
    # a suspension of out_of_area made after the person was cached must be obeyed
    async with pool.acquire() as conn:
        await conn.execute(CHANGES["rule added"], person_id)
    await evaluator.evaluate(
        PingBatch.of_rows(pings(person_id, FAR_OUT, NOON + timedelta(minutes=10)))
    )
    assert evaluator.persons.reads == 2
    async with pool.acquire() as conn:
        alerts = await conn.fetchval("SELECT count(*) FROM alerts WHERE person_id = $1", person_id)
    assert alerts == 0


async def test_a_person_without_rules_is_cached_out_of_the_collectors_walk(
    pool: asyncpg.Pool,
) -> None:
    """A fleet's worth of cached persons must not be walked by every full collection; one
    with rules stays a PersonRow, and both come back as the registry has them."""
    plain = await strict_person(pool, "untracked")
    ruled = await strict_person(pool, "untracked-ruled")
    async with pool.acquire() as conn:
        await conn.execute(CHANGES["rule added"], ruled)
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    await evaluator.evaluate(
        PingBatch.of_rows(pings(plain, CENTRE, NOON) + pings(ruled, CENTRE, NOON))
    )
    gc.collect()  # a new tuple is untracked by the collections that see it
    gc.collect()
    cached = evaluator.persons.rows
    assert not gc.is_tracked(cached.get(plain))
    assert isinstance(cached.get(ruled), PersonRow)
    cached.settle()
    assert cached.unsettled == 1, "the plain person settles; the PersonRow stays young"
    assert not cached.is_walked()
    async with pool.acquire() as conn:
        registry = await person_store.persons(conn, person_ids=[plain, ruled])
        async with conn.transaction():
            found, _ = await evaluator.persons.lock(conn, person_ids=[plain, ruled])
    assert found == registry
    assert evaluator.persons.reads == 2, "both were read once"


async def test_a_fence_added_after_caching_is_judged_against(pool: asyncpg.Pool) -> None:
    """A second allowed fence far out: the person there is inside, no alert."""
    person_id = await strict_person(pool, "cache-fence")
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    await evaluator.evaluate(PingBatch.of_rows(pings(person_id, CENTRE, NOON)))
    async with pool.acquire() as conn:
        fence = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="far", role="allowed", geometry=square(*FAR_OUT, 500))
        )
        fence_id = fence["id"]
        await conn.execute(
            "INSERT INTO person_fences (person_id, fence_id) VALUES ($1, $2)", person_id, fence_id
        )
    await evaluator.evaluate(
        PingBatch.of_rows(pings(person_id, FAR_OUT, NOON + timedelta(minutes=5)))
    )
    async with pool.acquire() as conn:
        alerts = await conn.fetchval("SELECT count(*) FROM alerts WHERE person_id = $1", person_id)
    assert alerts == 0


async def test_a_fence_replaced_by_casework_is_judged_from_the_next_batch(
    pool: asyncpg.Pool,
) -> None:
    """The allowed area swapped for one far out (PATCH allowed_fence_ids): the cached person
    is read again at the next batch, and fixes inside the new area are no violation."""
    person_id = await strict_person(pool, "casework-fence")
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    await evaluator.evaluate(PingBatch.of_rows(pings(person_id, CENTRE, NOON)))
    async with pool.acquire() as conn:
        fence = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="moved", role="allowed", geometry=square(*FAR_OUT, 500))
        )
        await casework_store.set_fences(
            conn, person_id=person_id, role="allowed", fence_ids=[fence["id"]]
        )
    await evaluator.evaluate(
        PingBatch.of_rows(pings(person_id, FAR_OUT, NOON + timedelta(minutes=5)))
    )
    assert evaluator.persons.reads == 2
    async with pool.acquire() as conn:
        alerts = await conn.fetchval("SELECT count(*) FROM alerts WHERE person_id = $1", person_id)
        kept = await conn.fetchval(
            "SELECT array_agg(fence_id) FROM person_fences WHERE person_id = $1", person_id
        )
    assert alerts == 0 and kept == [fence["id"]]


async def test_a_discharged_persons_late_fixes_are_stored_but_not_judged(
    pool: asyncpg.Pool,
) -> None:
    """Fixes far out, taken before the discharge and delivered after it: the person still
    under supervision gets an out_of_area alert, the discharged one nothing."""
    kept = await strict_person(pool, "casework-kept")
    ended = await strict_person(pool, "casework-ended")
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    await evaluator.evaluate(
        PingBatch.of_rows(pings(kept, CENTRE, NOON) + pings(ended, CENTRE, NOON))
    )
    async with pool.acquire() as conn:
        await conn.execute(casework_store.MARK_DISCHARGED, ended, None, NOON.date(), "期满")
    later = NOON + timedelta(minutes=5)
    await evaluator.evaluate(
        PingBatch.of_rows(pings(kept, FAR_OUT, later) + pings(ended, FAR_OUT, later))
    )
    async with pool.acquire() as conn:
        counts = {
            person_id: await conn.fetchval(
                "SELECT count(*) FROM alerts WHERE person_id = $1", person_id
            )
            for person_id in (kept, ended)
        }
    assert counts == {kept: 1, ended: 0}
