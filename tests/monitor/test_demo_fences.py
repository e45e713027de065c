"""The demo draws its own map offline: each district has a named fence under its jurisdiction."""

from __future__ import annotations

import asyncpg
import pytest

from monitor.demo import load_districts, seed


class Rollback(Exception):
    """Leaves the session's database as it was (the demo's officer name is fixed)."""


async def test_every_district_has_a_named_fence_of_its_own(pool: asyncpg.Pool) -> None:
    districts = {f"{f['properties']['qh']}区" for f in load_districts()}
    async with pool.acquire() as conn:
        with pytest.raises(Rollback):
            async with conn.transaction():
                await seed(conn, persons=1)
                rows = await conn.fetch(
                    "SELECT f.name, j.level FROM fences f JOIN jurisdictions j"
                    " ON j.id = f.jurisdiction_id WHERE f.name = j.name"
                )
                raise Rollback
    assert {r["name"] for r in rows} == districts
    assert {r["level"] for r in rows} == {"district"}
