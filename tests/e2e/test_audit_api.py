"""GET /v1/audit and /v1/audit/verify: oversight and admins only, entries within their subtree,
bounded filters, and the whole chain's verification."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_registry import account, bearer, district

pytestmark = pytest.mark.slow


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    officer_id: int = (await client.get("/v1/auth/me", headers=headers)).json()["id"]
    return officer_id


async def test_oversight_reads_its_subtree_and_other_roles_are_refused(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        here, there = await district(client, officer, "here"), await district(client, officer, "x")
        oversight = await account(client, officer, here, "oversight")
        local = await account(client, officer, here, "officer")
        other = await account(client, officer, there, "officer")
        supervisor = await account(client, officer, here, "supervisor")
        for headers in (local, other):
            assert (await client.get("/v1/positions/latest", headers=headers)).status_code == 200
        local_id, other_id = await me(client, local), await me(client, other)
        for refused in (local, supervisor):
            for path in ("/v1/audit", "/v1/audit/verify"):
                answer = await client.get(path, headers=refused)
                assert answer.status_code == 403 and "oversight" in answer.json()["detail"]
        query: dict[str, str | int] = {"action": "read_latest_positions", "limit": 1000}
        seen = await client.get("/v1/audit", params=query, headers=oversight)
        assert seen.status_code == 200, seen.text
        assert {e["officer_id"] for e in seen.json()} == {local_id}, "not another district's"
        admin = await client.get("/v1/audit", params=query, headers=bearer(officer.token))
        assert {local_id, other_id} <= {e["officer_id"] for e in admin.json()}
        only = await client.get(
            "/v1/audit", params={"officer_id": other_id}, headers=bearer(officer.token)
        )
        assert only.json() and all(e["officer_id"] == other_id for e in only.json())


async def test_entries_page_newest_first(live: Live, officer: Officer) -> None:
    headers = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for _ in range(3):
            await client.get("/v1/positions/latest", headers=headers)
        mine = {"officer_id": await me(client, headers), "limit": 2}
        first = (await client.get("/v1/audit", params=mine, headers=headers)).json()
        rest = await client.get(
            "/v1/audit", params={**mine, "before_id": first[-1]["id"]}, headers=headers
        )
    ids = [e["id"] for e in first + rest.json()]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert all(len(e["hash"]) == 64 for e in first)


async def test_the_whole_chain_verifies(live: Live, officer: Officer) -> None:
    headers = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        await client.get("/v1/positions/latest", headers=headers)
        oversight = await account(client, officer, officer.jurisdiction_id, "oversight")
        answer = await client.get("/v1/audit/verify", headers=oversight)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True and body["first_bad_id"] is None and body["rows"] >= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("officer_id", str(2**63)),
        ("before_id", "0"),
        ("action", "read\x00track"),
        ("subject", "x" * 201),
        ("start", "0001-01-01T00:00:00+14:00"),
        ("end", "9999-12-31T23:59:59-14:00"),
        ("start", "1999-12-31T23:59:59Z"),
        ("limit", "1001"),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(
    live: Live, officer: Officer, field: str, value: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        answer = await client.get("/v1/audit", params={field: value}, headers=bearer(officer.token))
    assert answer.status_code == 422, answer.text
    assert field in str(answer.json()["detail"])
