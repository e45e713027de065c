"""Registry over HTTP: jurisdiction scoping, oversight read-only, lawful-use rules, audit."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol, square

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def account(
    client: httpx.AsyncClient, admin: Officer, jurisdiction_id: int, role: str
) -> dict[str, str]:
    """Create an officer under `jurisdiction_id` and log in; answers auth headers."""
    name = f"{role}-{jurisdiction_id}-{time.monotonic_ns()}"
    made = await client.post(
        "/v1/officers",
        headers=bearer(admin.token),
        json={
            "username": name,
            "password": "correct horse",
            "role": role,
            "jurisdiction_id": jurisdiction_id,
        },
    )
    assert made.status_code == 201, made.text
    login = await client.post(
        "/v1/auth/token", data={"username": name, "password": "correct horse"}
    )
    return bearer(login.json()["access_token"])


async def district(client: httpx.AsyncClient, admin: Officer, name: str) -> int:
    made = await client.post(
        "/v1/jurisdictions",
        headers=bearer(admin.token),
        json={"name": name, "level": "district", "parent_id": admin.jurisdiction_id},
    )
    assert made.status_code == 201, made.text
    jurisdiction_id: int = made.json()["id"]
    return jurisdiction_id


async def fence(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    made = await client.post(
        "/v1/fences",
        headers=headers,
        json={"name": "area", "role": "allowed", "geometry": square(*CENTRE, 1000)},
    )
    assert made.status_code == 201, made.text
    fence_id: int = made.json()["id"]
    return fence_id


async def test_officers_see_only_their_subtree(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        north_officer = await account(client, officer, north, "officer")
        fence_id = await fence(client, bearer(officer.token))
        person = {
            "case_number": f"N-{north}",
            "supervision_level": "normal",
            "allowed_fence_ids": [fence_id],
        }
        made = await client.post("/v1/persons", headers=north_officer, json=person)
        assert made.status_code == 201, made.text
        assert made.json()["jurisdiction_id"] == north
        elsewhere = await client.post(
            "/v1/persons",
            headers=north_officer,
            json={**person, "case_number": f"S-{south}", "jurisdiction_id": south},
        )
        assert elsewhere.status_code == 422 and elsewhere.json()["field"] == "jurisdiction_id"
        missing = await client.post(  # answered exactly as another district's: no oracle
            "/v1/persons",
            headers=north_officer,
            json={**person, "case_number": f"X-{south}", "jurisdiction_id": 2**62},
        )
        assert missing.json() == {**elsewhere.json(), "detail": elsewhere.json()["detail"]
            .replace(str(south), str(2**62))}  # fmt: skip

        south_officer = await account(client, officer, south, "officer")
        hidden = await client.get(f"/v1/persons/{made.json()['id']}", headers=south_officer)
        assert hidden.status_code == 404
        listed = await client.get("/v1/persons", headers=south_officer)
        assert listed.json() == []
        city_view = await client.get(
            f"/v1/persons/{made.json()['id']}", headers=bearer(officer.token)
        )
        assert city_view.status_code == 200


async def test_oversight_reads_but_never_changes(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        oversight = await account(client, officer, officer.jurisdiction_id, "oversight")
        assert (await client.get("/v1/persons", headers=oversight)).status_code == 200
        refused = await client.post(
            "/v1/fences",
            headers=oversight,
            json={"name": "x", "role": "allowed", "geometry": square(*CENTRE, 100)},
        )
        assert refused.status_code == 403 and "oversight" in refused.json()["detail"]


async def test_lawful_use_rules(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        auth = bearer(officer.token)
        fence_id = await fence(client, auth)
        person = await client.post(
            "/v1/persons",
            headers=auth,
            json={
                "case_number": f"L-{time.monotonic_ns()}",
                "supervision_level": "strict",
                "allowed_fence_ids": [fence_id],
            },
        )
        person_id = person.json()["id"]
        now = datetime.now(UTC)
        too_long = await client.post(
            f"/v1/persons/{person_id}/orders",
            headers=auth,
            json={
                "kind": "electronic_positioning",
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=120)).isoformat(),
                "basis": "violated_court_prohibition",
                "approved_by": "bureau",
            },
        )
        assert too_long.status_code == 422 and too_long.json()["field"] == "ends_at"
        device = await client.post(
            "/v1/devices", headers=auth, json={"person_id": person_id, "kind": "ankle"}
        )
        ping = {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}
        refused = await client.post("/v1/pings", json=ping, headers=bearer(device.json()["token"]))
        assert refused.status_code == 202
        assert refused.json()["accepted"] == 0
        assert "no active monitoring order" in refused.json()["rejected"][0]["error"]


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        (
            {"type": "Polygon", "coordinates": [[[114.0, 22.5], [114.1, 22.5], [114.0, 22.5]]]},
            "at least 4 positions",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.0, 22.5], [114.1, 22.5], [114.2, 22.5], [114.0, 22.5]]],
            },
            "collapsed ring",
        ),
        ({"type": "Point", "coordinates": [114.0, 22.5]}, "not a Polygon"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.0, 95.0], [114.1, 22.5], [114.2, 22.6], [114.0, 95.0]]],
            },
            "out of range",
        ),
    ],
)
async def test_bad_fences_are_refused_naming_the_ring(
    live: Live, officer: Officer, geometry: dict[str, Any], problem: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        made = await client.post(
            "/v1/fences",
            headers=bearer(officer.token),
            json={"name": "bad", "role": "allowed", "geometry": geometry},
        )
    assert made.status_code == 422 and made.json()["field"] == "geometry"
    assert problem in made.json()["detail"]


async def test_reading_a_track_is_audited_in_a_hash_chain(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"A-{time.monotonic_ns()}")
        ping = {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}
        await client.post("/v1/pings", json=ping, headers=bearer(device.token))
        track = await client.get(
            f"/v1/persons/{device.person_id}/track", headers=bearer(officer.token)
        )
    assert track.status_code == 200 and len(track.json()) == 1
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT prev_hash, hash, subject FROM audit_log ORDER BY id")
        assert rows[-1]["subject"] == f"person:{device.person_id}"
        for before, after in itertools.pairwise(rows):
            assert after["prev_hash"] == before["hash"]
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM audit_log")


async def test_logging_out_ends_the_session_on_the_server(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        second = await client.post(
            "/v1/auth/token", data={"username": officer.username, "password": officer.password}
        )
        other = {"Authorization": f"Bearer {second.json()['access_token']}"}
        mine = {"Authorization": f"Bearer {officer.token}"}
        assert (await client.get("/v1/auth/me", headers=other)).status_code == 200
        out = await client.post("/v1/auth/logout", headers=other)
        assert out.status_code == 204, out.text
        assert (await client.get("/v1/auth/me", headers=other)).status_code == 401
        assert (await client.get("/v1/auth/me", headers=mine)).status_code == 200, "only that one"
        assert (await client.post("/v1/auth/logout", headers=other)).status_code == 401


async def test_an_open_stream_closes_once_its_session_ends(live: Live, officer: Officer) -> None:
    """A live map of supervised persons must not outlive the right to see it: logged out
    (or disabled, or expired), the socket is closed within a heartbeat or two."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        login = await client.post(
            "/v1/auth/token", data={"username": officer.username, "password": officer.password}
        )
        token = login.json()["access_token"]
        async with websockets.connect(f"{live.ws_url}/v1/stream?token={token}") as ws:
            await client.post("/v1/auth/logout", headers=bearer(token))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(4 * live.settings.ws_heartbeat_s):
                    while True:
                        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
