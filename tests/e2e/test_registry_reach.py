"""What an officer may reference and create: another district's fences answer as missing ones
(no oracle for their exclusion zones); jurisdictions and shared fences are an admin's act."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_registry import account, bearer, district
from tests.e2e.test_slice import CENTRE, square

pytestmark = pytest.mark.slow


async def district_fence(
    client: httpx.AsyncClient, headers: dict[str, str], jurisdiction_id: int, role: str
) -> int:
    made = await client.post(
        "/v1/fences",
        headers=headers,
        json={
            "name": f"{role} of {jurisdiction_id}",
            "role": role,
            "geometry": square(*CENTRE, 300),
            "jurisdiction_id": jurisdiction_id,
        },
    )
    assert made.status_code == 201, made.text
    fence_id: int = made.json()["id"]
    return fence_id


def shape(reply: httpx.Response, fence_id: int) -> tuple[int, Any]:
    """The answer with the fence's id taken out: what tells one refused id from another."""
    return reply.status_code, reply.text.replace(str(fence_id), "ID")


async def test_another_districts_fence_answers_as_a_missing_one(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        admin = bearer(officer.token)
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        north_officer = await account(client, officer, north, "officer")
        south_zone = await district_fence(client, admin, south, "exclusion")
        south_area = await district_fence(client, admin, south, "allowed")
        city_area = await district_fence(client, admin, officer.jurisdiction_id, "allowed")
        north_zone = await district_fence(client, admin, north, "exclusion")
        async with pool.acquire() as conn:
            missing = await conn.fetchval("SELECT coalesce(max(id), 0) + 1000 FROM fences")

        async def person(allowed: list[int], exclusion: list[int]) -> httpx.Response:
            return await client.post(
                "/v1/persons",
                headers=north_officer,
                json={
                    "case_number": f"R-{time.monotonic_ns()}",
                    "supervision_level": "normal",
                    "allowed_fence_ids": allowed,
                    "exclusion_fence_ids": exclusion,
                },
            )

        for allowed, exclusion, fence_id in [
            ([city_area], [south_zone], south_zone),
            ([south_area], [], south_area),
        ]:
            refused = await person(allowed, exclusion)
            absent = await person(
                [missing if i == fence_id else i for i in allowed],
                [missing if i == fence_id else i for i in exclusion],
            )
            assert refused.status_code == 422, refused.text
            assert shape(refused, fence_id) == shape(absent, missing)

        made = await person([city_area], [north_zone])  # ancestors' and own fences are in reach
        assert made.status_code == 201, made.text
        person_id = made.json()["id"]

        async def curfew(fence_id: int) -> httpx.Response:
            params = {"fence_id": fence_id, "start": "22:00", "end": "06:00"}
            return await client.post(
                f"/v1/persons/{person_id}/rules",
                headers=north_officer,
                json={"kind": "curfew", "params": params},
            )

        refused, absent = await curfew(south_area), await curfew(missing)
        assert refused.status_code == 422 and refused.json()["field"] == "params.fence_id"
        assert shape(refused, south_area) == shape(absent, missing)
        assert (await curfew(city_area)).status_code == 201


async def test_a_city_admin_cannot_give_a_person_a_fence_their_district_cannot_see(
    live: Live, officer: Officer
) -> None:
    """The person's officers must see every fence they are judged by: the check is made
    from the person's jurisdiction, not only from the (wider) creator's."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        admin = bearer(officer.token)
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        south_zone = await district_fence(client, admin, south, "exclusion")
        city_area = await district_fence(client, admin, officer.jurisdiction_id, "allowed")
        made = await client.post(
            "/v1/persons",
            headers=admin,
            json={
                "case_number": f"R-{time.monotonic_ns()}",
                "supervision_level": "normal",
                "allowed_fence_ids": [city_area],
                "exclusion_fence_ids": [south_zone],
                "jurisdiction_id": north,
            },
        )
    assert made.status_code == 422 and made.json()["field"] == "exclusion_fence_ids"


async def test_only_admins_create_jurisdictions(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        north = await district(client, officer, "north")
        for role in ("officer", "supervisor"):
            headers = await account(client, officer, north, role)
            refused = await client.post(
                "/v1/jurisdictions",
                headers=headers,
                json={"name": "street", "level": "street", "parent_id": north},
            )
            assert refused.status_code == 403, refused.text
            assert "admin" in refused.json()["detail"]
        district_admin = await account(client, officer, north, "admin")
        made = await client.post(
            "/v1/jurisdictions",
            headers=district_admin,
            json={"name": "street", "level": "street", "parent_id": north},
        )
        assert made.status_code == 201, made.text


async def test_only_a_city_admin_creates_a_fence_without_a_jurisdiction(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        north = await district(client, officer, "north")
        fence: dict[str, Any] = {"name": "a", "role": "allowed", "geometry": square(*CENTRE, 100)}
        for role in ("officer", "admin"):  # a district's admin acts for the district only
            headers = await account(client, officer, north, role)
            refused = await client.post("/v1/fences", headers=headers, json=fence)
            assert refused.status_code == 403, refused.text
            assert refused.json()["field"] == "jurisdiction_id"
            placed = await client.post(
                "/v1/fences", headers=headers, json={**fence, "jurisdiction_id": north}
            )
            assert placed.status_code == 201, placed.text
        shared = await client.post("/v1/fences", headers=bearer(officer.token), json=fence)
        assert shared.status_code == 201, shared.text
        assert shared.json()["jurisdiction_id"] is None
