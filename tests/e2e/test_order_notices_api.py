"""An order about to lapse: the live timers notify the officer over the WebSocket, and the
listing the console reads shows it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import CENTRE, receive_until, square


async def person_with_lapsing_order(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    """A new person whose only order ends in three days (client: an officer's)."""
    fence = await client.post(
        "/v1/fences", json={"name": "area", "role": "allowed", "geometry": square(*CENTRE, 500)}
    )
    assert fence.status_code == 201, fence.text
    person = await client.post(
        "/v1/persons",
        json={
            "case_number": f"LAPSE-{time.monotonic_ns()}",
            "supervision_level": "normal",
            "allowed_fence_ids": [fence.json()["id"]],
        },
    )
    assert person.status_code == 201, person.text
    now = datetime.now(UTC)
    order = await client.post(
        f"/v1/persons/{person.json()['id']}/orders",
        json={
            "kind": "electronic_positioning",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
            "basis": "violated_court_prohibition",
            "approved_by": "bureau",
        },
    )
    assert order.status_code == 201, order.text
    return person.json()["id"], {**order.json(), "case_number": person.json()["case_number"]}


async def test_an_order_about_to_lapse_is_noticed_live_and_listed(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth(officer)) as client:
        async with websockets.connect(f"{live.ws_url}/v1/stream?token={officer.token}") as ws:
            person_id, order = await person_with_lapsing_order(client)
            seen = await receive_until(ws, {"order.lapsing"}, person_id)
        listed = (await client.get("/v1/orders/lapsing")).json()
    [notice] = [m for m in seen if m["type"] == "order.lapsing"]
    assert notice["order_id"] == order["id"]
    assert notice["case_number"] == order["case_number"]
    assert datetime.fromisoformat(notice["ends_at"]) == datetime.fromisoformat(order["ends_at"])
    mine = [o for o in listed if o["person_id"] == person_id]
    assert [o["order_id"] for o in mine] == [order["id"]]
