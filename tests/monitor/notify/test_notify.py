"""The notifier against the real PostgreSQL and a real HTTP receiver: signed deliveries to
the office at the alert's rung with who is on duty there, retries with receipts, giving up,
escalation to the next rung's channel, and no delivery lost or repeated across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import httpx
import pytest

from alerts import outbox, timers
from alerts.models import EventType
from alerts.outbox import alert_event
from monitor.auth import store as auth_store
from monitor.auth.models import Role
from monitor.notify import dispatch_store, engine, schemas, signing
from monitor.notify import store as notify_store
from monitor.registry import schemas as registry_schemas
from monitor.registry import store as registry_store
from pings.pg import Conn
from tests.notify_receiver import Receiver, receiving

Level = Literal["city", "district", "street"]
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)  # where the tests' receivers listen
CONFIG = engine.NotifyConfig(
    timeout_s=2.0, max_attempts=3, backoff_first_s=10.0, allowed_networks=LOOPBACK
)


@dataclass(frozen=True)
class Offices:
    city: int
    district: int
    street: int
    street_officer: int
    district_officer: int
    person: int


async def office(conn: Conn, name: str, level: Level, parent: int | None) -> int:
    made = await registry_store.insert_jurisdiction(
        conn, data=registry_schemas.JurisdictionIn(name=name, level=level, parent_id=parent)
    )
    return made.id


async def officer(conn: Conn, jurisdiction_id: int, name: str) -> int:
    return await auth_store.insert_officer(
        conn, username=f"{name}-{secrets.token_hex(4)}", password_hash="x",
        display_name=name, role=Role.OFFICER, jurisdiction_id=jurisdiction_id,
    )  # fmt: skip


@pytest.fixture
async def offices(pool: asyncpg.Pool) -> Offices:
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        city = await office(conn, f"city-{suffix}", "city", None)
        district = await office(conn, f"district-{suffix}", "district", city)
        street = await office(conn, f"street-{suffix}", "street", district)
        person = await conn.fetchval(
            "INSERT INTO persons (case_number, supervision_level, jurisdiction_id) "
            "VALUES ($1, 'normal', $2) RETURNING id",
            f"N-{suffix}",
            street,
        )
        return Offices(
            city, district, street, await officer(conn, street, "Li Street"),
            await officer(conn, district, "Wang District"), person,
        )  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as made:
        yield made


async def channel(
    pool: asyncpg.Pool, jurisdiction_id: int, url: str, events: list[str] | None = None
) -> tuple[int, str]:
    data = schemas.ChannelIn(name="duty sms gateway", url=url,
                             events=events or ["opened", "escalated"])  # type: ignore[arg-type]  # fmt: skip
    secret = f"whsec_{secrets.token_hex(8)}"
    async with pool.acquire() as conn:
        made = await notify_store.insert_channel(
            conn, jurisdiction_id=jurisdiction_id, data=data, secret=secret, created_by=None
        )
    return made.id, secret


async def open_alert(
    pool: asyncpg.Pool, person_id: int, rule_key: str = "", alert_type: str = "out_of_area"
) -> int:
    """An open alert and its alert.opened event, written as the evaluator writes them."""
    async with pool.acquire() as conn, conn.transaction():
        alert_id: int = await conn.fetchval(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, rule_key, status, opened_at, "
            "last_evidence_at) SELECT id, jurisdiction_id, $3, $2, 'open', now(), now() "
            "FROM persons WHERE id = $1 RETURNING id",
            person_id,
            rule_key,
            alert_type,
        )
        event = await alert_event(conn, alert_id, EventType.ALERT_OPENED, {})
        await outbox.append_events(conn, events=[event])
    return alert_id


async def deliveries(pool: asyncpg.Pool, channel_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT d.*, (SELECT count(*) FROM notification_attempts a WHERE a.delivery_id = d.id)"
            " AS receipts FROM notification_deliveries d WHERE channel_id = $1 ORDER BY id",
            channel_id,
        )


async def db_now(pool: asyncpg.Pool) -> datetime:
    async with pool.acquire() as conn:
        now: datetime = await conn.fetchval("SELECT now()")
    return now


async def dispatch(pool: asyncpg.Pool, config: engine.NotifyConfig = CONFIG) -> None:
    """Rounds until the cursor has caught up (the session's other tests write events too)."""
    while await engine.dispatch_once(pool, config, limit=50) == 50:
        pass


async def send(
    pool: asyncpg.Pool, now: datetime | None = None, config: engine.NotifyConfig = CONFIG
) -> int:
    """Rounds until fewer than a batch was due; the number attempted."""
    attempted = 0
    async with httpx.AsyncClient() as client:
        while True:
            claimed = await engine.send_once(pool, client, config, now=now)
            attempted += claimed
            if claimed < config.batch:
                return attempted


async def test_a_signed_delivery_reaches_the_rung_office_naming_who_is_on_duty(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, secret = await channel(pool, offices.street, receiver.url("/street"))
    district_channel, _ = await channel(pool, offices.district, receiver.url("/district"))
    now = await db_now(pool)
    async with pool.acquire() as conn:
        covering = await shift(conn, offices, now - timedelta(hours=1), now + timedelta(hours=7))
        await shift(conn, offices, now - timedelta(hours=9), now - timedelta(hours=1))  # over
        await shift(conn, offices, now + timedelta(hours=7), now + timedelta(hours=15))  # later
        cancelled = await shift(conn, offices, now - timedelta(hours=1), now + timedelta(hours=1))
        await notify_store.cancel_shift(conn, shift_id=cancelled, officer_id=offices.street_officer)
    alert_id = await open_alert(pool, offices.person)
    await dispatch(pool)
    assert await send(pool) >= 1

    [got] = receiver.at("/street")
    assert receiver.at("/district") == []  # opened at the street rung: not the district's news
    assert got.headers["x-monitor-event"] == "alert.opened"
    stamp, signature = got.headers["x-monitor-timestamp"], got.headers["x-monitor-signature"]
    assert signing.is_valid(secret, signature=signature, timestamp=stamp, body=got.body,
                            now_s=time.time())  # fmt: skip
    assert not signing.is_valid("whsec_another", signature=signature, timestamp=stamp,
                                body=got.body, now_s=time.time())  # fmt: skip
    late = time.time() + 3600  # a replay an hour on
    assert not signing.is_valid(secret, signature=signature, timestamp=stamp,
                                body=got.body, now_s=late)  # fmt: skip
    body = got.json
    assert body["alert"]["id"] == alert_id and body["person"]["case_number"].startswith("N-")
    assert body["office"] == {
        "id": offices.street,
        "name": body["office"]["name"],
        "level": "street",
    }
    assert [d["shift_id"] for d in body["on_duty"]] == [covering]
    assert body["on_duty"][0]["display_name"] == "Li Street" and not body["nobody_on_duty"]
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"], row["receipts"]) == ("delivered", 1, 1)
    assert got.headers["x-monitor-delivery"] == str(row["id"]) == str(body["delivery_id"])
    assert await deliveries(pool, district_channel) == []


async def shift(conn: Conn, offices: Offices, starts: datetime, ends: datetime) -> int:
    data = schemas.ShiftIn(officer_id=offices.street_officer, starts_at=starts, ends_at=ends,
                           contact="+86 755 0000 0000")  # fmt: skip
    made = await notify_store.insert_shift(
        conn, jurisdiction_id=offices.street, data=data, created_by=offices.street_officer
    )
    return made.id


async def test_a_failed_attempt_is_retried_after_backoff_and_each_attempt_kept(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/flaky"))
    receiver.statuses["/flaky"] = [500, 200]
    await open_alert(pool, offices.person)
    await dispatch(pool)
    await send(pool)
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"], row["receipts"]) == ("pending", 1, 1)
    now = await db_now(pool)
    assert now + timedelta(seconds=9) < row["next_attempt_at"] < now + timedelta(seconds=14)
    await send(pool)  # not due yet: the backoff holds it
    assert len(receiver.at("/flaky")) == 1

    await send(pool, now=now + timedelta(seconds=15))
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"], row["receipts"]) == ("delivered", 2, 2)
    first, second = receiver.at("/flaky")
    assert first.headers["x-monitor-delivery"] == second.headers["x-monitor-delivery"]
    assert first.body == second.body
    async with pool.acquire() as conn:
        receipts = await notify_store.get_delivery(conn, delivery_id=row["id"])
    assert [(r.status_code, r.error) for r in receipts.receipts] == [(500, "HTTP 500"), (200, "")]


async def test_a_delivery_is_given_up_after_the_bound(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/down"))
    receiver.statuses["/down"] = [503]
    await open_alert(pool, offices.person)
    await dispatch(pool)
    now = await db_now(pool)
    for hours in range(5):  # more rounds than attempts: the bound holds
        await send(pool, now=now + timedelta(hours=hours))
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"], row["receipts"]) == ("failed", 3, 3)
    assert len(receiver.at("/down")) == CONFIG.max_attempts


async def test_a_webhook_into_the_services_own_network_waits_until_the_operator_allows_it(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/inside"))
    await open_alert(pool, offices.person)
    await dispatch(pool)
    now = await db_now(pool)
    await send(pool, now=now, config=dataclasses.replace(CONFIG, allowed_networks=()))
    assert receiver.at("/inside") == []  # nothing left the service
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"]) == ("pending", 1)  # a failed attempt, retried
    async with pool.acquire() as conn:
        [receipt] = (await notify_store.get_delivery(conn, delivery_id=row["id"])).receipts
    assert receipt.status_code is None
    assert receipt.error.startswith("refused: 127.0.0.1 is not a public address")

    await send(pool, now=now + timedelta(seconds=15))  # MONITOR_WEBHOOK_ALLOWED_NETWORKS set
    assert len(receiver.at("/inside")) == 1
    [row] = await deliveries(pool, street_channel)
    assert (row["status"], row["attempts"]) == ("delivered", 2)


async def test_a_named_receiver_is_posted_to_the_address_checked_with_its_own_host(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    named = receiver.url("/named").replace("127.0.0.1", "localhost")
    street_channel, _ = await channel(pool, offices.street, named)
    await open_alert(pool, offices.person)
    await dispatch(pool)
    await send(pool)
    [got] = receiver.at("/named")
    assert got.headers["host"] == httpx.URL(named).netloc.decode()  # "localhost:<port>"
    [row] = await deliveries(pool, street_channel)
    assert row["status"] == "delivered"


async def resolve(pool: asyncpg.Pool, alert_id: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = $1", alert_id
        )


async def set_enabled(pool: asyncpg.Pool, channel_id: int, enabled: bool) -> None:
    async with pool.acquire() as conn:
        await notify_store.update_channel(
            conn, channel_id=channel_id, patch=schemas.ChannelPatch(enabled=enabled)
        )


async def test_news_of_an_alert_resolved_before_it_was_sent_is_not_sent(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/late"),
                                      events=["opened", "escalated", "resolved"])  # fmt: skip
    receiver.statuses["/late"] = [503]
    alert_id = await open_alert(pool, offices.person)
    await dispatch(pool)
    now = await db_now(pool)
    await send(pool, now=now)  # refused once: pending, retried later
    await resolve(pool, alert_id)
    async with pool.acquire() as conn, conn.transaction():
        event = await alert_event(conn, alert_id, EventType.ALERT_RESOLVED, {})
        await outbox.append_events(conn, events=[event])
    await dispatch(pool)
    receiver.statuses["/late"] = [200]
    await send(pool, now=now + timedelta(hours=1))
    opened, closed = await deliveries(pool, street_channel)
    assert (opened["event_type"], opened["status"], opened["attempts"]) == (
        "alert.opened",
        "superseded",
        1,
    )
    assert (closed["event_type"], closed["status"]) == ("alert.resolved", "delivered")
    assert [r.headers["x-monitor-event"] for r in receiver.at("/late")] == [
        "alert.opened",  # the refused first attempt
        "alert.resolved",
    ]


async def test_a_disabled_channel_is_sent_on_enabling_only_what_is_still_news(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/held"))
    still_open = await open_alert(pool, offices.person, rule_key="a")
    closed = await open_alert(pool, offices.person, rule_key="b")
    await dispatch(pool)
    await set_enabled(pool, street_channel, False)  # e.g. while its gateway is replaced
    await send(pool)
    assert receiver.at("/held") == []  # held while disabled
    await resolve(pool, closed)
    await set_enabled(pool, street_channel, True)
    await send(pool)
    [sent] = receiver.at("/held")
    assert sent.json["alert"]["id"] == still_open
    statuses = {r["alert_id"]: r["status"] for r in await deliveries(pool, street_channel)}
    assert statuses == {still_open: "delivered", closed: "superseded"}


async def test_escalation_notifies_the_next_rung_and_not_the_first_again(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/s"))
    district_channel, _ = await channel(pool, offices.district, receiver.url("/d"))
    alert_id = await open_alert(pool, offices.person)
    await dispatch(pool)
    await send(pool)
    assert len(receiver.at("/s")) == 1 and receiver.at("/d") == []

    # normal supervision: 15 minutes unacknowledged at the street, then the district's
    now = await db_now(pool)
    await timers.check_once(pool, now=now + timedelta(minutes=20))
    await dispatch(pool)
    await send(pool)
    [escalated] = receiver.at("/d")
    assert escalated.headers["x-monitor-event"] == "alert.escalated"
    body = escalated.json
    assert body["alert"]["id"] == alert_id and body["alert"]["escalation_level"] == "district"
    assert body["office"]["id"] == offices.district
    assert body["on_duty"] == [] and body["nobody_on_duty"]  # nobody rostered there: said so
    assert len(receiver.at("/s")) == 1
    assert len(await deliveries(pool, street_channel)) == 1
    async with pool.acquire() as conn:
        listed = await notify_store.alert_deliveries(conn, alert_id=alert_id)
    assert [(d.channel_id, d.event_type) for d in listed] == [
        (street_channel, "alert.opened"),
        (district_channel, "alert.escalated"),
    ]


async def test_concurrent_and_restarted_dispatchers_make_each_delivery_once(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    street_channel, _ = await channel(pool, offices.street, receiver.url("/once"))
    for fence in ("1", "2", "3"):
        await open_alert(pool, offices.person, rule_key=fence)
    # two processes' dispatchers at once, then a fresh one after a restart
    await asyncio.gather(dispatch(pool), dispatch(pool))
    await dispatch(pool, engine.NotifyConfig())
    rows = await deliveries(pool, street_channel)
    assert len(rows) == 3 and len({r["event_id"] for r in rows}) == 3

    # a sender that dies after claiming: the lease runs out and another sends them
    now = await db_now(pool)
    async with pool.acquire() as conn:
        claimed = await dispatch_store.claim(conn, now=now, limit=100, lease_s=60)
    assert {r["id"] for r in rows} <= {r["id"] for r in claimed}
    await send(pool)
    assert receiver.at("/once") == []  # leased to the dead sender
    await send(pool, now=now + timedelta(seconds=61))
    rows = await deliveries(pool, street_channel)
    assert [r["status"] for r in rows] == ["delivered"] * 3
    assert len(receiver.at("/once")) == 3


async def test_an_alert_of_a_person_registered_at_a_district_reaches_the_district_once(
    pool: asyncpg.Pool, offices: Offices, receiver: Receiver
) -> None:
    """Opened at the street rung, which no office of theirs is: their own office hears it, and
    the escalation to the district rung is no news to it; the city's is."""
    district_channel, _ = await channel(pool, offices.district, receiver.url("/own"))
    city_channel, _ = await channel(pool, offices.city, receiver.url("/city"))
    async with pool.acquire() as conn:
        person = await conn.fetchval(
            "INSERT INTO persons (case_number, supervision_level, jurisdiction_id) "
            "VALUES ($1, 'strict', $2) RETURNING id", f"DP-{secrets.token_hex(4)}",
            offices.district,
        )  # fmt: skip
    await open_alert(pool, person)
    await dispatch(pool)
    now = await db_now(pool)
    await timers.check_once(pool, now=now + timedelta(minutes=6))  # strict: 5 min a rung
    await dispatch(pool)
    await timers.check_once(pool, now=now + timedelta(minutes=12))
    await dispatch(pool)
    await send(pool)
    assert [r.headers["x-monitor-event"] for r in receiver.at("/own")] == ["alert.opened"]
    assert [r.headers["x-monitor-event"] for r in receiver.at("/city")] == ["alert.escalated"]
    assert len(await deliveries(pool, district_channel)) == 1
    assert len(await deliveries(pool, city_channel)) == 1
