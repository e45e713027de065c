"""Check-in rules (签到) judged by the timers against the real database: missed_checkin."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from alerts import checkins
from pings.pg import Conn
from tests.e2e.test_slice import CENTRE
from tests.registry_rows import person_in_new_city

# Monday 2 June 2031, 09:00-10:00 in Shanghai (UTC+8), judged 10 minutes after. Years ahead
# on purpose: the timers of any service sharing the test database judge due rules at the real
# now(), so a window already past (as 30 November 2026 became) can be judged before the test.
OPENS = datetime(2031, 6, 2, 1, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=1)
DUE = CLOSES + timedelta(minutes=10)
DAY = timedelta(days=1)
RULE = {"at": "09:00", "window_min": 60, "grace_min": 10}
lat_offsets = itertools.count()


class Person:
    def __init__(self, pool: asyncpg.Pool, person_id: int) -> None:
        self.pool, self.id = pool, person_id

    async def rule(self, params: dict[str, Any], due_at: datetime = DUE) -> int:
        async with self.pool.acquire() as conn:
            rule_id: int = await conn.fetchval(
                "INSERT INTO person_rules (person_id, kind, params, due_at) "
                "VALUES ($1, 'checkin', $2, $3) RETURNING id",
                self.id,
                params,
                due_at,
            )
        return rule_id

    async def ping(self, ts: datetime, *, checkin: bool = True) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m, checkin) "
                "VALUES ('phone', $1, $2, $3, $4, 10, $5)",
                self.id,
                ts,
                CENTRE[0] + next(lat_offsets) * 1e-7,
                CENTRE[1],
                checkin,
            )

    async def order(self, starts: datetime, ends: datetime) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at) "
                "VALUES ($1, 'information_check', $2, $3)",
                self.id,
                starts,
                ends,
            )

    async def judge(self, now: datetime) -> list[int]:
        """The timers' round at `now`: it judges every person's due rules (other tests'
        too); answers this person's events."""
        async with self.pool.acquire() as conn:
            return await self.mine(conn, await checkins.judge_due(conn, now=now))

    async def note_late(self, now: datetime = DUE + DAY) -> list[int]:
        async with self.pool.acquire() as conn:
            return await self.mine(conn, await checkins.note_late(conn, now=now))

    async def mine(self, conn: Conn, event_ids: list[int]) -> list[int]:
        rows = await conn.fetch(
            "SELECT id FROM events WHERE id = ANY($1::bigint[]) AND person_id = $2 ORDER BY id",
            event_ids,
            self.id,
        )
        return [r["id"] for r in rows]

    async def alerts(self) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                "SELECT id, type, rule_key, status, disposition, resolved_by, details FROM alerts "
                "WHERE person_id = $1 ORDER BY id",
                self.id,
            )

    async def due_at(self, rule_id: int) -> datetime:
        async with self.pool.acquire() as conn:
            due: datetime = await conn.fetchval(
                "SELECT due_at FROM person_rules WHERE id = $1", rule_id
            )
        return due


@pytest.fixture
async def person(pool: asyncpg.Pool) -> Person:
    """A phone user in Shanghai under an information-check order from May to July 2031."""
    async with pool.acquire() as conn:
        person_id, _ = await person_in_new_city(conn, "checkin")
    someone = Person(pool, person_id)
    await someone.order(datetime(2031, 5, 1, tzinfo=UTC), datetime(2031, 8, 1, tzinfo=UTC))
    return someone


async def test_a_window_without_a_checkin_opens_missed_checkin_once(person: Person) -> None:
    rule_id = await person.rule(RULE)
    await person.ping(OPENS + timedelta(minutes=5), checkin=False)  # a position is no check-in
    assert await person.judge(DUE - timedelta(seconds=1)) == [], "not before the grace is over"
    opened = await person.judge(DUE)
    [alert] = await person.alerts()
    assert (alert["type"], alert["rule_key"]) == ("missed_checkin", f"checkin:{rule_id}")
    assert alert["details"]["window_start"] == OPENS.isoformat()
    assert alert["details"]["window_end"] == CLOSES.isoformat()
    assert len(opened) == 1
    assert await person.judge(DUE + timedelta(minutes=5)) == [], "a window is judged once"
    assert await person.due_at(rule_id) == DUE + DAY, "the next morning's window is next"


async def test_a_checkin_inside_the_window_keeps_it(person: Person) -> None:
    rule_id = await person.rule(RULE)
    await person.ping(CLOSES - timedelta(seconds=1))
    await person.ping(OPENS - timedelta(seconds=1))  # early: does not count, and is no harm
    assert await person.judge(DUE) == []
    assert await person.alerts() == []
    assert await person.due_at(rule_id) == DUE + DAY


async def test_a_checkin_outside_the_window_does_not_keep_it(person: Person) -> None:
    await person.rule(RULE)
    await person.ping(OPENS - timedelta(seconds=1))
    await person.ping(CLOSES)  # the window is half-open: 10:00:00 is late
    await person.judge(DUE)
    assert [a["type"] for a in await person.alerts()] == ["missed_checkin"]


