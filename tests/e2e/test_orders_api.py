"""Monitoring orders over HTTP (ARCHITECTURE §8): one live order per person and kind, race-safe."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_registry import bearer, fence

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
        other_kind = {**positioning(now, now + 365 * DAY), "kind": "information_check"}
        check = await client.post(url, json={**other_kind, "basis": "supervision_term"})
        assert check.status_code == 201, check.text
        backdated = await client.post(url, json=positioning(now - 3 * DAY, now + DAY))
        assert backdated.status_code == 422 and backdated.json()["field"] == "starts_at"
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
