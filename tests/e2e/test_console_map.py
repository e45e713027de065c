"""The console's Leaflet map in headless Chromium (Debian's): fences with names, dots that select,
scale bar, coordinates under the cursor; offline, and on a local GCJ-02 tile server. Screenshots
are left in tests/artifacts/ for a human to look at."""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import FloatRect, Page

from geofence.crs import gcj02_to_wgs84, wgs84_to_gcj02
from simulators.fleet import Fleet, offset
from tests.conftest import free_port
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import CENTRE, enrol, square

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
READOUT = re.compile(r"^-?\d+\.\d{6}, -?\d+\.\d{6}$")
# a few map pixels at the zoom a 2 km fence is fitted to; GCJ-02 moves Shenzhen ~500 m
PIXELS_DEG = 0.0003


def tile_png(size: int = 256) -> bytes:
    """A pale tile with a darker edge, so the tile grid shows in the screenshot."""
    edge, fill = b"\x9a\xa6\xb2", b"\xe8\xec\xf0"
    rows = [b"\x00" + edge * size] + [b"\x00" + edge + fill * (size - 2) + edge] * (size - 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        [chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(b"".join(rows))), chunk(b"IEND", b"")]
    )


@contextlib.asynccontextmanager
async def tile_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A PNG for any GET on a free port; yields the base URL and the paths asked for."""
    png, seen = tile_png(), []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        seen.append(request.split(b" ")[1].decode())
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
            + f"Content-Length: {len(png)}\r\n\r\n".encode()
            + png
        )
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        yield f"http://127.0.0.1:{port}", seen


def two_parts(*, islet: tuple[float, float], main: tuple[float, float]) -> dict[str, Any]:
    """A MultiPolygon whose first part is a small islet: one fence, one name on the map."""
    parts = [square(*islet, 30)["coordinates"], square(*main, 150)["coordinates"]]
    return {"type": "MultiPolygon", "coordinates": parts}


async def person_on_the_map(client: httpx.AsyncClient, officer: Officer) -> dict[str, Any]:
    """An enrolled person with an exclusion zone nearby and one position; the position."""
    device = await enrol(client, officer, f"M-{time.monotonic_ns()}")
    zone = await client.post(
        "/v1/fences",
        headers=auth(officer),
        json={
            "name": f"禁入区 <b>school</b> {device.person_id}",  # markup an officer may type
            "role": "exclusion",
            "crs": "wgs84",
            "geometry": two_parts(
                islet=offset(*CENTRE, -600, -200), main=offset(*CENTRE, -600, 500)
            ),
        },
    )
    assert zone.status_code == 201, zone.text
    # the start of the route's cycle: at the fence's centre, inside the view the map fits
    await Fleet("", [device], interval_s=0).tick(client, time.time() // 600 * 600)
    for _ in range(100):  # judged by the workers; the console's snapshot should include it
        latest = (await client.get("/v1/positions/latest", headers=auth(officer))).json()
        mine: list[dict[str, Any]] = [p for p in latest if p["person_id"] == device.person_id]
        if mine:
            return mine[0]
        await asyncio.sleep(0.2)
    raise AssertionError("no position for the new person")


async def hover_readout(page: Page, selector: str) -> dict[str, float]:
    """Point at the middle of `selector`; the readout's WGS-84 and map-datum coordinates."""
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    readout = page.locator("#map-cursor")
    assert READOUT.match(await readout.inner_text()), await readout.inner_text()
    data = await readout.evaluate("(el) => ({ ...el.dataset })")
    return {k: float(v) for k, v in data.items()}


SCALE_IS_NOT = (
    "(text) => document.querySelector('#map .leaflet-control-scale-line').innerText !== text"
)


async def drag_map(page: Page, dot: str) -> None:
    """Drag the map 100 px right and 50 px down, from a point away from the dot: the dot
    moves with it (and a little further: inertia)."""
    before = await page.locator(dot).bounding_box()
    assert before is not None
    await page.mouse.move(200, 300)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(200 + 10 * step, 300 + 5 * step)
    await page.mouse.up()
    after = await page.locator(dot).bounding_box()
    assert after is not None
    dx, dy = after["x"] - before["x"], after["y"] - before["y"]
    assert 98 < dx < 160 and 48 < dy < 80, (dx, dy)  # Leaflet's inertia carries it a little on


def middle(box: FloatRect) -> float:
    return box["x"] + box["width"] / 2


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name))


