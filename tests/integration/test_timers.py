"""Time-driven checks against the real database: signal_lost, reconnection, escalation."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from alerts.evaluator import Evaluator, EvaluatorConfig
from alerts.timers import check_once
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person
from tests.e2e.test_slice import CENTRE, square
from tests.stream_pings import stream_ping

Conn = asyncpg.Connection | PoolConnectionProxy


async def make_person(conn: Conn, level: schemas.SupervisionLevel) -> int:
    city = await registry_store.insert_jurisdiction(
        conn, data=schemas.JurisdictionIn(name="timers", level="city")
    )
    fence = await registry_store.insert_fence(
        conn, data=schemas.FenceIn(name="f", role="allowed", geometry=square(*CENTRE, 500))
    )
    enrolled = await enrol_person(
        conn,
        case_number=f"T-{time.monotonic_ns()}",
        supervision_level=level,
        allowed_fence_ids=[fence["id"]],
        jurisdiction_id=city.id,
        device_id=f"t-{time.monotonic_ns()}",
    )
    return enrolled.person_id


async def twenty_minutes_after_enrolment(conn: Conn, person_id: int) -> datetime:
    """The timers' clock 20 minutes after the person's band was enrolled (silent ever since)."""
    enrolled: datetime = await conn.fetchval(
        "SELECT created_at FROM devices WHERE person_id = $1", person_id
    )
    return enrolled + timedelta(minutes=20)


async def test_silent_device_opens_signal_lost_and_a_ping_reports_reconnection(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        person_id = await make_person(conn, "strict")
        later = await twenty_minutes_after_enrolment(conn, person_id)
    first = await check_once(pool, now=later)
    assert first, "the band has not reported in the 20 minutes since its enrolment"
    async with pool.acquire() as conn:
        again = await conn.fetchval(
            "SELECT count(*) FROM events e JOIN alerts a ON a.id = e.alert_id WHERE a.person_id "
            "= $1 AND a.type = 'signal_lost' AND e.id = ANY($2::bigint[])",
            person_id,
            await check_once(pool, now=later),
        )
    assert again == 0, "a second pass must not re-open"
    async with pool.acquire() as conn:
        alert = await conn.fetchrow(
            "SELECT id, status FROM alerts WHERE person_id = $1 AND type = 'signal_lost'", person_id
        )
        # (escalated too: created at the database's now, 20 minutes before the injected one)
        assert alert is not None and alert["status"] in ("open", "escalated")
        opened = await conn.fetchval(
            "SELECT type FROM events WHERE id = ANY($1::bigint[]) AND alert_id = $2",
            first,
            alert["id"],
        )
        assert opened == "alert.opened"
        band = await conn.fetchval("SELECT id FROM devices WHERE person_id = $1", person_id)
    ping = stream_ping(
        1,
        person_id=person_id,
        device_id=band,  # the silent device itself is heard again
        ts_ms=int(time.time() * 1000),
        lat=CENTRE[0],
        lon=CENTRE[1],
        accuracy_m=10.0,
    )
    event_ids = await Evaluator(pool, EvaluatorConfig(60.0)).evaluate([ping])
    async with pool.acquire() as conn:
        types = await conn.fetch(
            "SELECT type, payload FROM events WHERE id = ANY($1::bigint[])", event_ids
        )
    updated = [r for r in types if r["type"] == "alert.updated"]
    assert len(updated) == 1 and "reconnected_at" in updated[0]["payload"]["alert"]["details"]


async def test_unacknowledged_alert_escalates_one_rung_per_sla(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        person_id = await make_person(conn, "strict")
        alert_id = await conn.fetchval(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, "
            "last_evidence_at, created_at) SELECT id, jurisdiction_id, 'tamper', 'open', now(), "
            "now(), now() - interval '6 minutes' FROM persons WHERE id = $1 RETURNING id",
            person_id,
        )
    await check_once(pool)
    await check_once(pool)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, escalation_level FROM alerts WHERE id = $1", alert_id
        )
        assert row is not None
        assert (row["status"], row["escalation_level"]) == ("escalated", "district")
        await conn.execute(
            "UPDATE alerts SET escalated_at = now() - interval '6 minutes' WHERE id = $1", alert_id
        )
    await check_once(pool)
    async with pool.acquire() as conn:
        level = await conn.fetchval("SELECT escalation_level FROM alerts WHERE id = $1", alert_id)
        events = await conn.fetch(
            "SELECT payload FROM events WHERE alert_id = $1 AND type = "
            "'alert.escalated' ORDER BY id",
            alert_id,
        )
    assert level == "city"
    assert [(e["payload"]["from"], e["payload"]["to"]) for e in events] == [
        ("street", "district"),
        ("district", "city"),
    ]


async def test_a_suspension_window_holds_signal_lost_until_it_ends(pool: asyncpg.Pool) -> None:
    """A planned device swap: silence inside the window is not 脱管; after it, it is."""
    async with pool.acquire() as conn:
        person_id = await make_person(conn, "strict")
        later = await twenty_minutes_after_enrolment(conn, person_id)
        rule_id = await conn.fetchval(
            "INSERT INTO person_rules (person_id, kind, params) VALUES ($1, 'suspension', "
            "jsonb_build_object('starts_at', now() - interval '1 hour', "
            "'ends_at', now() + interval '1 hour', 'types', '[\"signal_lost\"]'::jsonb)) "
            "RETURNING id",
            person_id,
        )
    await check_once(pool, now=later)
    count = "SELECT count(*) FROM alerts WHERE person_id = $1 AND type = 'signal_lost'"
    async with pool.acquire() as conn:
        assert await conn.fetchval(count, person_id) == 0
        await conn.execute("UPDATE person_rules SET active = false WHERE id = $1", rule_id)
    await check_once(pool, now=later)
    async with pool.acquire() as conn:
        assert await conn.fetchval(count, person_id) == 1
