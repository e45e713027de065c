"""GET /v1/persons/{id}/track: each fix judged against the allowed area as the evaluator judges
it, `limit` cuts in time order, and another district's person answers as a missing one, with no
read written to the audit log."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from simulators.fleet import offset
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_registry import account, bearer, district
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

# metres north of the centre of the 2 km square fence, and the accuracy of each fix there
FIXES = [(0, 10), (990, 30), (3000, 15), (1200, 400), (-200, 5)]
AREAS = ["inside", "uncertain", "outside", "uncertain", "inside"]


async def test_each_fix_says_where_it_was_against_the_allowed_area(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"T-{time.monotonic_ns()}")
        t0 = time.time() - 3600
        pings = []
        for i, (north_m, accuracy_m) in enumerate(FIXES):
            lat, lon = offset(*CENTRE, north_m, 0)
            ts = datetime.fromtimestamp(t0 + 60 * i, UTC).isoformat()
            pings.append({"ts": ts, "lat": lat, "lon": lon, "accuracy_m": accuracy_m})
        posted = await client.post("/v1/pings", json=pings, headers=bearer(device.token))
        assert posted.json()["accepted"] == len(FIXES), posted.text
        track = f"/v1/persons/{device.person_id}/track"
        whole = await client.get(track, headers=bearer(officer.token))
        first = await client.get(track, params={"limit": 2}, headers=bearer(officer.token))
    assert whole.status_code == 200, whole.text
    assert [p["area"] for p in whole.json()] == AREAS
    assert [p["accuracy_m"] for p in whole.json()] == [a for _, a in FIXES]
    assert first.json() == whole.json()[:2], "the earliest fixes, when the range is cut"


async def test_another_districts_track_answers_as_a_missing_person_and_is_not_audited(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"T-{time.monotonic_ns()}")  # in the city itself
        south_officer = await account(
            client, officer, await district(client, officer, "south"), "officer"
        )
        async with pool.acquire() as conn:
            missing = await conn.fetchval("SELECT coalesce(max(id), 0) + 1000 FROM persons")
            before = await conn.fetchval("SELECT max(id) FROM audit_log")
        hidden = await client.get(f"/v1/persons/{device.person_id}/track", headers=south_officer)
        absent = await client.get(f"/v1/persons/{missing}/track", headers=south_officer)
        mine = await client.get(
            f"/v1/persons/{device.person_id}/track", headers=bearer(officer.token)
        )
    assert hidden.status_code == absent.status_code == 404
    assert hidden.text.replace(str(device.person_id), "ID") == absent.text.replace(
        str(missing), "ID"
    )
    assert mine.status_code == 200
    async with pool.acquire() as conn:
        reads = await conn.fetch(
            "SELECT subject FROM audit_log WHERE id > $1 AND action = 'read_track'", before
        )
    assert [r["subject"] for r in reads] == [f"person:{device.person_id}"], "only the city's read"
