"""OsmAnd and OwnTracks over HTTP, answered the way each app expects."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow


async def stored(client: httpx.AsyncClient, officer: Officer, person_id: int) -> int:
    track = await client.get(
        f"/v1/persons/{person_id}/track", headers={"Authorization": f"Bearer {officer.token}"}
    )
    return len(track.json())


async def test_osmand_query_and_json_variants(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"O-{time.monotonic_ns()}")
        now = int(time.time())
        query: dict[str, str | int | float] = {
            "id": device.device_id,
            "lat": CENTRE[0],
            "lon": CENTRE[1],
            "timestamp": now,
            "accuracy": 8,
            "speed": 2,
            "alarm": "sos",
        }
        posted = await client.post(f"/osmand/{device.token}", params=query)
        assert posted.status_code == 200 and posted.text == ""
        # what Starlette's Response(status_code=200) sends, as the OsmAnd route always did
        assert posted.headers["content-length"] == "0" and "content-type" not in posted.headers
        form = await client.post(f"/osmand/{device.token}", data={**query, "timestamp": now - 5})
        assert form.status_code == 200
        body = {
            "device_id": device.device_id,
            "location": {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10)),
                "coords": {
                    "latitude": CENTRE[0],
                    "longitude": CENTRE[1],
                    "accuracy": 5,
                    "speed": 1.0,
                    "heading": 10,
                    "altitude": 3,
                },
            },
        }
        assert (await client.post(f"/osmand/{device.token}", json=body)).status_code == 200
        assert await stored(client, officer, device.person_id) == 3

        wrong = await client.post("/osmand/not-a-token", params=query)
        assert wrong.status_code == 400
        wrong_json = await client.post("/osmand/not-a-token", json=body)
        assert wrong_json.status_code == 404
        bare = await client.post("/osmand", params=query)
        assert bare.status_code == 400, "a device with a token may not post identifier-only"
        bad = await client.post(f"/osmand/{device.token}", params={**query, "lat": "north"})
        assert bad.status_code == 400 and bad.text.startswith("lat:")
        assert bad.headers["content-type"] == "text/plain; charset=utf-8"


async def test_owntracks_http_mode(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"T-{time.monotonic_ns()}")
        auth = (device.device_id, device.token)
        location = {
            "_type": "location",
            "lat": CENTRE[0],
            "lon": CENTRE[1],
            "acc": 10,
            "tst": int(time.time()),
            "tid": "t1",
            "batt": 55,
        }
        headers = {"X-Limit-U": "officer-phone", "X-Limit-D": device.device_id}
        posted = await client.post("/owntracks", json=location, auth=auth, headers=headers)
        assert posted.status_code == 200 and posted.json() == []
        card = await client.post("/owntracks", json={"_type": "card", "name": "x"}, auth=auth)
        assert card.status_code == 200 and card.json() == []
        assert await stored(client, officer, device.person_id) == 1
        denied = await client.post("/owntracks", json=location, auth=(device.device_id, "nope"))
        assert denied.status_code == 401 and "basic" in denied.headers["www-authenticate"].lower()
        garbled = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
        assert (await client.post("/owntracks", json=location, headers=garbled)).status_code == 401


async def test_identifier_only_devices_post_to_bare_osmand(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"I-{time.monotonic_ns()}")
        auth = {"Authorization": f"Bearer {officer.token}"}
        made = await client.post(
            "/v1/devices",
            headers=auth,
            json={
                "person_id": device.person_id,
                "kind": "phone",
                "identifier_only": True,
                "device_id": f"imei-{time.monotonic_ns()}",
            },
        )
        assert made.status_code == 201 and made.json()["token"] is None
        query = {
            "id": made.json()["device_id"],
            "lat": CENTRE[0],
            "lon": CENTRE[1],
            "timestamp": int(time.time()),
        }
        assert (await client.get("/osmand", params=query)).status_code == 200
        assert await stored(client, officer, device.person_id) == 1
        unknown = await client.get("/osmand", params={**query, "id": "never-enrolled"})
        assert unknown.status_code == 400
