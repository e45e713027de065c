"""The person panel in headless Chromium (Debian's): an alert row or a dot shows who they are,
their device, order, rules and open alert; the track of the last 24 h is drawn, and the slider,
play and the range move the marker fix by fix. Reading the track leaves an audit row."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from simulators.fleet import offset
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_console_map import PIXELS_DEG, hover_readout, screenshot
from tests.e2e.test_registry import bearer
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

INSIDE, OUTSIDE = 10, 8  # fixes a minute apart: at home, then 3 km north of the fence
MARKER = "#map path.track-marker"


def track_pings(device_id: str, t0: float) -> list[dict[str, Any]]:
    """Home for ten minutes, then out of the area for eight; the battery runs down."""
    pings = []
    for i in range(INSIDE + OUTSIDE):
        lat, lon = offset(*CENTRE, 3000 + 40 * i if i >= INSIDE else 20 * i, 0)
        pings.append({
            "device_id": device_id, "lat": lat, "lon": lon, "battery_pct": 80 - i,
            "accuracy_m": 15 if i >= INSIDE else 8,
            "ts": datetime.fromtimestamp(t0 + 60 * i, UTC).isoformat(),
        })  # fmt: skip
    return pings


async def person_out_of_area(
    client: httpx.AsyncClient, officer: Officer
) -> tuple[int, str, list[dict[str, Any]], dict[str, Any]]:
    """A person whose pings of the last half hour left the fence: id, case, pings, the alert."""
    case = f"P-{time.monotonic_ns()}"
    device = await enrol(client, officer, case)
    t0 = time.time() // 60 * 60 - 1800  # a whole minute: the custom range below is in minutes
    pings = track_pings(device.device_id, t0)
    posted = await client.post(
        "/v1/pings", json=pings, headers={"Authorization": f"Bearer {device.token}"}
    )
    assert posted.status_code == 202 and posted.json()["accepted"] == len(pings), posted.text
    for _ in range(150):  # judged by the workers
        alerts = await client.get(
            "/v1/alerts", params={"person_id": device.person_id}, headers=auth(officer)
        )
        away = [a for a in alerts.json() if a["type"] == "out_of_area"]
        latest = (await client.get("/v1/positions/latest", headers=auth(officer))).json()
        if away and any(p["person_id"] == device.person_id for p in latest):
            return device.person_id, case, pings, away[0]
        await asyncio.sleep(0.2)
    raise AssertionError("no out_of_area alert or position for the new person")


async def marker_at(page: Page, index: int) -> None:
    await page.wait_for_function(
        f"(i) => document.querySelector('{MARKER}')?.dataset.index === String(i)", arg=index
    )


async def shown_fix(page: Page) -> dict[str, Any]:
    """The readout under the slider, and what formatTime makes of its instant in this page."""
    shown: dict[str, Any] = await page.evaluate(
        """async () => {
            const { formatTime } = await import("/console/config.js");
            const time = document.querySelector("#track-time");
            return { iso: time.dateTime, text: time.textContent,
                expected: formatTime(time.dateTime),
                accuracy: document.querySelector("#track-accuracy").textContent,
                area: document.querySelector("#track-area").dataset.area,
                index: document.querySelector("#track-index").textContent };
        }"""
    )
    assert shown["text"] == shown["expected"] and shown["text"], shown
    return shown


def same_instant(iso: str, ping: dict[str, Any]) -> bool:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) == datetime.fromisoformat(ping["ts"])


async def test_clicking_a_dot_opens_the_person_and_plays_back_their_track(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        person_id, case, pings, alert = await person_out_of_area(client, officer)
        spare = await client.post(
            "/v1/devices", headers=auth(officer), json={"person_id": person_id, "kind": "wrist"}
        )
        assert spare.status_code == 201, spare.text
    device_id, spare_id = pings[0]["device_id"], spare.json()["device_id"]
    async with pool.acquire() as conn:  # the spare was enrolled an hour ago, and never heard
        await conn.execute(
            "UPDATE devices SET created_at = now() - interval '1 hour' WHERE id = $1", spare_id
        )
    async with browser_page() as (page, errors):
        await log_in(page, live.base_url, officer)
        opened_at = datetime.now(UTC)
        # the alert's row opens the panel (the person is off the fitted fence, so off screen)
        await page.click(f"#alert-list li[data-alert-id='{alert['id']}']", timeout=15_000)
        panel = f"#person-panel[data-person-id='{person_id}'][data-ready=true]"
        await page.wait_for_selector(panel, timeout=10_000)

        # who, which device and when it was last heard, the open alert
        assert await page.inner_text("#person-case") == case
        level = page.locator("#person-title .level[data-level=strict]")
        assert (
            await level.evaluate("(e) => getComputedStyle(e).backgroundColor") == "rgb(239, 68, 68)"
        )
        assert (await page.inner_text("#person-office")).startswith("city-")
        assert await page.locator("#person-devices li.device").count() == 2
        device = page.locator(f"#person-devices li.device[data-device-id='{device_id}']")
        assert "63%" in await device.inner_text()  # the last ping's battery
        last_fix = await device.locator("time.last-fix").get_attribute("datetime")
        assert last_fix and same_instant(last_fix, pings[-1])
        assert "分钟前" in await device.locator("time.last-fix").inner_text()  # "min ago"
        # not silent: its fixes are 13 min old, but it was enrolled a minute ago, and silence
        # counts from the latest of the newest fix, the enrolment and the order's start (as the
        # timers count it); the spare band, enrolled an hour ago, never reported: silent
        assert await device.get_attribute("data-silent") == "false"
        unheard = page.locator(f"#person-devices li.device[data-device-id='{spare_id}']")
        assert await unheard.get_attribute("data-silent") == "true"
        assert await unheard.locator(".flag-silent").count() == 1
        assert await page.locator("#person-order li").count() == 1
        panel_alert = page.locator(f"#person-alerts li[data-alert-id='{alert['id']}']")
        assert await panel_alert.count() == 1

        # the last 24 h of track: drawn once, outside stretches apart, the marker on fix 0
        fixes = INSIDE + OUTSIDE
        await page.wait_for_selector(f"#track-panel[data-fixes='{fixes}']", timeout=10_000)
        note = await page.inner_text("#track-note")
        assert str(fixes) in note and str(OUTSIDE) in note, note
        assert await page.locator("#map path.track-line").count() == 1
        assert await page.locator("#map path.track-outside").count() == 1
        await marker_at(page, 0)

        # the slider to a fix out of the area: the marker sits on it, its time and accuracy shown
        await page.locator("#track-slider").fill(str(INSIDE + 2))
        await marker_at(page, INSIDE + 2)
        shown = await shown_fix(page)
        assert same_instant(shown["iso"], pings[INSIDE + 2])
        assert "15" in shown["accuracy"] and shown["area"] == "outside"
        assert shown["index"] == f"{INSIDE + 3} / {fixes}"
        under = await hover_readout(page, MARKER)
        assert abs(under["lat"] - pings[INSIDE + 2]["lat"]) < PIXELS_DEG
        assert abs(under["lon"] - pings[INSIDE + 2]["lon"]) < PIXELS_DEG
        await page.focus("#track-slider")
        await page.keyboard.press("Home")
        await marker_at(page, 0)
        assert same_instant((await shown_fix(page))["iso"], pings[0])
        assert (await shown_fix(page))["area"] == "inside"

        # play at ×600: the fixes are a minute apart, so a tenth of a second each
        await page.select_option("#track-speed", "600")
        began = time.monotonic()
        await page.click("#track-play")
        await marker_at(page, fixes - 1)
        took = time.monotonic() - began
        assert 0.9 * (fixes - 1) * 0.1 < took < 10, took
        await page.wait_for_selector("#track-play[aria-pressed=false]")
        assert same_instant((await shown_fix(page))["iso"], pings[-1])
        # fix by fix: one every 0.4 s, whatever the time between them
        await page.locator("#track-slider").fill(str(fixes - 4))
        await page.select_option("#track-speed", "fix")
        began = time.monotonic()
        await page.click("#track-play")
        await marker_at(page, fixes - 1)
        assert 0.9 * 3 * 0.4 < time.monotonic() - began < 5
        await screenshot(page, "console-person-panel.png")

        # a custom range: the first ten minutes are the ten fixes at home
        # (typed on the configured zone's clock, as the console shows times)
        zone, minute = ZoneInfo(live.settings.time_zone), "%Y-%m-%dT%H:%M"
        first, back = (datetime.fromisoformat(pings[i]["ts"]).astimezone(zone) for i in (0, INSIDE))
        await page.fill("#track-from", (first - timedelta(minutes=1)).strftime(minute))
        await page.fill("#track-to", back.strftime(minute))  # the range ends before this fix
        await page.click("#track-show")
        await page.wait_for_selector(f"#track-panel[data-fixes='{INSIDE}']", timeout=10_000)
        assert await page.locator("#map path.track-outside").count() == 0

        # the open alert in the panel selects that alert in the list; the panel stays
        await panel_alert.click()
        await page.wait_for_selector(f"#alert-list li.selected[data-alert-id='{alert['id']}']")
        assert await page.locator(f"{panel} #person-alerts li.selected").count() == 1
        assert await page.locator("#map path.track-line").count() == 1, "the track is kept"

        await page.click("#person-close")
        await page.wait_for_selector("#person-panel", state="hidden")
        assert await page.locator("#map path.track-line, #map path.track-outside").count() == 0
        assert await page.locator(MARKER).count() == 0

        # the person's dot (on screen now: the map went to their track) opens the panel too
        await page.click(f"#map path.person-dot[data-person-id='{person_id}']")
        await page.wait_for_selector(panel, timeout=10_000)
        await page.wait_for_selector(f"#track-panel[data-fixes='{fixes}']", timeout=10_000)
    assert errors == [], errors

    # each range read is in the audit log, by this officer, for this person
    async with pool.acquire() as conn:
        reads = await conn.fetch(
            "SELECT a.details, a.at FROM audit_log a JOIN officers o ON o.id = a.officer_id "
            "WHERE a.action = 'read_track' AND a.subject = $1 AND o.username = $2 ORDER BY a.id",
            f"person:{person_id}",
            officer.username,
        )
    assert len(reads) == 3, reads  # the default 24 h, the custom range, 24 h again
    start, end = (datetime.fromisoformat(reads[0]["details"][k]) for k in ("start", "end"))
    assert end - start == timedelta(hours=24)
    assert abs((end - opened_at).total_seconds()) < 30


LONG = 10_001  # one more than the console draws


async def test_a_track_longer_than_the_console_draws_is_cut_and_said_so(
    live: Live, officer: Officer
) -> None:
    """10,001 fixes in 50 minutes: the first 10,000 are drawn, once; the slider moves only the
    marker, so its cost does not grow with the track."""
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as client:
        device = await enrol(client, officer, f"L-{time.monotonic_ns()}", level="lenient")
        t0_ms = int(time.time() - 3100) * 1000  # within the order, which began an hour ago
        pings = [  # wandering about at home, 200 m either way, a fix every 0.3 s
            {"ts": t0_ms + 300 * i, "accuracy_m": 10,
             "lat": CENTRE[0] + 0.002 * math.sin(i / 500),
             "lon": CENTRE[1] + 0.002 * math.cos(i / 700)}
            for i in range(LONG)
        ]  # fmt: skip
        for at in range(0, LONG, 4000):
            posted = await client.post(
                "/v1/pings", json=pings[at : at + 4000], headers=bearer(device.token)
            )
            assert posted.json()["accepted"] == len(pings[at : at + 4000]), posted.text
        for _ in range(150):  # judged by the workers: the dot is then on the map
            latest = (await client.get("/v1/positions/latest", headers=auth(officer))).json()
            if any(p["person_id"] == device.person_id for p in latest):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("no position for the new person")
    async with browser_page() as (page, errors):
        await log_in(page, live.base_url, officer)
        began = time.monotonic()
        await page.click(f"#map path.person-dot[data-person-id='{device.person_id}']")
        await page.wait_for_selector("#track-panel[data-fixes='10000']", timeout=30_000)
        drawn_s = time.monotonic() - began
        assert await page.get_attribute("#track-note", "data-cut") == "true"
        assert "10000" in await page.inner_text("#track-note")
        assert await page.locator("#map path.track-line").count() == 1
        move_ms = await page.evaluate(
            """() => {
                const slider = document.querySelector("#track-slider"), took = [];
                for (const i of [9999, 0, 5000, 1234, 8765]) {
                    const began = performance.now();
                    slider.value = i;
                    slider.dispatchEvent(new Event("input"));
                    took.push(performance.now() - began);
                }
                return Math.max(...took);
            }"""
        )
        await marker_at(page, 8765)
        assert await page.inner_text("#track-index") == "8766 / 10000"
        await screenshot(page, "console-person-long-track.png")
    assert errors == [], errors
    print(f"10,001-fix range: drawn {drawn_s:.2f} s after the click; slider move {move_ms:.1f} ms")
    assert move_ms < 50, move_ms
