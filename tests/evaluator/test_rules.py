"""Per-person rules through the real evaluator and timers: zones, curfew, permits, suspensions."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from alerts import timer_store
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor.registry import schemas
from monitor.registry import store as registry_store
from pings.batch import PingBatch
from simulators.fleet import offset
from tests.e2e.test_slice import CENTRE, square
from tests.stream_pings import PingRow

# 23:00 in Shanghai on a Monday: inside a 22:00-06:00 curfew
NIGHT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
ZONE_AT = offset(*CENTRE, 200.0, 200.0)  # an exclusion zone inside the allowed square
HOME_AT = offset(*CENTRE, -200.0, -200.0)
FAR_OUT = offset(*CENTRE, 3000.0, 0.0)  # 2.5 km beyond the allowed square
ping_ids = itertools.count(10_000_000)


class Person:
    def __init__(self, pool: asyncpg.Pool, person_id: int, zone_id: int, home_id: int) -> None:
        self.pool, self.id, self.zone_id, self.home_id = pool, person_id, zone_id, home_id
        self.evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))

    async def at(self, where: tuple[float, float], start: datetime, n: int = 8) -> None:
        """n certain fixes 15 s apart: by default 105 s, past any strict dwell near an edge."""
        base = int(start.timestamp() * 1000)
        await self.evaluator.evaluate(
            PingBatch.of_rows([self.ping(where, base + i * 15_000) for i in range(n)])
        )

    def ping(
        self,
        where: tuple[float, float],
        ts_ms: int,
        tamper: bool = False,
        battery_pct: float | None = None,
    ) -> PingRow:
        return PingRow(
            id=next(ping_ids), person_id=self.id, device_id="band-1", ts_ms=ts_ms, lat=where[0],
            lon=where[1], accuracy_m=10.0, checkin=False, tamper=tamper, battery_pct=battery_pct,
        )  # fmt: skip

    async def reports(self, start: datetime, **flags: Any) -> None:
        """One report a minute from the same place, each with the given device flags."""
        base = int(start.timestamp() * 1000)
        values = list(zip(*flags.values(), strict=True))
        rows = [
            self.ping(CENTRE, base + i * 60_000, **dict(zip(flags, v, strict=True)))
            for i, v in enumerate(values)
        ]
        await self.evaluator.evaluate(PingBatch.of_rows(rows))

    async def rule(self, kind: str, params: dict[str, Any]) -> int:
        async with self.pool.acquire() as conn:
            rule_id: int = await conn.fetchval(
                "INSERT INTO person_rules (person_id, kind, params) VALUES ($1, $2, $3) "
                "RETURNING id",
                self.id,
                kind,
                params,
            )
        return rule_id

    async def permit(self, starts: datetime, ends: datetime, grace_s: int = 600) -> int:
        async with self.pool.acquire() as conn:
            permit_id: int = await conn.fetchval(
                "INSERT INTO leave_permits (person_id, starts_at, ends_at, grace_s) "
                "VALUES ($1, $2, $3, $4) RETURNING id",
                self.id,
                starts,
                ends,
                grace_s,
            )
        return permit_id

    async def alerts(self) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                "SELECT type, rule_key, late, details FROM alerts WHERE person_id = $1 ORDER BY id",
                self.id,
            )


@pytest.fixture
async def person(pool: asyncpg.Pool) -> Person:
    """A strict person allowed a 1 km square, barred from a 100 m square inside it."""
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"rules-{time.monotonic_ns()}", level="city")
        )
        ids = {}
        fences: list[tuple[str, schemas.FenceRole, dict[str, Any]]] = [
            ("area", "allowed", square(*CENTRE, 500)),
            ("zone", "exclusion", square(*ZONE_AT, 50)),
            ("home", "allowed", square(*HOME_AT, 50)),
        ]
        for name, role, geometry in fences:
            fence = await registry_store.insert_fence(
                conn, data=schemas.FenceIn(name=name, role=role, geometry=geometry)
            )
            ids[name] = fence["id"]
        person_id = await registry_store.insert_person(
            conn,
            data=schemas.PersonIn(
                case_number=f"rules-{time.monotonic_ns()}",
                supervision_level="strict",
                allowed_fence_ids=[ids["area"]],
                exclusion_fence_ids=[ids["zone"]],
            ),
            jurisdiction_id=city.id,
        )
    return Person(pool, person_id, ids["zone"], ids["home"])


async def test_entering_an_exclusion_zone_alerts_and_leaving_is_recorded(person: Person) -> None:
    await person.at(CENTRE, NOON)
    assert await person.alerts() == []
    await person.at(ZONE_AT, NOON + timedelta(minutes=5))
    [alert] = await person.alerts()
    assert (alert["type"], alert["rule_key"]) == ("exclusion_zone", f"zone:{person.zone_id}")
    assert "left_at" not in alert["details"]
    await person.at(CENTRE, NOON + timedelta(minutes=10))
    [alert] = await person.alerts()
    assert alert["details"]["left_at"] == (NOON + timedelta(minutes=10, seconds=15)).isoformat()


async def test_one_fix_in_the_zone_is_not_enough(person: Person) -> None:
    await person.at(ZONE_AT, NOON, n=1)
    await person.at(CENTRE, NOON + timedelta(seconds=30))
    assert await person.alerts() == []


async def test_curfew_alerts_only_during_its_window(person: Person) -> None:
    await person.rule("curfew", {"fence_id": person.home_id, "start": "22:00", "end": "06:00"})
    await person.at(CENTRE, NOON)  # away from home at noon: allowed
    assert await person.alerts() == []
    await person.at(CENTRE, NIGHT)  # away from home at 23:00 local
    [alert] = await person.alerts()
    assert alert["type"] == "curfew"
    assert alert["details"]["window_start"] == "2026-11-30T14:00:00+00:00"  # 22:00 +08:00
    await person.at(HOME_AT, NIGHT + timedelta(minutes=5))
    [alert] = await person.alerts()
    assert "home_at" in alert["details"]


async def test_curfew_at_home_is_quiet(person: Person) -> None:
    await person.rule("curfew", {"fence_id": person.home_id, "start": "22:00", "end": "06:00"})
    await person.at(HOME_AT, NIGHT, n=6)
    assert await person.alerts() == []


async def test_leave_permit_suspends_out_of_area_then_overdue_return(
    pool: asyncpg.Pool, person: Person
) -> None:
    ends = NOON + timedelta(hours=2)
    permit_id = await person.permit(NOON - timedelta(hours=1), ends, grace_s=600)
    await person.at(FAR_OUT, NOON)
    assert await person.alerts() == [], "away with leave: no out_of_area"
    async with pool.acquire() as conn:
        await timer_store.open_overdue_returns(conn, now=ends + timedelta(seconds=599))
        assert await person.alerts() == [], "still within the grace period"
        await timer_store.open_overdue_returns(conn, now=ends + timedelta(seconds=601))
    [alert] = await person.alerts()
    assert (alert["type"], alert["rule_key"]) == ("overdue_return", f"permit:{permit_id}")
    await person.at(CENTRE, ends + timedelta(minutes=30))
    [alert] = await person.alerts()
    assert alert["details"]["returned_at"] == (ends + timedelta(minutes=30, seconds=15)).isoformat()
    async with pool.acquire() as conn:
        closed = await conn.fetchval("SELECT closed_at FROM leave_permits WHERE id = $1", permit_id)
    assert closed is not None


async def test_permit_closes_quietly_when_the_person_never_left(
    pool: asyncpg.Pool, person: Person
) -> None:
    ends = NOON + timedelta(hours=2)
    permit_id = await person.permit(NOON - timedelta(hours=1), ends)
    await person.at(CENTRE, NOON)
    async with pool.acquire() as conn:
        await timer_store.open_overdue_returns(conn, now=ends + timedelta(hours=1))
        closed = await conn.fetchval("SELECT closed_at FROM leave_permits WHERE id = $1", permit_id)
    assert closed is not None
    assert await person.alerts() == []


async def test_leaving_after_the_permit_ended_is_out_of_area(person: Person) -> None:
    await person.permit(NOON - timedelta(hours=3), NOON - timedelta(hours=1))
    await person.at(FAR_OUT, NOON)
    assert [a["type"] for a in await person.alerts()] == ["out_of_area"]


async def test_suspension_window_mutes_only_its_types(person: Person) -> None:
    await person.rule(
        "suspension",
        {
            "starts_at": (NOON - timedelta(hours=1)).isoformat(),
            "ends_at": (NOON + timedelta(hours=1)).isoformat(),
            "types": ["out_of_area"],
        },
    )
    await person.at(FAR_OUT, NOON)
    assert await person.alerts() == []
    await person.at(CENTRE, NOON + timedelta(minutes=5))
    await person.at(ZONE_AT, NOON + timedelta(minutes=10))
    assert [a["type"] for a in await person.alerts()] == ["exclusion_zone"]


async def test_own_thresholds_override_the_level(person: Person) -> None:
    await person.rule("thresholds", {"exit_pings": 5, "exit_min_s": 60})
    await person.at(FAR_OUT, NOON, n=4)  # strict would alert on the 3rd far fix
    assert await person.alerts() == []
    await person.at(FAR_OUT, NOON + timedelta(minutes=1), n=1)
    assert [a["type"] for a in await person.alerts()] == ["out_of_area"]


async def test_tamper_alerts_once_per_episode_and_records_the_refit(person: Person) -> None:
    await person.reports(NOON, tamper=[False, True, True])
    await person.reports(NOON + timedelta(minutes=3), tamper=[True, True])
    [alert] = await person.alerts()
    assert (alert["type"], alert["rule_key"]) == ("tamper", "device:band-1")
    assert alert["details"]["flagged_at"] == (NOON + timedelta(minutes=1)).isoformat()
    await person.reports(NOON + timedelta(minutes=10), tamper=[False])
    [alert] = await person.alerts()
    assert alert["details"]["cleared_at"] == (NOON + timedelta(minutes=10)).isoformat()


async def test_low_battery_has_hysteresis(person: Person) -> None:
    await person.reports(NOON, battery_pct=[40.0, 14.0, 16.0, 13.0, 20.0])
    [alert] = await person.alerts()
    assert alert["type"] == "low_battery" and alert["details"]["battery_pct"] == 14.0
    assert "charged_at" not in alert["details"]
    await person.reports(NOON + timedelta(minutes=10), battery_pct=[80.0])
    [alert] = await person.alerts()
    assert "charged_at" in alert["details"]


async def test_a_late_report_does_not_rearm_device_flags(person: Person) -> None:
    await person.reports(NOON, tamper=[True])
    await person.reports(NOON - timedelta(minutes=5), tamper=[False])  # buffered, older
    await person.reports(NOON + timedelta(minutes=1), tamper=[True])
    [alert] = await person.alerts()
    assert "cleared_at" not in alert["details"]


async def test_late_fixes_prove_a_past_excursion_as_its_own_late_alert(person: Person) -> None:
    """A band buffered a trip while offline; newer fixes from home arrived first."""
    await person.at(CENTRE, NOON)
    await person.at(CENTRE, NOON + timedelta(minutes=20))
    await person.at(FAR_OUT, NOON + timedelta(minutes=5), n=4)  # uploaded late
    [alert] = await person.alerts()
    assert alert["type"] == "out_of_area" and alert["late"] is True
    assert alert["rule_key"].startswith("allowed_area@"), "not the live excursion's alert"
    async with person.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT state->'area'->>'status' FROM person_state WHERE person_id = $1", person.id
        )
    assert status == "inside", "a late fix never moves the current status"
    await person.at(FAR_OUT, NOON + timedelta(minutes=30))
    live = [a for a in await person.alerts() if not a["late"]]
    assert [a["rule_key"] for a in live] == ["allowed_area"]


async def test_many_exclusion_zones_go_through_one_zone_index(pool: asyncpg.Pool) -> None:
    """Twenty school zones (a ZoneIndex, not twenty FenceIndexes): the right one alerts."""
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"zones-{time.monotonic_ns()}", level="city")
        )
        area = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="area", role="allowed", geometry=square(*CENTRE, 900))
        )
        spots = [offset(*CENTRE, 150.0 * (i // 5) - 300, 150.0 * (i % 5) - 300) for i in range(20)]
        zones = [
            (
                await registry_store.insert_fence(
                    conn,
                    data=schemas.FenceIn(
                        name=f"school {i}", role="exclusion", geometry=square(*spot, 40)
                    ),
                )
            )["id"]
            for i, spot in enumerate(spots)
        ]
        person_id = await registry_store.insert_person(
            conn,
            data=schemas.PersonIn(
                case_number=f"zones-{time.monotonic_ns()}",
                supervision_level="strict",
                allowed_fence_ids=[area["id"]],
                exclusion_fence_ids=zones,
            ),
            jurisdiction_id=city.id,
        )
    person = Person(pool, person_id, zones[7], 0)
    await person.at(offset(*CENTRE, 700.0, 700.0), NOON)  # clear of every zone
    assert await person.alerts() == []
    await person.at(spots[7], NOON + timedelta(minutes=5))
    await person.at(offset(*CENTRE, 700.0, 700.0), NOON + timedelta(minutes=10))
    [alert] = await person.alerts()
    assert (alert["type"], alert["rule_key"]) == ("exclusion_zone", f"zone:{zones[7]}")
    assert "left_at" in alert["details"]


async def test_late_fixes_in_a_zone_that_kept_no_state_are_judged_late(person: Person) -> None:
    """A buffered upload from inside a school zone, after newer fixes from elsewhere: the zone
    alert is raised marked late, and the zone's current status stays clear."""
    await person.at(CENTRE, NOON)
    await person.at(CENTRE, NOON + timedelta(minutes=20))
    await person.at(ZONE_AT, NOON + timedelta(minutes=5))  # uploaded late
    [alert] = await person.alerts()
    assert (alert["type"], alert["late"]) == ("exclusion_zone", True)
    async with person.pool.acquire() as conn:
        zone = await conn.fetchval(
            "SELECT state->'zones'->$2->>'status' FROM person_state WHERE person_id = $1",
            person.id,
            str(person.zone_id),
        )
    assert zone == "inside", "clear of the zone now: the late fixes never move that"
