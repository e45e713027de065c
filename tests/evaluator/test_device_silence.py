"""Silence and separation per device, through the real evaluator and timers (injected `now`)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from alerts.timers import check_once
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person
from pings.batch import PingBatch
from simulators.fleet import offset
from tests.e2e.test_slice import CENTRE, square
from tests.stream_pings import PingRow, stream_ping

ping_ids = itertools.count(20_000_000)
AWAY = offset(*CENTRE, 2000.0, 0.0)  # 2 km north (outside the 1 km square: out_of_area too)
NEAR = offset(*CENTRE, 700.0, 0.0)


class Person:
    """A strict person with an ankle band and, if asked, a phone."""

    def __init__(self, pool: asyncpg.Pool, person_id: int, band: str) -> None:
        self.pool, self.id, self.band = pool, person_id, band
        self.phone = f"{band}-phone"
        self.evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))

    @classmethod
    async def make(cls, pool: asyncpg.Pool, band_interval_s: int = 60) -> Person:
        async with pool.acquire() as conn:
            city = await registry_store.insert_jurisdiction(
                conn, data=schemas.JurisdictionIn(name=f"s-{time.monotonic_ns()}", level="city")
            )
            fence = await registry_store.insert_fence(
                conn,
                data=schemas.FenceIn(name="f", role="allowed", geometry=square(*CENTRE, 500)),
            )
            band = f"band-{time.monotonic_ns()}"
            enrolled = await enrol_person(
                conn,
                case_number=f"S-{time.monotonic_ns()}",
                supervision_level="strict",
                allowed_fence_ids=[fence["id"]],
                jurisdiction_id=city.id,
                device_id=band,
                device_kind="ankle",
                expected_interval_s=band_interval_s,
            )
        return cls(pool, enrolled.person_id, band)

    async def add_phone(self) -> datetime:
        async with self.pool.acquire() as conn:
            return await registry_store.insert_device(
                conn,
                device_id=self.phone,
                data=schemas.DeviceIn(person_id=self.id, kind="phone"),
                token_hash=None,
            )

    async def enrolled_at(self, device_id: str) -> datetime:
        async with self.pool.acquire() as conn:
            created: datetime = await conn.fetchval(
                "SELECT created_at FROM devices WHERE id = $1", device_id
            )
        # to the millisecond, as fix times travel
        return created.replace(microsecond=created.microsecond // 1000 * 1000)

    def ping(
        self, device_id: str, at: datetime, where: tuple[float, float], accuracy_m: float = 10.0
    ) -> PingRow:
        return stream_ping(
            next(ping_ids),
            person_id=self.id,
            device_id=device_id,
            ts_ms=round(at.timestamp() * 1000),
            lat=where[0],
            lon=where[1],
            accuracy_m=accuracy_m,
        )

    async def report(self, *pings: PingRow) -> list[dict[str, Any]]:
        """Judge these pings; answers the events committed, oldest first."""
        event_ids = await self.evaluator.evaluate(PingBatch.of_rows(list(pings)))
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT type, payload FROM events WHERE id = ANY($1::bigint[]) ORDER BY id",
                event_ids,
            )
        return [{"type": r["type"], **r["payload"]} for r in rows]

    async def alerts(self, type: str) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                "SELECT id, rule_key, status, details FROM alerts WHERE person_id = $1 "
                "AND type = $2 ORDER BY id",
                self.id,
                type,
            )


async def test_a_band_that_never_reported_is_lost_after_its_own_threshold(
    pool: asyncpg.Pool,
) -> None:
    """Five missed reports of a band reporting every 5 min: 25 min, past the strict 5 min floor."""
    person = await Person.make(pool, band_interval_s=300)
    enrolled = await person.enrolled_at(person.band)
    await check_once(pool, now=enrolled + timedelta(seconds=1490))
    assert await person.alerts("signal_lost") == []
    first = await check_once(pool, now=enrolled + timedelta(seconds=1510))
    [alert] = await person.alerts("signal_lost")
    assert alert["rule_key"] == f"device:{person.band}"
    # the same round escalates it: created at the database's now, 25 min before the injected one
    assert alert["status"] in ("open", "escalated")
    details = alert["details"]
    assert details["device_id"] == person.band and details["device_kind"] == "ankle"
    assert details["last_fix_at"] is None and details["after_s"] == 1500.0
    async with pool.acquire() as conn:
        opened = await conn.fetchval(
            "SELECT count(*) FROM events WHERE id = ANY($1::bigint[]) AND alert_id = $2 "
            "AND type = 'alert.opened'",
            first,
            alert["id"],
        )
    assert opened == 1
    again = await check_once(pool, now=enrolled + timedelta(seconds=1600))
    async with pool.acquire() as conn:
        repeated = await conn.fetchval(
            "SELECT count(*) FROM events WHERE id = ANY($1::bigint[]) AND alert_id = $2",
            again,
            alert["id"],
        )
    assert repeated == 0 and len(await person.alerts("signal_lost")) == 1


async def test_a_band_silent_while_the_phone_reports_is_named_and_cleared_when_heard(
    pool: asyncpg.Pool,
) -> None:
    person = await Person.make(pool)
    await person.add_phone()
    t0 = await person.enrolled_at(person.phone)
    await person.report(person.ping(person.band, t0, CENTRE), person.ping(person.phone, t0, CENTRE))
    for minute in range(1, 11):  # the phone goes on reporting; the band is silent
        await person.report(person.ping(person.phone, t0 + timedelta(minutes=minute), CENTRE))
    await check_once(pool, now=t0 + timedelta(minutes=4, seconds=50))
    assert await person.alerts("signal_lost") == []  # 5 x 60 s is not over yet
    await check_once(pool, now=t0 + timedelta(minutes=10, seconds=30))
    [alert] = await person.alerts("signal_lost")
    assert alert["details"]["device_id"] == person.band
    assert alert["details"]["last_fix_at"] == t0.isoformat()
    back = t0 + timedelta(minutes=11)
    events = await person.report(person.ping(person.band, back, CENTRE))
    [updated] = [e for e in events if e["type"] == "alert.updated"]
    assert updated["alert"]["id"] == alert["id"]
    assert updated["alert"]["details"]["reconnected_at"] == back.isoformat()
    # heard again: a later round finds nothing silent, and re-flags nothing
    await check_once(pool, now=back + timedelta(minutes=2))
    async with pool.acquire() as conn:
        state = await conn.fetchval(
            "SELECT state FROM person_state WHERE person_id = $1", person.id
        )
    assert "signal_lost" not in state
    assert len(await person.alerts("signal_lost")) == 1


async def test_revoked_devices_and_persons_without_an_order_are_not_tracked(
    pool: asyncpg.Pool,
) -> None:
    revoked, unordered = await Person.make(pool), await Person.make(pool)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE devices SET revoked_at = now() WHERE id = $1", revoked.band)
        await conn.execute(
            "UPDATE monitoring_orders SET revoked_at = now() WHERE person_id = $1", unordered.id
        )
    later = await revoked.enrolled_at(revoked.band) + timedelta(hours=1)
    await check_once(pool, now=later)
    assert await revoked.alerts("signal_lost") == []
    assert await unordered.alerts("signal_lost") == []


async def test_band_and_phone_apart_alert_and_clear_when_together_again(
    pool: asyncpg.Pool,
) -> None:
    person = await Person.make(pool)
    t0 = await person.enrolled_at(person.band)
    await person.report(
        person.ping(person.band, t0, CENTRE)
    )  # the band alone: cached without a phone
    await person.add_phone()  # moves the person's revision: the evaluator learns of the phone
    at = [t0 + timedelta(seconds=30 * i) for i in range(8)]
    await person.report(person.ping(person.phone, at[1], CENTRE))
    for t in at[2:5]:  # the band walks off with the person, the phone stays home
        await person.report(person.ping(person.phone, t, CENTRE))
        await person.report(person.ping(person.band, t + timedelta(seconds=5), AWAY))
    [alert] = await person.alerts("device_separation")
    assert (
        alert["status"] == "open"
        and alert["rule_key"] == f"separation:{person.band}|{person.phone}"
    )
    details = alert["details"]
    assert details["device_id"] == person.band and details["phone_id"] == person.phone
    assert 1900 < details["distance_m"] < 2100
    for t in at[5:7]:  # still apart: the one alert, not another
        await person.report(person.ping(person.band, t, AWAY), person.ping(person.phone, t, CENTRE))
    events = await person.report(
        person.ping(person.band, at[7], CENTRE), person.ping(person.phone, at[7], CENTRE)
    )
    [updated] = [
        e
        for e in events
        if e["type"] == "alert.updated" and e["alert"]["type"] == "device_separation"
    ]
    assert updated["alert"]["details"]["rejoined_at"] == at[7].isoformat()
    assert len(await person.alerts("device_separation")) == 1


async def test_no_separation_when_the_gap_is_within_the_accuracies(pool: asyncpg.Pool) -> None:
    """700 m apart with 150 m accuracy each: they may be 400 m apart, under the 500 m rule."""
    person = await Person.make(pool)
    await person.add_phone()
    t0 = await person.enrolled_at(person.phone)
    for i in range(10):
        t = t0 + timedelta(seconds=30 * i)
        await person.report(
            person.ping(person.phone, t, CENTRE, 150.0), person.ping(person.band, t, NEAR, 150.0)
        )
    assert await person.alerts("device_separation") == []
