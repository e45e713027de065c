"""One rule of silence (alerts.silence): for devices fresh, heard lately, heard long ago, under
an order begun minutes ago, revoked or without an order, the timers open signal_lost for
exactly the devices the persons and devices lists show as silent, at the database's clock."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import pytest

from alerts.timers import check_once
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor.registry import roster_store, schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person
from monitor.registry.roster_store import DeviceFilter
from pings.batch import PingBatch
from pings.pg import Conn
from tests.conftest import db_pool, fresh_database
from tests.e2e.test_slice import CENTRE, square
from tests.stream_pings import stream_ping

ping_ids = itertools.count(30_000_000)


@dataclass(frozen=True)
class Case:
    level: schemas.SupervisionLevel
    interval_s: int
    heard_ago: timedelta | None  # its newest fix, judged by the evaluator; None: never heard
    enrolled_ago: timedelta  # its devices.created_at
    order_ago: timedelta | None  # its order's start; None: its order was revoked
    silent: bool  # as decided by hand: max(floor, 5 x interval) since the latest of the three


DAY, MIN = timedelta(days=1), timedelta(minutes=1)
CASES = {
    # strict: 5 min floor, 5 x 60 s = 5 min
    "fresh": Case("strict", 60, None, timedelta(0), DAY, False),  # enrolled just now
    "unheard": Case("strict", 60, None, DAY, DAY, True),
    "recent": Case("strict", 60, 1 * MIN, DAY, DAY, False),
    "long_ago": Case("strict", 60, 60 * MIN, DAY, DAY, True),
    "new_order": Case("strict", 60, None, DAY, 2 * MIN, False),  # begun 2 min ago
    "old_fix_new_order": Case("strict", 60, 60 * MIN, DAY, 3 * MIN, False),
    "no_order": Case("strict", 60, 60 * MIN, DAY, None, False),
    # lenient: 20 min floor
    "lenient_10": Case("lenient", 60, 10 * MIN, DAY, DAY, False),
    "lenient_30": Case("lenient", 60, 30 * MIN, DAY, DAY, True),
    # a band reporting every 5 min: 25 min, over the normal 10 min floor
    "slow_15": Case("normal", 300, 15 * MIN, DAY, DAY, False),
    "slow_30": Case("normal", 300, 30 * MIN, DAY, DAY, True),
}


@pytest.fixture
async def own_pool(server_urls: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    """A database of this test's own: the session's live server runs its timers every few
    seconds on the session's, and would judge these devices (enrolled a day ago) silent in the
    moment between their enrolment and their fixes being judged."""
    async with fresh_database(server_urls[0]) as url, db_pool(url) as created:
        yield created


async def make(conn: Conn, tag: str, name: str, case: Case, city: int) -> int:
    fence = await registry_store.insert_fence(
        conn, data=schemas.FenceIn(name="f", role="allowed", geometry=square(*CENTRE, 500))
    )
    enrolled = await enrol_person(
        conn, case_number=f"{tag}-{name}", supervision_level=case.level,
        allowed_fence_ids=[fence["id"]], jurisdiction_id=city, device_id=f"{tag}-{name}",
        device_kind="ankle", expected_interval_s=case.interval_s,
    )  # fmt: skip
    person_id = enrolled.person_id
    await conn.execute(
        "UPDATE devices SET created_at = now() - $2::interval WHERE id = $1",
        f"{tag}-{name}",
        case.enrolled_ago,
    )
    if case.order_ago is None:
        await conn.execute(
            "UPDATE monitoring_orders SET revoked_at = now() WHERE person_id = $1", person_id
        )
    else:
        await conn.execute(
            "UPDATE monitoring_orders SET starts_at = now() - $2::interval WHERE person_id = $1",
            person_id,
            case.order_ago,
        )
    return person_id


async def judge_fixes(pool: asyncpg.Pool, tag: str, persons: dict[str, int]) -> None:
    """Each heard device's newest fix, through the real evaluator."""
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    async with pool.acquire() as conn:
        now: datetime = await conn.fetchval("SELECT now()")
    for name, case in CASES.items():
        if case.heard_ago is None:
            continue
        at = now - case.heard_ago
        fix = stream_ping(
            next(ping_ids), person_id=persons[name], device_id=f"{tag}-{name}",
            ts_ms=round(at.timestamp() * 1000), lat=CENTRE[0], lon=CENTRE[1], accuracy_m=10.0,
        )  # fmt: skip
        await evaluator.evaluate(PingBatch.of_rows([fix]))


async def listed_silent(
    pool: asyncpg.Pool, tag: str, persons: dict[str, int]
) -> dict[str, set[str]]:
    """The silent devices each list answers: the devices list (whole and filtered by silence),
    the persons list's device summaries and a person's devices (the panel)."""
    ids = list(persons.values())
    async with pool.acquire() as conn:
        page = await roster_store.list_device_rows(
            conn, where=DeviceFilter("/", q=tag), limit=1000, offset=0
        )
        filtered = await roster_store.list_device_rows(
            conn, where=DeviceFilter("/", q=tag, silent=True), limit=1000, offset=0
        )
        summaries = await roster_store.persons_devices(conn, person_ids=ids)
        panel = await registry_store.list_devices(conn, person_ids=ids)
    return {
        "devices": {r["device_id"] for r in page if r["silent"]},
        "devices?silent=true": {r["device_id"] for r in filtered},
        "persons": {r["device_id"] for r in summaries if r["silent"]},
        "person's devices": {r["device_id"] for r in panel if r["silent"]},
    }


async def test_the_timers_and_the_lists_call_the_same_devices_silent(
    own_pool: asyncpg.Pool,
) -> None:
    pool = own_pool
    tag = f"SIL{secrets.token_hex(3).upper()}"
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=tag, level="city")
        )
        persons = {name: await make(conn, tag, name, case, city.id) for name, case in CASES.items()}
    await judge_fixes(pool, tag, persons)
    expected = {f"{tag}-{name}" for name, case in CASES.items() if case.silent}
    before = await listed_silent(pool, tag, persons)
    assert before == dict.fromkeys(before, expected)

    await check_once(pool)  # at the database's clock, as the lists
    async with pool.acquire() as conn:
        lost = await conn.fetch(
            "SELECT details->>'device_id' AS device_id FROM alerts WHERE type = 'signal_lost' "
            "AND status <> 'resolved' AND person_id = ANY($1::bigint[])",
            list(persons.values()),
        )
    assert {r["device_id"] for r in lost} == expected
    after = await listed_silent(pool, tag, persons)  # an open alert changes no device's silence
    assert after == before