async def test_offline_the_map_shows_named_fences_and_dots_that_select(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        position = await person_on_the_map(client, officer)
    person_id = position["person_id"]
    dot = f"#map path.person-dot[data-person-id='{person_id}']"
    async with browser_page() as (page, errors):
        await log_in(page, live.base_url, officer)
        await page.wait_for_selector("#map.leaflet-container[data-basemap=none]")
        await page.wait_for_selector(dot, timeout=15_000)
        assert await page.locator("#map img.leaflet-tile").count() == 0, "offline: no tiles"
        assert await page.locator("#map path.fence-allowed").count() >= 1
        assert await page.locator("#map path.fence-exclusion").count() >= 1
        labels = await page.locator("#map .fence-label").all_inner_texts()
        assert f"area {position['case_number']}" in labels  # offline, every fence is named
        assert f"禁入区 <b>school</b> {person_id}" in labels  # as text, not parsed as markup
        assert await page.locator("#map .fence-label b").count() == 0
        # named once, on its main part (the islet is west of it, and listed first)
        zone = page.locator("#map .fence-label-exclusion")
        assert await zone.count() == 1
        label, shape = (
            await zone.bounding_box(),
            await page.locator("#map path.fence-exclusion").bounding_box(),
        )
        assert label and shape and middle(label) > shape["x"] + shape["width"] / 2

        # the pointer over the dot reads the person's position (no datum shift offline)
        under = await hover_readout(page, dot)
        assert abs(under["lat"] - position["lat"]) < PIXELS_DEG
        assert abs(under["lon"] - position["lon"]) < PIXELS_DEG
        assert under["lat"] == under["mapLat"] and under["lon"] == under["mapLon"]

        assert await page.locator("#map path.selected-ring").count() == 0
        await page.click(dot)
        ring = page.locator("#map path.selected-ring")
        await ring.wait_for(timeout=5_000)
        ring_box, dot_box = await ring.bounding_box(), await page.locator(dot).bounding_box()
        assert ring_box and dot_box
        assert abs(middle(ring_box) - middle(dot_box)) < 2, "the ring is around the dot"
        await page.click("#person-close")  # the person panel it opened covers the map's left

        scale = page.locator("#map .leaflet-control-scale-line")
        before = await scale.inner_text()
        assert re.fullmatch(r"\d+ k?m", before), before
        await screenshot(page, "console-map-offline.png")
        await page.click("#map .leaflet-control-zoom-in")
        await page.wait_for_function(SCALE_IS_NOT, arg=before)
        await drag_map(page, dot)
        await page.click("#map-fit")  # above Leaflet's panes, and fits the fences again
        await page.wait_for_function(f"(text) => !({SCALE_IS_NOT})(text)", arg=before)
    assert errors == [], errors


async def test_on_gcj02_tiles_the_dots_sit_shifted_and_the_csp_admits_the_tile_server(
    database_url: str, redis_url: str, live: Live, officer: Officer
) -> None:
    async with tile_server() as (tiles, seen):
        settings = settings_for(database_url, redis_url).model_copy(
            update={
                "tile_url": f"{tiles}/{{z}}/{{x}}/{{y}}.png",
                "tile_attribution": "<b>local tiles</b>",
                "run_workers": False,  # the session's server judges the pings
            }
        )
        async with (
            running(settings) as server,
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            csp = (await client.get("/console/")).headers["content-security-policy"]
            assert f"img-src 'self' data: {tiles};" in csp
            config = (await client.get("/console/config.json")).json()
            assert config == {
                "tile_url": settings.tile_url,
                "tile_crs": "gcj02",
                "tile_attribution": "<b>local tiles</b>",
                "time_zone": "Asia/Shanghai",
            }
            position = await person_on_the_map(client, officer)
            async with browser_page() as (page, errors):
                await log_in(page, server.base_url, officer)
                await page.wait_for_selector("#map[data-basemap=gcj02]")
                dot = f"#map path.person-dot[data-person-id='{position['person_id']}']"
                await page.wait_for_selector(dot, timeout=15_000)
                await page.wait_for_selector("#map img.leaflet-tile-loaded", timeout=10_000)
                under = await hover_readout(page, dot)
                await screenshot(page, "console-map-gcj02-tiles.png")
                attribution = await page.inner_text("#map .leaflet-control-attribution")
            assert errors == [], errors
    assert any(re.fullmatch(r"/\d+/\d+/\d+\.png", path) for path in seen), seen
    assert "<b>local tiles</b>" in attribution  # shown as text, never parsed as markup
    # the dot is drawn at the GCJ-02 spot of the person's WGS-84 position, as geofence.crs has it
    g_lat, g_lon = wgs84_to_gcj02(position["lat"], position["lon"])
    assert abs(under["mapLat"] - float(g_lat)) < PIXELS_DEG
    assert abs(under["mapLon"] - float(g_lon)) < PIXELS_DEG
    assert abs(float(g_lon) - position["lon"]) > 10 * PIXELS_DEG, "a shift this test can see"
    # ... and the readout converts back: officers read WGS-84, as pings and fences are stored
    assert abs(under["lat"] - position["lat"]) < PIXELS_DEG
    assert abs(under["lon"] - position["lon"]) < PIXELS_DEG


POINTS = [(22.55, 114.05), (39.9087, 116.3975), (31.2304, 121.4737), (48.8566, 2.3522)]


async def test_geo_js_converts_as_geofence_crs_does(live: Live) -> None:
    """The console's port of geofence/crs.py, run in Chromium, against the Python original."""
    async with browser_page() as (page, errors):
        await page.goto(f"{live.base_url}/console/")
        shifted, back = await page.evaluate(
            """async (points) => {
                const geo = await import("/console/geo.js");
                const there = points.map(([lat, lon]) => geo.fromWgs84([lon, lat], "gcj02"));
                return [there, there.map((p) => geo.toWgs84(p, "gcj02"))];
            }""",
            POINTS,
        )
    assert errors == [], errors
    for (lat, lon), (js_lon, js_lat), (back_lon, back_lat) in zip(
        POINTS, shifted, back, strict=True
    ):
        g_lat, g_lon = wgs84_to_gcj02(lat, lon)
        assert (js_lat, js_lon) == pytest.approx((float(g_lat), float(g_lon)), abs=1e-9)
        w_lat, w_lon = gcj02_to_wgs84(js_lat, js_lon)
        assert (back_lat, back_lon) == pytest.approx((float(w_lat), float(w_lon)), abs=1e-8)
        assert (back_lat, back_lon) == pytest.approx((lat, lon), abs=1e-6)
    assert shifted[-1] == [POINTS[-1][1], POINTS[-1][0]], "outside China: unchanged"
