"""Fences change in versions over HTTP: an edit keeps the old geometry and is judged by within
seconds; a retired fence is given to no one new and lists the persons still on it; only the
fence's own officers change it."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import asyncpg
import httpx
import pytest

from evaluator.fence_cache import FENCE_CHECK_S
from monitor.registry import schemas
from monitor.registry import store as registry_store
from tests.e2e.conftest import Live, Officer, log_in, make_admin
from tests.e2e.test_casework import (
    AWAY,
    bearer,
    city_fence,
    judged_through,
    out_of_area,
    post_pings,
)
from tests.e2e.test_slice import CENTRE, enrol, square

pytestmark = pytest.mark.slow


async def person_fence(client: httpx.AsyncClient, officer: Officer, person_id: int) -> int:
    person = (await client.get(f"/v1/persons/{person_id}", headers=bearer(officer.token))).json()
    fence_id: int = person["allowed_fence_ids"][0]
    return fence_id


async def test_an_edit_is_a_new_version_judged_by_within_seconds(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"FV-EDIT-{secrets.token_hex(4)}")
        fence_id = await person_fence(client, officer, device.person_id)
        url = f"/v1/fences/{fence_id}"
        last = await post_pings(client, device.token, CENTRE, time.time() - 900, 2)
        await judged_through(client, officer, device.person_id, last)
        tag = (await client.get(url, headers=auth)).headers["ETag"]
        wider = square(*CENTRE, 5000)  # now takes in AWAY, 3 km north
        edited = await client.patch(
            url, headers={**auth, "If-Match": tag}, json={"geometry": wider, "name": "wider"}
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["version"] == 2 and edited.headers["ETag"] == '"2"'
        stale = await client.patch(url, headers={**auth, "If-Match": tag}, json={"name": "x"})
        assert stale.status_code == 412
        versions = (await client.get(f"{url}/versions", headers=auth)).json()
        assert [(v["version"], v["name"]) for v in versions] == [
            (1, versions[0]["name"]),
            (2, "wider"),
        ]
        assert versions[0]["geometry"] == square(*CENTRE, 1000)
        assert versions[1]["geometry"] == wider
        assert (await client.get(url, headers=auth)).json()["geometry"] == wider

        await asyncio.sleep(FENCE_CHECK_S + 0.5)  # the evaluators' version check
        last = await post_pings(client, device.token, AWAY, last + 40, 4)
        position = await judged_through(client, officer, device.person_id, last)
    assert position["status"] == "inside"
    assert await out_of_area(pool, device.person_id) == []


async def test_a_retired_fence_is_given_to_no_one_new_and_lists_who_is_on_it(
    live: Live, officer: Officer
) -> None:
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"FV-RETIRE-{secrets.token_hex(4)}")
        fence_id = await person_fence(client, officer, device.person_id)
        url = f"/v1/fences/{fence_id}"
        retired = await client.post(f"{url}/retire", headers=auth, json={"reason": "区划调整"})
        assert retired.status_code == 200 and retired.json()["retired_at"]
        on_it = (await client.get(f"{url}/persons", headers=auth)).json()
        assert [p["id"] for p in on_it] == [device.person_id]
        given: dict[str, Any] = {
            "case_number": f"FV-NEW-{secrets.token_hex(4)}",
            "supervision_level": "normal",
            "allowed_fence_ids": [fence_id],
        }
        refused = await client.post("/v1/persons", headers=auth, json=given)
        # the person on it may keep it while another field changes
        kept = await client.patch(
            f"/v1/persons/{device.person_id}",
            headers=auth,
            json={"allowed_fence_ids": [fence_id], "supervision_level": "normal"},
        )
        again = await client.post(f"{url}/retire", headers=auth, json={"reason": "again"})
        edit = await client.patch(url, headers=auth, json={"name": "too late"})
        fresh = await client.post(
            "/v1/fences",
            headers=auth,
            json={"name": "successor", "role": "allowed", "geometry": square(*CENTRE, 1500)},
        )
        moved = await client.patch(
            f"/v1/persons/{device.person_id}",
            headers=auth,
            json={"allowed_fence_ids": [fresh.json()["id"]]},
        )
        after = (await client.get(f"{url}/persons", headers=auth)).json()
    assert refused.status_code == 422 and refused.json()["field"] == "allowed_fence_ids"
    assert "retired" in refused.json()["detail"]
    assert kept.status_code == 200, kept.text
    assert (again.status_code, edit.status_code, moved.status_code) == (409, 409, 200)
    assert after == []


async def test_only_the_fences_own_officers_change_it(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        street = await registry_store.insert_jurisdiction(
            conn,
            data=schemas.JurisdictionIn(
                name=f"street-{suffix}", level="street", parent_id=officer.jurisdiction_id
            ),
        )
        street_password = await make_admin(conn, street.id, f"fv-street-{suffix}")
        elsewhere = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"fv-elsewhere-{suffix}", level="city")
        )
        stranger_password = await make_admin(conn, elsewhere.id, f"fv-stranger-{suffix}")
    below = bearer(await log_in(live.base_url, f"fv-street-{suffix}", street_password))
    stranger = bearer(await log_in(live.base_url, f"fv-stranger-{suffix}", stranger_password))
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        url = f"/v1/fences/{await city_fence(client, officer, f'city {suffix}')}"
        seen_from_below = await client.get(url, headers=below)
        answers = {
            "below patch": await client.patch(url, headers=below, json={"name": "mine"}),
            "below retire": await client.post(f"{url}/retire", headers=below, json={
                "reason": "r"}),
            "stranger patch": await client.patch(url, headers=stranger, json={"name": "x"}),
            "stranger versions": await client.get(f"{url}/versions", headers=stranger),
            "stranger retire": await client.post(f"{url}/retire", headers=stranger, json={
                "reason": "r"}),
            "stranger persons": await client.get(f"{url}/persons", headers=stranger),
            "unknown field": await client.patch(url, headers=bearer(officer.token), json={
                "role": "exclusion"}),
            "crs alone": await client.patch(url, headers=bearer(officer.token), json={
                "crs": "gcj02"}),
            "bad ring": await client.patch(url, headers=bearer(officer.token), json={
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}),
            "unknown query": await client.get(f"{url}/persons?limt=1", headers=bearer(
                officer.token)),
            "int64": await client.get("/v1/fences/9223372036854775808/versions", headers=bearer(
                officer.token)),
        }  # fmt: skip
    assert seen_from_below.status_code == 200
    got = {k: (v.status_code, v.json().get("field")) for k, v in answers.items()}
    assert got == {
        "below patch": (403, None),
        "below retire": (403, None),
        "stranger patch": (404, None),
        "stranger versions": (404, None),
        "stranger retire": (404, None),
        "stranger persons": (404, None),
        "unknown field": (422, "role"),
        "crs alone": (422, "crs"),
        "bad ring": (422, "geometry"),
        "unknown query": (422, "limt"),
        "int64": (422, "fence_id"),
    }
