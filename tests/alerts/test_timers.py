"""Time-driven checks against the real database: signal_lost, reconnection, escalation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from alerts import store as alert_store
from alerts.levels import Level
from alerts.models import AlertType
from alerts.timers import check_once
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person
from pings.batch import PingBatch
from pings.pg import Conn
from tests.e2e.test_slice import CENTRE, square
from tests.stream_pings import stream_ping


async def make_person(
    conn: Conn, level: schemas.SupervisionLevel, *, jurisdiction_id: int | None = None
) -> int:
    if jurisdiction_id is None:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="timers", level="city")
        )
        jurisdiction_id = city.id
    fence = await registry_store.insert_fence(
        conn, data=schemas.FenceIn(name="f", role="allowed", geometry=square(*CENTRE, 500))
    )
    enrolled = await enrol_person(
        conn,
        case_number=f"T-{time.monotonic_ns()}",
        supervision_level=level,
        allowed_fence_ids=[fence["id"]],
        jurisdiction_id=jurisdiction_id,
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
    event_ids = await Evaluator(pool, EvaluatorConfig(60.0)).evaluate(PingBatch.of_rows([ping]))
    async with pool.acquire() as conn:
        types = await conn.fetch(
            "SELECT type, payload FROM events WHERE id = ANY($1::bigint[])", event_ids
        )
    updated = [r for r in types if r["type"] == "alert.updated"]
    assert len(updated) == 1 and "reconnected_at" in updated[0]["payload"]["alert"]["details"]


async def make_tree(conn: Conn, levels: list[schemas.JurisdictionLevel]) -> list[int]:
    """A chain of offices, the first the root; answers their ids in that order."""
    ids: list[int] = []
    for level in levels:
        made = await registry_store.insert_jurisdiction(
            conn,
            data=schemas.JurisdictionIn(
                name=f"{level}-{time.monotonic_ns()}",
                level=level,
                parent_id=ids[-1] if ids else None,
            ),
        )
        ids.append(made.id)
    return ids


async def open_tamper_alert(conn: Conn, person_id: int) -> int:
    """Opened as the evaluator opens one (alerts.store.upsert_open_alert), 6 minutes ago."""
    alert_id, _ = await alert_store.upsert_open_alert(
        conn, person_id=person_id, jurisdiction_id=await conn.fetchval(
            "SELECT jurisdiction_id FROM persons WHERE id = $1", person_id),
        type=AlertType.TAMPER, rule_key="", at=datetime.now(UTC), late=False, episode_id=None,
        evidence_ping_ids=[], details={},
    )  # fmt: skip
    await conn.execute(
        "UPDATE alerts SET created_at = now() - interval '6 minutes' WHERE id = $1", alert_id
    )
    return alert_id


async def climb(pool: asyncpg.Pool, alert_id: int, rounds: int, top: Level) -> list[str]:
    """Each round as if the SLA had passed since the last move; answers the rungs seen."""
    seen = []
    for _ in range(rounds):
        await check_once(pool, escalation_top=top)
        async with pool.acquire() as conn:
            seen.append(
                await conn.fetchval("SELECT escalation_level FROM alerts WHERE id = $1", alert_id)
            )
            await conn.execute(
                "UPDATE alerts SET escalated_at = now() - interval '6 minutes' WHERE id = $1",
                alert_id,
            )
    return seen


async def escalations(pool: asyncpg.Pool, alert_id: int) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT payload FROM events WHERE alert_id = $1 AND type = 'alert.escalated' "
            "ORDER BY id",
            alert_id,
        )
    return [(e["payload"]["from"], e["payload"]["to"]) for e in events]


async def test_unacknowledged_alert_escalates_one_rung_per_sla(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        *_, street = await make_tree(conn, ["city", "district", "street"])
        person_id = await make_person(conn, "strict", jurisdiction_id=street)
        alert_id = await open_tamper_alert(conn, person_id)
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
    assert level == "city"
    assert await escalations(pool, alert_id) == [("street", "district"), ("district", "city")]


async def test_escalation_climbs_a_five_level_tree_to_the_top_set_and_stops(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        *_, street = await make_tree(conn, ["ministry", "province", "city", "district", "street"])
        person_id = await make_person(conn, "strict", jurisdiction_id=street)
        to_city = await open_tamper_alert(conn, person_id)
    assert await climb(pool, to_city, 4, "city") == ["district", "city", "city", "city"]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE alerts SET status = 'resolved' WHERE id = $1", to_city)
        to_province = await open_tamper_alert(conn, person_id)
    assert await climb(pool, to_province, 5, "province") == [
        "district", "city", "province", "province", "province"
    ]  # fmt: skip
    assert await escalations(pool, to_province) == [
        ("street", "district"), ("district", "city"), ("city", "province")
    ]  # fmt: skip


async def test_escalation_follows_the_chain_that_exists_and_never_passes_the_root(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        # Beijing: districts directly under a province-level city, no city office between
        _, district = await make_tree(conn, ["province", "district"])
        held_by_district = await make_person(conn, "strict", jurisdiction_id=district)
        from_district = await open_tamper_alert(conn, held_by_district)
        assert await conn.fetchval(
            "SELECT escalation_level FROM alerts WHERE id = $1", from_district
        ) == "district", "an alert starts at its own office's level"  # fmt: skip
        _, street = await make_tree(conn, ["city", "street"])
        held_by_street = await make_person(conn, "strict", jurisdiction_id=street)
        at_root = await open_tamper_alert(conn, held_by_street)
    assert await climb(pool, from_district, 2, "ministry") == ["province", "province"]
    assert await climb(pool, at_root, 2, "ministry") == ["city", "city"]  # the root: no further


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
