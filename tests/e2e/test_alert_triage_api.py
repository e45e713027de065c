"""The officer's alert list for triage: filters, orders, the history of resolved alerts, what a
row shows beside the alert, and that no filter reaches past the officer's jurisdiction."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from pings.pg import Conn
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_registry import account, bearer, district, fence

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

INSERT_ALERT = """
INSERT INTO alerts (person_id, jurisdiction_id, type, rule_key, status, escalation_level,
                    opened_at, last_evidence_at, details)
SELECT $1, jurisdiction_id, $2, $3, $4, $5, $6, $6, $7 FROM persons WHERE id = $1
RETURNING id
"""


async def person(
    client: httpx.AsyncClient, admin: Officer, jurisdiction_id: int, name: str = ""
) -> int:
    made = await client.post(
        "/v1/persons",
        headers=bearer(admin.token),
        json={
            "case_number": f"TR-{time.monotonic_ns()}",
            "full_name": name,
            "supervision_level": "strict",
            "allowed_fence_ids": [await fence(client, bearer(admin.token))],
            "jurisdiction_id": jurisdiction_id,
        },
    )
    assert made.status_code == 201, made.text
    person_id: int = made.json()["id"]
    return person_id


async def alert(
    conn: Conn,
    person_id: int,
    type: str,
    *,
    minutes: int,
    status: str = "open",
    rung: str = "street",
    details: dict[str, Any] | None = None,
) -> int:
    """An alert as the evaluator leaves it, opened `minutes` after T0."""
    at = T0 + timedelta(minutes=minutes)
    rule = f"r{time.monotonic_ns()}"
    alert_id: int = await conn.fetchval(
        INSERT_ALERT, person_id, type, rule, status, rung, at, details or {}
    )
    return alert_id


def ids(reply: httpx.Response) -> list[int]:
    assert reply.status_code == 200, reply.text
    return [row["id"] for row in reply.json()]


@pytest.fixture
async def city(live: Live, officer: Officer, pool: asyncpg.Pool) -> dict[str, Any]:
    """Two districts; north has five alerts of one person, south one."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        zhang = await person(client, officer, north, "Zhang San")
        li = await person(client, officer, south)
        north_officer = await account(client, officer, north, "officer")
    async with pool.acquire() as conn:
        made = {
            "away": await alert(
                conn,
                zhang,
                "out_of_area",
                minutes=10,
                rung="district",
                details={"returned_at": (T0 + timedelta(minutes=40)).isoformat()},
            ),
            "battery": await alert(conn, zhang, "low_battery", minutes=0),
            "checkin": await alert(
                conn, zhang, "missed_checkin", minutes=20, status="acknowledged"
            ),
            "zone": await alert(conn, zhang, "exclusion_zone", minutes=30),
            "lost": await alert(
                conn, zhang, "signal_lost", minutes=5, status="escalated", rung="city"
            ),
            "elsewhere": await alert(conn, li, "out_of_area", minutes=15),
        }
        await conn.execute(
            "INSERT INTO person_state (person_id, state, last_ts) VALUES ($1, '{}', $2)",
            zhang,
            T0 + timedelta(minutes=45),
        )
    return {
        "north": north,
        "south": south,
        "zhang": zhang,
        "li": li,
        "officer": north_officer,
        **made,
    }


async def test_filters_by_type_status_person_and_time_range(
    live: Live, city: dict[str, Any]
) -> None:
    c = city
    async with httpx.AsyncClient(base_url=live.base_url, headers=c["officer"]) as client:

        async def listed(**params: Any) -> list[int]:
            return ids(await client.get("/v1/alerts", params={"sort": "oldest", **params}))

        assert await listed(type=["out_of_area", "exclusion_zone"]) == [c["away"], c["zone"]]
        assert await listed(status="acknowledged") == [c["checkin"]]
        assert await listed(status=["open", "escalated"]) == [
            c["battery"], c["lost"], c["away"], c["zone"]
        ]  # fmt: skip
        assert await listed(
            opened_from=(T0 + timedelta(minutes=5)).isoformat(),
            opened_to=(T0 + timedelta(minutes=30)).isoformat(),  # the end is not included
        ) == [c["lost"], c["away"], c["checkin"]]
        assert await listed(person_id=c["zhang"], type="tamper") == []


async def test_sorts_newest_oldest_and_by_severity(live: Live, city: dict[str, Any]) -> None:
    c = city
    async with httpx.AsyncClient(base_url=live.base_url, headers=c["officer"]) as client:
        oldest = [c["battery"], c["lost"], c["away"], c["checkin"], c["zone"]]
        assert ids(await client.get("/v1/alerts", params={"sort": "oldest"})) == oldest
        assert ids(await client.get("/v1/alerts")) == oldest[::-1], "newest is the default"
        # urgency of the type, then the rung reached, then the longest waiting
        severity = [c["away"], c["zone"], c["lost"], c["checkin"], c["battery"]]
        assert ids(await client.get("/v1/alerts", params={"sort": "severity"})) == severity
        page = await client.get("/v1/alerts", params={"sort": "severity", "limit": 2, "offset": 1})
        assert ids(page) == severity[1:3]


