"""Monitoring orders over HTTP (ARCHITECTURE §8): one live order per person and kind, race-safe;
revocation (解除) with a reason, audited, within the officer's reach, and honoured by ingest."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_order_notices_api import person_with_lapsing_order
from tests.e2e.test_registry import account, bearer, district, fence
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def positioning(starts_at: datetime, ends_at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "electronic_positioning",
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "basis": "violated_court_prohibition",
        "approved_by": "bureau head",
        **extra,
    }


async def new_person(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """A person with no order yet, made with `headers`, allowed a fence shared by the city
    (made with the client's own headers: a city admin's)."""
    made = await client.post(
        "/v1/persons",
        headers=headers,
        json={
            "case_number": f"O-{time.monotonic_ns()}",
            "supervision_level": "normal",
            "allowed_fence_ids": [await fence(client, {})],
        },
    )
    assert made.status_code == 201, made.text
    person_id: int = made.json()["id"]
    return person_id


async def test_one_live_order_per_kind_and_renewals_carry_on(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        person_id = await new_person(client, {})
        url = f"/v1/persons/{person_id}/orders"
        now = datetime.now(UTC)
        first = await client.post(url, json=positioning(now - HOUR, now + 10 * DAY))
        assert first.status_code == 201, first.text
        overlap = await client.post(url, json=positioning(now + 5 * DAY, now + 20 * DAY))
        assert overlap.status_code == 409 and overlap.json()["field"] == "starts_at"
        assert f"order {first.json()['id']} in force" in overlap.json()["detail"]
        end = datetime.fromisoformat(first.json()["ends_at"])
        renewal = await client.post(url, json=positioning(end, end + 90 * DAY))
        assert renewal.status_code == 201, renewal.text
        other_kind = {
            **positioning(now, now + 365 * DAY),
            "kind": "information_check",
            "basis": "supervision_term",
        }
        check = await client.post(url, json=other_kind)
        assert check.status_code == 201, check.text
        backdated = await client.post(url, json=positioning(now - 3 * DAY, now + DAY))
        assert backdated.status_code == 422 and backdated.json()["field"] == "starts_at"
        endless = await client.post(
            url, json={**other_kind, "ends_at": "9999-12-31T23:59:59-14:00"}
        )
        assert endless.status_code == 422 and endless.json()["field"] == "ends_at", endless.text
        listed = await client.get(url)
    assert [o["id"] for o in listed.json()] == [
        first.json()["id"],
        check.json()["id"],
        renewal.json()["id"],
    ]


async def test_concurrent_overlapping_orders_make_one(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        person_id = await new_person(client, {})
        now = datetime.now(UTC)
        replies = await asyncio.gather(
            *(
                client.post(
                    f"/v1/persons/{person_id}/orders",
                    json=positioning(now + i * HOUR, now + 30 * DAY + i * HOUR),
                )
                for i in range(6)
            )
        )
        listed = await client.get(f"/v1/persons/{person_id}/orders")
    assert Counter(r.status_code for r in replies) == {201: 1, 409: 5}, [r.text for r in replies]
    assert len(listed.json()) == 1


async def ping(client: httpx.AsyncClient, token: str, at: datetime) -> dict[str, Any]:
    fix = {"ts": int(at.timestamp() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}
    reply = await client.post("/v1/pings", json=fix, headers=bearer(token))
    assert reply.status_code == 202, reply.text
    result: dict[str, Any] = reply.json()
    return result


async def test_a_revoked_order_stops_the_pings_within_a_second(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"REVOKE-{time.monotonic_ns()}")
        assert (await ping(client, device.token, datetime.now(UTC)))["accepted"] == 1
        [order] = (
            await client.get(
                f"/v1/persons/{device.person_id}/orders", headers=bearer(officer.token)
            )
        ).json()
        revoked = await client.post(
            f"/v1/orders/{order['id']}/revoke",
            headers=bearer(officer.token),
            json={"reason": "解除: no longer needed"},
        )
        assert revoked.status_code == 200, revoked.text
        revoked_at = datetime.fromisoformat(revoked.json()["revoked_at"])
        deadline = time.monotonic() + 3.0
        while (await ping(client, device.token, datetime.now(UTC)))["accepted"]:
            assert time.monotonic() < deadline, "pings still taken 3 s after the revocation"
            await asyncio.sleep(0.1)
        refused = await ping(client, device.token, datetime.now(UTC))
        assert "no active monitoring order" in refused["rejected"][0]["error"]
        buffered = await ping(client, device.token, revoked_at - timedelta(seconds=5))
        assert buffered["accepted"] == 1, "fixed while the order was in force"
        again = await client.post(
            f"/v1/orders/{order['id']}/revoke",
            headers=bearer(officer.token),
            json={"reason": "twice"},
        )
        assert again.status_code == 409
    assert revoked.json()["revoke_reason"] == "解除: no longer needed"
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT officer_id, subject, details FROM audit_log WHERE action = 'order.revoke' "
            "AND (details->>'order_id')::bigint = $1",
            order["id"],
        )
    assert audit is not None and audit["subject"] == f"person:{device.person_id}"
    assert audit["details"]["reason"] == "解除: no longer needed"
    assert audit["officer_id"] == revoked.json()["revoked_by"]


async def test_revoking_is_within_reach_and_needs_a_reason(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        north_officer = await account(client, officer, north, "officer")
        south_officer = await account(client, officer, south, "officer")
        person_id = await new_person(client, north_officer)
        now = datetime.now(UTC)
        made = await client.post(
            f"/v1/persons/{person_id}/orders",
            headers=north_officer,
            json=positioning(now, now + 30 * DAY),
        )
        order_id = made.json()["id"]
        async with pool.acquire() as conn:
            missing = await conn.fetchval("SELECT max(id) + 1000 FROM monitoring_orders")

        async def revoke(headers: dict[str, str], target: int, body: Any) -> httpx.Response:
            return await client.post(f"/v1/orders/{target}/revoke", headers=headers, json=body)

        reason = {"reason": "released"}
        hidden = await revoke(south_officer, order_id, reason)
        absent = await revoke(south_officer, missing, reason)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.text.replace(str(order_id), "ID") == absent.text.replace(str(missing), "ID")
        oversight = await account(client, officer, north, "oversight")
        assert (await revoke(oversight, order_id, reason)).status_code == 403
        for body in ({}, {"reason": ""}, {"reason": "  "}, {"reason": "a\x00b"}):
            assert (await revoke(north_officer, order_id, body)).status_code == 422, body
        assert (await revoke(north_officer, 2**63, reason)).status_code == 422
        assert (await revoke(north_officer, order_id, reason)).status_code == 200


async def test_a_revoked_order_is_not_listed_as_lapsing(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as client:
        _, order = await person_with_lapsing_order(client)
        lapsing = [o["order_id"] for o in (await client.get("/v1/orders/lapsing")).json()]
        assert order["id"] in lapsing
        revoked = await client.post(
            f"/v1/orders/{order['id']}/revoke", json={"reason": "released early"}
        )
        assert revoked.status_code == 200, revoked.text
        lapsing = [o["order_id"] for o in (await client.get("/v1/orders/lapsing")).json()]
    assert order["id"] not in lapsing
