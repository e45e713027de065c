"""Five levels over HTTP: a node ranks below its parent, a province's officers see every city
under it and nothing of a sibling province, and the root's admin is the root's, whatever its
level (a province, the ministry)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Live, Officer, log_in, make_admin
from tests.e2e.test_registry import account, bearer, fence
from tests.e2e.test_slice import CENTRE, square

pytestmark = pytest.mark.slow

OPEN_ALERT = """
INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, last_evidence_at)
SELECT id, jurisdiction_id, 'tamper', 'open', now(), now() FROM persons WHERE id = $1
RETURNING id
"""


async def root_admin(live: Live, pool: asyncpg.Pool, level: str) -> Officer:
    """A fresh tree whose root is of `level`, with an admin of the root, logged in."""
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        root = await conn.fetchval(
            "INSERT INTO jurisdictions (name, level) VALUES ($1, $2) RETURNING id",
            f"{level}-{suffix}",
            level,
        )
        password = await make_admin(conn, root, f"root-{suffix}")
    token = await log_in(live.base_url, f"root-{suffix}", password)
    return Officer(f"root-{suffix}", password, root, token)


async def node(
    client: httpx.AsyncClient, headers: dict[str, str], level: str, parent_id: int
) -> httpx.Response:
    return await client.post(
        "/v1/jurisdictions",
        headers=headers,
        json={"name": f"{level}-{secrets.token_hex(3)}", "level": level, "parent_id": parent_id},
    )


async def made(reply: httpx.Response) -> int:
    assert reply.status_code == 201, reply.text
    made_id: int = reply.json()["id"]
    return made_id


async def test_a_node_ranks_below_its_parent_and_may_skip_levels(
    live: Live, pool: asyncpg.Pool
) -> None:
    ministry = await root_admin(live, pool, "ministry")
    admin = bearer(ministry.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        province = await made(await node(client, admin, "province", ministry.jurisdiction_id))
        city = await made(await node(client, admin, "city", province))
        # Beijing: districts directly under a province-level body
        await made(await node(client, admin, "district", province))
        for level, parent_id in [("city", city), ("province", city), ("ministry", province)]:
            refused = await node(client, admin, level, parent_id)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "level"
            assert f"a {level} cannot sit under a" in refused.json()["detail"]
        unknown = await node(client, admin, "county", city)
        assert unknown.status_code == 422 and "level" in unknown.text
        listed = await client.get("/v1/jurisdictions", headers=admin)
        assert [j["level"] for j in listed.json()][:3] == ["ministry", "province", "city"]
    async with pool.acquire() as conn:  # the database holds the rule for any other writer
        with pytest.raises(asyncpg.CheckViolationError, match="cannot sit under"):
            await conn.execute(
                "INSERT INTO jurisdictions (name, level, parent_id) VALUES ('x', 'province', $1)",
                city,
            )
        for level, jurisdiction_id in [("ministry", city), ("city", province)]:
            with pytest.raises(asyncpg.CheckViolationError, match="would not rank below"):
                await conn.execute(
                    "UPDATE jurisdictions SET level = $1 WHERE id = $2", level, jurisdiction_id
                )
        await conn.execute("UPDATE jurisdictions SET level = 'district' WHERE id = $1", city)


async def person_under(
    client: httpx.AsyncClient, headers: dict[str, str], fence_id: int, jurisdiction_id: int
) -> int:
    reply = await client.post(
        "/v1/persons",
        headers=headers,
        json={
            "case_number": f"H-{secrets.token_hex(4)}",
            "supervision_level": "normal",
            "allowed_fence_ids": [fence_id],
            "jurisdiction_id": jurisdiction_id,
        },
    )
    return await made(reply)


async def test_a_province_sees_every_city_under_it_and_nothing_of_its_sibling(
    live: Live, pool: asyncpg.Pool
) -> None:
    ministry = await root_admin(live, pool, "ministry")
    admin = bearer(ministry.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        guangdong = await made(await node(client, admin, "province", ministry.jurisdiction_id))
        hunan = await made(await node(client, admin, "province", ministry.jurisdiction_id))
        shenzhen = await made(await node(client, admin, "city", guangdong))
        guangzhou = await made(await node(client, admin, "city", guangdong))
        nanshan = await made(await node(client, admin, "district", shenzhen))
        street = await made(await node(client, admin, "street", nanshan))
        changsha = await made(await node(client, admin, "city", hunan))
        shared = await fence(client, admin)  # the ministry admin is the root's: a shared fence
        persons = {
            where: await person_under(client, admin, shared, where)
            for where in (street, guangzhou, changsha)
        }
        async with pool.acquire() as conn:
            alerts = {where: await conn.fetchval(OPEN_ALERT, p) for where, p in persons.items()}
        province_officer = await account(client, ministry, guangdong, "officer")
        sibling_officer = await account(client, ministry, hunan, "officer")

        listed = await client.get("/v1/persons", headers=province_officer)
        assert {p["id"] for p in listed.json()} == {persons[street], persons[guangzhou]}
        seen = await client.get("/v1/alerts", headers=province_officer)
        assert {a["id"] for a in seen.json()} == {alerts[street], alerts[guangzhou]}
        one = await client.get(f"/v1/alerts/{alerts[street]}", headers=province_officer)
        assert one.status_code == 200 and one.json()["escalation_level"] == "street"

        for where in (street, guangzhou):
            hidden = await client.get(f"/v1/persons/{persons[where]}", headers=sibling_officer)
            assert hidden.status_code == 404, hidden.text
            hidden = await client.get(f"/v1/alerts/{alerts[where]}", headers=sibling_officer)
            assert hidden.status_code == 404, hidden.text
        own = await client.get("/v1/alerts", headers=sibling_officer)
        assert {a["id"] for a in own.json()} == {alerts[changsha]}
        everyone = await client.get("/v1/persons", headers=admin)
        assert set(persons.values()) <= {p["id"] for p in everyone.json()}

        # reports group by office as before, the province's whole subtree and nothing else
        today = datetime.now(UTC).date()
        period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
        counted = await client.get("/v1/reports/alerts", headers=province_officer, params=period)
        assert counted.status_code == 200, counted.text
        assert {r["jurisdiction_id"] for r in counted.json()["rows"]} == {street, guangzhou}
        month = {"month": today.strftime("%Y-%m"), "tz": "UTC"}
        roster = await client.get("/v1/reports/roster", headers=province_officer, params=month)
        assert roster.status_code == 200, roster.text
        rows = roster.json()["rows"]
        assert (rows[0]["jurisdiction_id"], rows[0]["level"]) == (guangdong, "province")
        assert {r["jurisdiction_id"] for r in rows} == {
            guangdong, shenzhen, guangzhou, nanshan, street
        }  # fmt: skip
        assert sum(r["persons_on_record"] for r in rows) == 2


async def test_the_root_admin_is_the_roots_whatever_its_level(
    live: Live, pool: asyncpg.Pool, officer: Officer
) -> None:
    province = await root_admin(live, pool, "province")
    area: dict[str, Any] = {"name": "a", "role": "allowed", "geometry": square(*CENTRE, 100)}
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        made_shared = await client.post("/v1/fences", headers=bearer(province.token), json=area)
        assert made_shared.status_code == 201, made_shared.text
        city = await made(
            await node(client, bearer(province.token), "city", province.jurisdiction_id)
        )
        city_admin = await account(client, province, city, "admin")
        refused = await client.post("/v1/fences", headers=city_admin, json=area)
        assert refused.status_code == 403 and refused.json()["field"] == "jurisdiction_id"
        root = await client.post(
            "/v1/jurisdictions", headers=city_admin, json={"name": "x", "level": "city"}
        )
        assert root.status_code == 403, "a city under a province is not the root"
        # a city that is its tree's root keeps acting for the whole tree, as before
        own_root = await client.post("/v1/fences", headers=bearer(officer.token), json=area)
        assert own_root.status_code == 201, own_root.text
