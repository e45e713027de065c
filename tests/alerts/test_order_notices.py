"""Monitoring orders about to lapse raise one notice each, unless renewed (real database).

The instants used (2031) are far from other tests' orders: the timers' round is global."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from alerts import orders
from pings.pg import Conn
from tests.registry_rows import person_in_new_city

NOW = datetime(2031, 1, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


async def person_with_orders(conn: Conn, *spans: tuple[int, int]) -> tuple[int, str]:
    """A person in a new city with an order for each (start, end) in days from NOW."""
    person_id, city_id = await person_in_new_city(conn, "orders")
    for start, end in spans:
        await conn.execute(
            "INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at) "
            "VALUES ($1, 'electronic_positioning', $2, $3)",
            person_id,
            NOW + timedelta(days=start),
            NOW + timedelta(days=end),
        )
    path: str = await conn.fetchval("SELECT path FROM jurisdictions WHERE id = $1", city_id)
    return person_id, path


async def noticed(conn: Conn, event_ids: list[int]) -> list[int]:
    """The persons the events gave notice about."""
    rows = await conn.fetch(
        "SELECT person_id, type FROM events WHERE id = ANY($1::bigint[]) ORDER BY id", event_ids
    )
    assert {r["type"] for r in rows} <= {"order.lapsing"}
    return [r["person_id"] for r in rows]


async def test_an_order_ending_within_the_notice_is_noticed_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        soon, path = await person_with_orders(conn, (-60, 5))
        later, _ = await person_with_orders(conn, (-60, 10))
        first = await noticed(conn, await orders.notice_lapsing(conn, now=NOW, notice=WEEK))
        assert soon in first and later not in first
        again = await noticed(conn, await orders.notice_lapsing(conn, now=NOW, notice=WEEK))
        assert soon not in again, "once per order"
        payload = await conn.fetchval(
            "SELECT payload FROM events WHERE person_id = $1 AND type = 'order.lapsing'", soon
        )
        listed = await orders.lapsing(conn, now=NOW, notice=WEEK, under_path=path)
        elsewhere, other_path = await person_with_orders(conn, (-60, 4))
        other = await orders.lapsing(conn, now=NOW, notice=WEEK, under_path=other_path)
    assert payload["ends_at"] == (NOW + timedelta(days=5)).isoformat()
    assert [o["person_id"] for o in listed] == [soon], "listed until it lapses, in its city only"
    assert [o["person_id"] for o in other] == [elsewhere]


async def test_a_renewed_or_revoked_order_gives_no_notice(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        renewed, path = await person_with_orders(conn, (-60, 5), (5, 95))
        revoked, _ = await person_with_orders(conn, (-60, 3))
        await conn.execute(
            "UPDATE monitoring_orders SET revoked_at = $2 WHERE person_id = $1", revoked, NOW
        )
        gap, _ = await person_with_orders(conn, (-60, 5), (6, 96))  # a day without an order
        events = await noticed(conn, await orders.notice_lapsing(conn, now=NOW, notice=WEEK))
        assert renewed not in events and revoked not in events
        assert gap in events, "a renewal that leaves a gap is no renewal"
        assert await orders.lapsing(conn, now=NOW, notice=WEEK, under_path=path) == []


async def test_an_order_of_the_other_kind_is_no_renewal(pool: asyncpg.Pool) -> None:
    """Each kind is its own approval: an information check carrying on does not renew an
    electronic positioning order, which still lapses and must be noticed."""
    async with pool.acquire() as conn:
        person_id, path = await person_with_orders(conn, (-60, 5))
        await conn.execute(
            "INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at) "
            "VALUES ($1, 'information_check', $2, $3)",
            person_id,
            NOW - timedelta(days=60),
            NOW + timedelta(days=300),
        )
        listed = await orders.lapsing(conn, now=NOW, notice=WEEK, under_path=path)
    assert [(o["person_id"], o["kind"]) for o in listed] == [(person_id, "electronic_positioning")]