async def test_a_row_shows_person_office_level_last_fix_and_return(
    live: Live, city: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=city["officer"]) as client:
        rows = {r["id"]: r for r in (await client.get("/v1/alerts")).json()}
    away = rows[city["away"]]
    assert away["full_name"] == "Zhang San" and away["case_number"].startswith("TR-")
    assert away["jurisdiction_name"] == "north" and away["supervision_level"] == "strict"
    assert datetime.fromisoformat(away["last_fix_at"]) == T0 + timedelta(minutes=45)
    assert datetime.fromisoformat(away["returned_at"]) == T0 + timedelta(minutes=40)
    assert rows[city["zone"]]["returned_at"] is None
    assert {"id", "person_id", "type", "status"} <= away.keys()


async def test_resolved_alerts_stay_findable_with_disposition_and_note(
    live: Live, city: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=city["officer"]) as client:
        done = await client.post(
            f"/v1/alerts/{city['zone']}/resolve",
            json={"disposition": "admonition", "note": "met him at the gate"},
        )
        assert done.status_code == 200, done.text
        history = (await client.get("/v1/alerts", params={"status": "resolved"})).json()
    assert [(r["id"], r["disposition"], r["note"]) for r in history] == [
        (city["zone"], "admonition", "met him at the gate")
    ]


async def test_no_filter_reaches_another_district(
    live: Live, officer: Officer, city: dict[str, Any], pool: asyncpg.Pool
) -> None:
    c = city
    async with httpx.AsyncClient(base_url=live.base_url, headers=c["officer"]) as client:
        for params in ({}, {"type": "out_of_area"}, {"person_id": c["li"]},
                       {"status": ["open", "acknowledged", "escalated", "resolved"]},
                       {"jurisdiction_id": c["north"]}, {"sort": "severity"}):  # fmt: skip
            assert c["elsewhere"] not in ids(await client.get("/v1/alerts", params=params))
        async with pool.acquire() as conn:
            missing = await conn.fetchval("SELECT max(id) + 1000 FROM jurisdictions")
        answers = []
        for jurisdiction_id in (c["south"], missing):
            reply = await client.get("/v1/alerts", params={"jurisdiction_id": jurisdiction_id})
            assert reply.status_code == 404 and reply.json()["field"] == "jurisdiction_id"
            answers.append(reply.text.replace(str(jurisdiction_id), "ID"))
            # word for word the answer of the persons list (and the devices list and reports)
            persons = await client.get("/v1/persons", params={"jurisdiction_id": jurisdiction_id})
            assert (persons.status_code, persons.text) == (404, reply.text)
        assert answers[0] == answers[1], "another district's id answers as a missing one"
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        south = ids(await client.get("/v1/alerts", params={"jurisdiction_id": c["south"]}))
    assert south == [c["elsewhere"]], "the city admin narrows to one district"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "teleported"}, "type.0"),
        ({"type": ["out_of_area", "nope"]}, "type.1"),
        ({"status": "closed"}, "status.0"),
        ({"sort": "loudest"}, "sort"),
        ({"opened_from": "2026-03-01T08:00:00"}, "opened_from"),
        ({"opened_to": "0001-01-01T00:00:00+14:00"}, "opened_to"),
        ({"opened_from": "2026-03-02T00:00Z", "opened_to": "2026-03-01T00:00Z"}, "opened_from"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"jurisdiction_id": 0}, "jurisdiction_id"),
    ],
)
async def test_bad_filters_are_422_naming_the_parameter(
    live: Live, officer: Officer, params: dict[str, Any], field: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        reply = await client.get("/v1/alerts", params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field


async def test_the_audit_names_the_filters(
    live: Live, city: dict[str, Any], pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=city["officer"]) as client:
        reply = await client.get(
            "/v1/alerts",
            params={"type": "tamper", "jurisdiction_id": city["north"], "sort": "severity"},
        )
        assert reply.status_code == 200
    async with pool.acquire() as conn:
        details = await conn.fetchval(
            "SELECT details FROM audit_log WHERE action = 'read_alerts' ORDER BY id DESC LIMIT 1"
        )
    assert details["type"] == ["tamper"] and details["sort"] == "severity"
    assert details["jurisdiction_id"] == city["north"]


async def test_an_unknown_filter_is_refused_not_ignored(live: Live, officer: Officer) -> None:
    """`?satus=open` listing every alert would look like an answer to the question asked."""
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        reply = await client.get("/v1/alerts", params={"satus": "open", "type": "tamper"})
    assert reply.status_code == 422 and reply.json()["field"] == "satus"
