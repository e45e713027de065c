"""Bad fix times and accuracies over HTTP: refused by name, one item at a time, nothing lost."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_app_formats import stored
from tests.e2e.test_slice import CENTRE, enrol
from tests.ingest.test_ingest_ts import FAR_OFFSETS

pytestmark = pytest.mark.slow


def native(ts: object) -> dict[str, Any]:
    return {"ts": ts, "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}


async def test_a_far_offset_ts_is_one_items_error_and_the_batch_is_stored(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"TS-{time.monotonic_ns()}")
        now_ms = int(time.time() * 1000)
        batch = [native(now_ms - 2000), *map(native, FAR_OFFSETS), native(now_ms - 1000)]
        auth = {"Authorization": f"Bearer {device.token}"}
        posted = await client.post("/v1/pings", headers=auth, json=batch)
        assert posted.status_code == 202, posted.text
        assert posted.json()["accepted"] == 2
        rejected = posted.json()["rejected"]
        assert [e["index"] for e in rejected] == [1, 2, 3]
        assert all(e["error"].startswith("ts: ") for e in rejected), rejected
        assert await stored(client, officer, device.person_id) == 2


async def test_osmand_refuses_bad_times_and_hdop_by_the_apps_names(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"TO-{time.monotonic_ns()}")
        url = f"/osmand/{device.token}"
        query: dict[str, str | float] = {
            "id": device.device_id,
            "lat": CENTRE[0],
            "lon": CENTRE[1],
        }
        far = await client.post(url, params={**query, "timestamp": "0001-01-01 00:00:00+08:00"})
        assert far.status_code == 400 and far.text.startswith("timestamp: "), far.text
        timeless = await client.post(url, params=query)
        assert timeless.status_code == 400 and timeless.text.startswith("timestamp: required")
        timeless_form = await client.post(url, data=query)
        assert timeless_form.status_code == 400, timeless_form.text
        assert timeless_form.text.startswith("timestamp: required")
        negative = await client.post(url, params={**query, "timestamp": 1, "hdop": "-2"})
        assert negative.status_code == 400 and negative.text.startswith("hdop: "), negative.text
        coords = {"latitude": CENTRE[0], "longitude": CENTRE[1], "accuracy": 5}
        location: dict[str, Any] = {"coords": coords}
        body = {"device_id": device.device_id, "location": location}
        json_timeless = await client.post(url, json=body)
        assert json_timeless.status_code == 400
        assert json_timeless.text.startswith("location.timestamp: required"), json_timeless.text
        location["timestamp"] = "9999-12-31T23:59:59-14:00"
        json_far = await client.post(url, json=body)
        assert json_far.status_code == 400
        assert json_far.text.startswith("location.timestamp: "), json_far.text
        assert await stored(client, officer, device.person_id) == 0


async def test_owntracks_names_tst(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"TT-{time.monotonic_ns()}")
        future = int(time.time()) + 86_400
        location = {"_type": "location", "lat": CENTRE[0], "lon": CENTRE[1], "tst": future}
        auth = (device.device_id, device.token)
        posted = await client.post("/owntracks", json=location, auth=auth)
        assert posted.status_code == 400 and posted.text.startswith("tst: "), posted.text


async def test_a_nul_costs_only_its_own_ping(live: Live, officer: Officer) -> None:
    """PostgreSQL cannot store a NUL: the request's every ping was refused (422), and an
    identifier-only id holding one was a 500."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"TN-{time.monotonic_ns()}")
        now_ms = int(time.time() * 1000)
        bad = {**native(now_ms - 500), "attrs": {"note": "a\x00b"}}
        auth = {"Authorization": f"Bearer {device.token}"}
        posted = await client.post("/v1/pings", headers=auth, json=[native(now_ms - 900), bad])
        assert posted.status_code == 202, posted.text
        assert posted.json()["accepted"] == 1
        assert [e["index"] for e in posted.json()["rejected"]] == [1]
        assert posted.json()["rejected"][0]["error"].startswith("attrs.note: ")
        assert await stored(client, officer, device.person_id) == 1
        query: dict[str, str | int] = {"id": "a\x00b", "lat": 1, "lon": 2, "timestamp": 1}
        bare = await client.get("/osmand", params=query)
        assert bare.status_code == 400 and bare.text.startswith("id: "), bare.text
        bare_json = await client.post("/osmand", json={"device_id": "a\x00", "location": {}})
        assert bare_json.status_code == 404 and bare_json.text.startswith("id: "), bare_json.text


async def test_owntracks_with_the_database_down_is_503_not_a_bad_credential(
    redis_url: str,
) -> None:
    """The app retries a 503; a 401 told its user to re-enter a credential that was right."""
    dead_database = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    async with (
        running(settings_for(dead_database, redis_url)) as down,
        httpx.AsyncClient(base_url=down.base_url) as client,
    ):
        location = {"_type": "location", "lat": CENTRE[0], "lon": CENTRE[1], "tst": 1}
        posted = await client.post("/owntracks", json=location, auth=("device", "token"))
        assert posted.status_code == 503 and posted.headers["retry-after"], posted.text
