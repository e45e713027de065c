"""Device credentials over HTTP: rotate (old token refused), revoke (refused), list."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow


def ping() -> dict[str, float | int]:
    return {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}


async def test_rotate_then_revoke(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"D-{time.monotonic_ns()}")
        auth = {"Authorization": f"Bearer {officer.token}"}
        old = {"Authorization": f"Bearer {device.token}"}
        assert (await client.post("/v1/pings", headers=old, json=ping())).status_code == 202

        rotated = await client.post(f"/v1/devices/{device.device_id}/rotate", headers=auth)
        assert rotated.status_code == 200 and rotated.json()["token"] not in (None, device.token)
        new = {"Authorization": f"Bearer {rotated.json()['token']}"}
        await asyncio.sleep(live.settings.device_cache_s + 0.1)
        assert (await client.post("/v1/pings", headers=old, json=ping())).status_code == 401
        assert (await client.post("/v1/pings", headers=new, json=ping())).status_code == 202

        revoked = await client.post(f"/v1/devices/{device.device_id}/revoke", headers=auth)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        await asyncio.sleep(live.settings.device_cache_s + 0.1)
        assert (await client.post("/v1/pings", headers=new, json=ping())).status_code == 401
        again = await client.post(f"/v1/devices/{device.device_id}/rotate", headers=auth)
        assert again.status_code == 409

        listed = await client.get(f"/v1/persons/{device.person_id}/devices", headers=auth)
        assert [d["device_id"] for d in listed.json()] == [device.device_id]
        assert listed.json()[0]["revoked_at"] and listed.json()[0]["token"] is None


async def test_listed_devices_carry_their_latest_fix(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"D-{time.monotonic_ns()}")
        auth = {"Authorization": f"Bearer {officer.token}"}
        url = f"/v1/persons/{device.person_id}/devices"
        assert (await client.get(url, headers=auth)).json()[0]["last_fix_at"] is None
        bearer = {"Authorization": f"Bearer {device.token}"}
        first, last = ping(), ping()
        last["ts"] = int(first["ts"]) + 60_000
        first["battery_pct"], last["battery_pct"] = 80, 41
        for fix in (last, first):  # arrival order is not fix order: the latest fix counts
            assert (await client.post("/v1/pings", headers=bearer, json=fix)).status_code == 202
        listed = (await client.get(url, headers=auth)).json()[0]
        assert listed["battery_pct"] == 41 and listed["tamper"] is False
        assert listed["silent"] is False and listed["silent_after_s"] == 300  # strict: 5 min
        assert listed["last_fix_at"].startswith(
            time.strftime("%Y-%m-%dT%H:%M", time.gmtime(int(last["ts"]) / 1000))
        )
        assert listed["last_received_at"]
        unknown = await client.post("/v1/devices/no-such-device/revoke", headers=auth)
        assert unknown.status_code == 404