async def test_a_late_checkin_is_noted_on_the_alert_and_a_new_miss_clears_the_note(
    person: Person,
) -> None:
    await person.rule(RULE)
    await person.judge(DUE)
    assert await person.note_late() == []
    arrived = CLOSES + timedelta(minutes=30)  # a phone offline past the grace
    await person.ping(arrived)
    noted = await person.note_late()
    assert len(noted) == 1
    [alert] = await person.alerts()
    assert alert["details"]["checked_in_at"] == arrived.isoformat()
    assert await person.note_late() == [], "noted once"
    await person.judge(DUE + DAY)  # Tuesday's window missed too: the same open alert
    [again] = await person.alerts()
    assert again["id"] == alert["id"]
    assert again["details"]["window_start"] == (OPENS + DAY).isoformat()
    assert again["details"]["checked_in_at"] is None, "Monday's late check-in is old news"


async def test_a_checkin_made_in_time_but_delivered_late_clears_the_alert(
    person: Person,
) -> None:
    """A phone offline past the grace: the alert was false, and resolves itself."""
    await person.rule(RULE)
    await person.judge(DUE)
    await person.ping(CLOSES - timedelta(minutes=1))  # made inside the window, stored only now
    [event] = await person.note_late()
    [alert] = await person.alerts()
    assert (alert["status"], alert["disposition"]) == ("resolved", "auto_cleared")
    assert alert["resolved_by"] is None
    assert alert["details"]["checked_in_at"] == (CLOSES - timedelta(minutes=1)).isoformat()
    async with person.pool.acquire() as conn:
        assert await conn.fetchval("SELECT type FROM events WHERE id = $1", event) == (
            "alert.resolved"
        )


async def test_a_late_checkin_does_not_clear_earlier_misses(person: Person) -> None:
    """Monday missed for real, Tuesday's check-in made in time but delivered late: the alert
    stands for both, so it stays open with the check-in noted."""
    await person.rule(RULE)
    await person.judge(DUE + DAY)  # Monday and Tuesday both unkept
    [both] = await person.alerts()
    assert both["details"]["missed"] == [OPENS.isoformat(), (OPENS + DAY).isoformat()]
    await person.ping(CLOSES + DAY - timedelta(minutes=1))
    await person.note_late()
    [alert] = await person.alerts()
    assert alert["status"] == "open"
    assert alert["details"]["checked_in_at"] == (CLOSES + DAY - timedelta(minutes=1)).isoformat()


async def test_no_checkin_is_asked_without_an_order_or_during_a_suspension(
    person: Person, pool: asyncpg.Pool
) -> None:
    await person.rule({**RULE, "days": [0]})  # Mondays only
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO person_rules (person_id, kind, params) VALUES ($1, 'suspension', $2)",
            person.id,
            {
                "starts_at": OPENS.isoformat(),
                "ends_at": CLOSES.isoformat(),
                "types": ["missed_checkin"],
            },
        )
    await person.judge(DUE)
    assert await person.alerts() == [], "suspended"
    async with pool.acquire() as conn:  # the order ends before next Monday's window closes
        await conn.execute(
            "UPDATE monitoring_orders SET ends_at = $2 WHERE person_id = $1",
            person.id,
            OPENS + 7 * DAY + timedelta(minutes=30),
        )
    await person.judge(DUE + 7 * DAY)
    assert await person.alerts() == [], "no order over the whole window"


async def test_windows_missed_while_the_timers_were_down_are_each_judged(
    person: Person,
) -> None:
    rule_id = await person.rule(RULE)
    await person.ping(OPENS + DAY + timedelta(minutes=1))  # Tuesday kept, Monday and Wednesday not
    events = await person.judge(DUE + 2 * DAY + timedelta(hours=3))
    assert len(events) == 2, "opened on Monday's window, updated on Wednesday's"
    [alert] = await person.alerts()
    assert alert["details"]["window_start"] == (OPENS + 2 * DAY).isoformat()
    assert await person.due_at(rule_id) == DUE + 3 * DAY


async def test_a_switched_off_rule_is_not_judged(person: Person, pool: asyncpg.Pool) -> None:
    rule_id = await person.rule(RULE)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE person_rules SET active = false WHERE id = $1", rule_id)
    assert await person.judge(DUE + DAY) == []
    assert await person.alerts() == []


async def test_judging_a_window_leaves_the_persons_revision_alone(
    person: Person, pool: asyncpg.Pool
) -> None:
    """Workers re-read a person whose revision moved; moving due_at changes nothing they
    read, while making a rule does (the trigger names the columns the evaluator reads)."""
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT revision FROM persons WHERE id = $1", person.id)
        rule_id = await person.rule(RULE)
        made = await conn.fetchval("SELECT revision FROM persons WHERE id = $1", person.id)
        await person.judge(DUE)
        judged = await conn.fetchval("SELECT revision FROM persons WHERE id = $1", person.id)
    assert made > before
    assert judged == made
    assert await person.due_at(rule_id) == DUE + DAY
