"""Slow bodies against a real server socket (issue 18, item 2): a stranger's request holds no
in-flight slot and no socket, and a body that does not arrive is refused once it is late."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.device_fast_path import in_front_of
from ingest.single_write_http import OneWriteProtocol
from monitor.app import create_app
from monitor.settings import Settings
from simulators.fleet import SimDevice
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

MAX_INFLIGHT = 4
STRANGERS = 3 * MAX_INFLIGHT  # per route: every slot, several times over
ANSWER_WAIT_S = 30.0  # no timing is asserted: this only keeps a failing run from hanging


def served(settings: Settings) -> contextlib.AbstractAsyncContextManager[Live]:
    """The app as `monitor serve` runs it: device routes in front, one write per answer."""
    app = in_front_of(create_app(settings))
    return running(settings, app=app, http=OneWriteProtocol, proxy_headers=False)


@pytest.fixture(params=["as tested", "as served"])
async def guarded(
    request: pytest.FixtureRequest, database_url: str, redis_url: str
) -> AsyncIterator[Live]:
    """A server with few in-flight slots and a short body deadline: as the other end-to-end
    tests run it, and as `monitor serve` does."""
    settings = settings_for(database_url, redis_url).model_copy(
        update={"max_inflight_requests": MAX_INFLIGHT, "body_read_timeout_s": 1.0}
    )
    async with (running if request.param == "as tested" else served)(settings) as live:
        yield live


Stalled = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def opened(guarded: Live) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """The test's raw connections, closed before the server stops (which waits for them)."""
    writers: list[asyncio.StreamWriter] = []
    yield writers
    for writer in writers:
        writer.close()


async def stalled(
    live: Live, opened: list[asyncio.StreamWriter], target: str, headers: dict[str, str]
) -> Stalled:
    """A request that declares 1000 bytes of body and sends a few: then nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live.settings.port)
    opened.append(writer)
    lines = [f"POST {target} HTTP/1.1", "Host: test", "Content-Length: 1000"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + b"id=123&lat=")
    await writer.drain()
    return reader, writer


async def answer(connection: Stalled) -> tuple[int, dict[str, str]]:
    """The status and headers the server answered, once it has closed the connection."""
    reader, writer = connection
    raw = await asyncio.wait_for(reader.read(), ANSWER_WAIT_S)  # until the server closes
    writer.close()
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    pairs = (line.split(":", 1) for line in head[1:])
    return int(head[0].split()[1]), {k.strip().lower(): v.strip() for k, v in pairs}


def native_ping() -> dict[str, float | int]:
    return {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}


async def legitimate_pings_pass(live: Live, device: SimDevice) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=ANSWER_WAIT_S) as client:
        auth = {"Authorization": f"Bearer {device.token}"}
        native = await client.post("/v1/pings", headers=auth, json=native_ping())
        assert native.status_code == 202, native.text
        query: dict[str, str | float] = {
            "id": device.device_id,
            "lat": CENTRE[0],
            "lon": CENTRE[1],
            "timestamp": int(time.time()),
        }
        osmand = await client.post(f"/osmand/{device.token}", params=query)
        assert osmand.status_code == 200, osmand.text


def garbled_basic() -> str:
    return "Basic " + base64.b64encode(b"someone:wrong").decode()


STRANGER_REQUESTS = [
    ("/osmand/not-a-token", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("/v1/pings", {"Authorization": "Bearer not-a-token"}, 401),
    ("/owntracks", {"Authorization": garbled_basic()}, 401),
    # identifier-only: the id may be in the body, which is read holding no slot, until late
    ("/osmand", {"Content-Type": "application/x-www-form-urlencoded"}, 408),
]


async def test_strangers_slow_bodies_hold_no_slot_and_no_socket(
    guarded: Live, opened: list[asyncio.StreamWriter], live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"SB-{time.monotonic_ns()}")
    strangers = [
        (await stalled(guarded, opened, target, headers), status)
        for target, headers, status in STRANGER_REQUESTS
        for _ in range(STRANGERS)
    ]
    await asyncio.sleep(0.2)  # let the server take them in; they would now hold every slot
    await legitimate_pings_pass(guarded, device)
    for connection, expected in strangers:
        status, headers = await answer(connection)
        assert (status, headers.get("connection")) == (expected, "close")


async def test_a_slow_body_is_refused_with_408_and_its_slot_freed(
    guarded: Live, opened: list[asyncio.StreamWriter], live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"SD-{time.monotonic_ns()}")
    auth = {"Authorization": f"Bearer {device.token}"}
    # a device's own slow body holds its slot, but only until the deadline
    slow = [await stalled(guarded, opened, "/v1/pings", auth) for _ in range(MAX_INFLIGHT - 1)]
    slow.append(await stalled(guarded, opened, f"/osmand/{device.token}", {}))
    for connection in slow:
        status, headers = await answer(connection)
        assert (status, headers.get("connection")) == (408, "close")
    await legitimate_pings_pass(guarded, device)


async def test_the_408_is_documented_for_every_device_route(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/pings", "/osmand/{token}", "/osmand", "/owntracks"):
        for operation in spec["paths"][path].values():
            assert "408" in operation["responses"], (path, operation["operationId"])
