"""One ping travelling end to end: device → ingest → stream → evaluator → alert → WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets

from simulators.fleet import Fleet, Route, SimDevice, offset
from tests.e2e.conftest import Live, Officer

pytestmark = pytest.mark.slow

CENTRE = (22.55, 114.05)  # a 2 km square fence around it


def square(lat: float, lon: float, half_m: float) -> dict[str, Any]:
    s, w = offset(lat, lon, -half_m, -half_m)
    n, e = offset(lat, lon, half_m, half_m)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


async def enrol(
    client: httpx.AsyncClient,
    officer: Officer,
    case: str,
    level: str = "strict",
    full_name: str = "",
    jurisdiction_id: int | None = None,  # the officer's own unless given
) -> SimDevice:
    auth = {"Authorization": f"Bearer {officer.token}"}
    fence = await client.post(
        "/v1/fences",
        headers=auth,
        json={
            "name": f"area {case}",
            "role": "allowed",
            "crs": "wgs84",
            "geometry": square(*CENTRE, 1000),
        },
    )
    assert fence.status_code == 201, fence.text
    person = await client.post(
        "/v1/persons",
        headers=auth,
        json={
            "case_number": case,
            "full_name": full_name,
            "supervision_level": level,
            "allowed_fence_ids": [fence.json()["id"]],
            **({} if jurisdiction_id is None else {"jurisdiction_id": jurisdiction_id}),
        },
    )
    assert person.status_code == 201, person.text
    person_id = person.json()["id"]
    device_id, token = await order_and_band(client, auth, person_id)
    away = offset(*CENTRE, 3000, 0)  # 2 km north of the fence's edge
    route = Route(CENTRE[0], CENTRE[1], away[0], away[1], cycle_s=600.0)
    return SimDevice(device_id, token, person_id, route)


async def order_and_band(
    client: httpx.AsyncClient, auth: dict[str, str], person_id: int
) -> tuple[str, str]:
    """An electronic-positioning order in force for 60 days and an ankle band: its id, token."""
    now = datetime.now(UTC)
    order = await client.post(
        f"/v1/persons/{person_id}/orders",
        headers=auth,
        json={
            "kind": "electronic_positioning",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=60)).isoformat(),
            "basis": "left_residence_without_approval",
            "approved_by": "bureau",
        },
    )
    assert order.status_code == 201, order.text
    device = await client.post(
        "/v1/devices", headers=auth, json={"person_id": person_id, "kind": "ankle"}
    )
    assert device.status_code == 201, device.text
    return device.json()["device_id"], device.json()["token"]


async def receive_until(
    ws: Any, wanted: set[str], person_id: int, timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Every message until each `wanted` event type has arrived for this person."""
    seen: list[dict[str, Any]] = []
    missing = set(wanted)
    deadline = time.monotonic() + timeout_s
    while missing:
        raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        message = json.loads(raw)
        seen.append(message)
        if message.get("person_id") == person_id:
            missing.discard(message["type"])
    return seen


def ids_of(messages: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in messages if "id" in m]


async def test_track_leaving_the_fence_opens_an_alert_seen_live_and_on_resume(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, "E2E-0001")
        fleet = Fleet(live.base_url, [device], interval_s=0)
        # the last whole cycle before now: home 0–200 s, out 200–300 s, away to 500 s, back by 600 s
        start = (time.time() // 600) * 600 - 600
        url = f"{live.ws_url}/v1/stream?token={officer.token}"
        async with websockets.connect(url) as ws:
            for t in range(0, 400, 10):
                await fleet.tick(client, start + t)
            opened = await receive_until(ws, {"alert.opened"}, device.person_id)
        assert fleet.failed == 0 and fleet.sent == 40
        alert = opened[-1]["alert"]
        assert alert["type"] == "out_of_area" and alert["status"] == "open"
        assert alert["person_id"] == device.person_id and alert["evidence_ping_ids"]
        ids = ids_of(opened)
        assert ids == sorted(set(ids)), "message ids must strictly increase"
        auth = {"Authorization": f"Bearer {officer.token}"}
        latest = (await client.get("/v1/positions/latest", headers=auth)).json()
        assert {p["person_id"]: p["status"] for p in latest}[device.person_id] == "outside"

        # while the officer is away: the person walks back, and the alert is acknowledged
        for t in range(400, 600, 10):
            await fleet.tick(client, start + t)
        ack = await client.post(
            f"/v1/alerts/{alert['id']}/ack", headers=auth, json={"note": "called"}
        )
        assert ack.status_code == 200, ack.text
        assert ack.json()["status"] == "acknowledged"

        async with websockets.connect(f"{url}&since={opened[-1]['id']}") as ws:
            missed = await receive_until(
                ws, {"person.returned", "alert.acknowledged"}, device.person_id
            )
    ids = ids_of(missed)
    assert ids == sorted(set(ids)) and ids[0] > opened[-1]["id"]
    returned = next(m for m in missed if m["type"] == "person.returned")
    assert returned["alert"]["id"] == alert["id"] and returned["episode_id"] == alert["episode_id"]


async def test_bad_input_gets_clear_errors_and_never_blocks_good_items(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, "E2E-0002")
        auth = {"Authorization": f"Bearer {device.token}"}
        now_ms = int(time.time() * 1000)
        good = {"ts": now_ms, "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}
        batch = [good, {**good, "lat": 123.0}, {**good, "ts": now_ms + 3_600_000}, {"lat": 1}, good]
        reply = await client.post("/v1/pings", headers=auth, json={"pings": batch})
        assert reply.status_code == 202, reply.text
        body = reply.json()
        assert body["accepted"] == 1 and body["duplicates"] == 1
        errors = {r["index"]: r["error"] for r in body["rejected"]}
        assert errors[1].startswith("lat:") and errors[2].startswith("ts:") and 3 in errors

        malformed = await client.post(
            "/v1/pings", headers={**auth, "content-type": "application/json"}, content=b"{not json"
        )
        assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["detail"]
        wrong = await client.post("/v1/pings", headers={"Authorization": "Bearer nope"}, json=good)
        assert wrong.status_code == 401
        other = await client.post(
            "/v1/pings", headers=auth, json={**good, "device_id": "someone-else"}
        )
        assert other.json()["rejected"][0]["error"].startswith("device_id:")
