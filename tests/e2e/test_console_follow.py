"""The console follows records that move, in headless Chromium (Debian's) against real servers:
a person transferred away leaves the old office's console at once (alert, dot, Persons row) with
a notice saying where the case went, the city's console renames the office in place and the new
office's console receives the moved alert live; an open person panel shows a new alert of its
person and where they are now without being reopened, its track playback left where it was."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from monitor.registry import schemas
from monitor.registry import store as registry_store
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer, make_admin
from tests.e2e.conftest import log_in as token_for
from tests.e2e.test_audit_coverage import open_alert
from tests.e2e.test_casework import city_fence, new_person
from tests.e2e.test_console_map import screenshot
from tests.e2e.test_console_person import INSIDE, track_pings
from tests.e2e.test_console_roster import located
from tests.e2e.test_registry import bearer
from tests.e2e.test_slice import enrol, order_and_band

pytestmark = pytest.mark.slow


async def street(live: Live, pool: asyncpg.Pool, city: Officer, name: str) -> Officer:
    """A street office under the officer's city, with an admin of its own, logged in."""
    async with pool.acquire() as conn:
        made = await registry_store.insert_jurisdiction(
            conn,
            data=schemas.JurisdictionIn(name=name, level="street", parent_id=city.jurisdiction_id),
        )
        password = await make_admin(conn, made.id, name)
    return Officer(name, password, made.id, await token_for(live.base_url, name, password))


async def located_person(
    client: httpx.AsyncClient, office: Officer, fence_id: int
) -> dict[str, Any]:
    """A person of `office` with an order, a band and a fix at home that the workers judged."""
    person = await new_person(client, office.token, office.jurisdiction_id, fence_id)
    device_id, token = await order_and_band(client, bearer(office.token), person["id"])
    pings = track_pings(device_id, time.time() - 600)[:3]
    posted = await client.post("/v1/pings", json=pings, headers=bearer(token))
    assert posted.status_code == 202 and posted.json()["accepted"] == 3, posted.text
    await located(client, office, {person["id"]})
    return person


@asynccontextmanager
async def pages(first: Page, n: int) -> AsyncIterator[list[Page]]:
    """`n` more pages beside `first`, each in its own context (its own stored session)."""
    browser = first.context.browser
    assert browser is not None
    contexts = [
        await browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(n)
    ]
    others = [await c.new_page() for c in contexts]
    errors: list[str] = []
    for page in others:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.extend([m.text] if "Security Policy" in m.text else []))
    try:
        yield others
    finally:
        for c in contexts:
            await c.close()
    assert errors == [], errors


async def test_a_transfer_leaves_the_old_office_and_reaches_the_new_one_live(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    suffix = secrets.token_hex(4)
    a = await street(live, pool, officer, f"street-a-{suffix}")
    b = await street(live, pool, officer, f"street-b-{suffix}")
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        fence_id = await city_fence(client, officer, f"city {suffix}")
        person = await located_person(client, a, fence_id)
        alert_id = await open_alert(pool, person["id"])
        row, dot = (
            f"#alert-list li[data-alert-id='{alert_id}']",
            (f"#map path.person-dot[data-person-id='{person['id']}']"),
        )
        async with browser_page() as (old, errors), pages(old, 2) as (city, new):
            for page, who in ((old, a), (city, officer), (new, b)):
                await log_in(page, live.base_url, who)
                await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
            await old.wait_for_selector(row, timeout=10_000)
            await old.wait_for_selector(dot, timeout=10_000)
            await old.click("#tab-roster")
            roster_row = f"#roster-list li[data-person-id='{person['id']}']"
            await old.wait_for_selector(roster_row, timeout=10_000)
            await old.click(roster_row)  # the old office has the person's panel open
            await old.wait_for_selector("#person-panel[data-ready=true]", timeout=10_000)
            await city.click(row, timeout=10_000)  # the city has the panel open
            await city.wait_for_selector("#person-panel[data-ready=true]", timeout=10_000)
            assert await city.inner_text("#person-office") == a.username
            assert await city.inner_text(f"{row} .office") == a.username
            assert await new.locator(row).count() == 0

            moved = await client.patch(
                f"/v1/persons/{person['id']}",
                headers=bearer(officer.token),
                json={"jurisdiction_id": b.jurisdiction_id, "reason": "执行地变更"},
            )
            assert moved.status_code == 200, moved.text

            # the old office: the panel closes; the Persons row, the dot and the alert go, with
            # a notice saying where the case went
            await old.wait_for_selector("#person-panel", state="hidden", timeout=10_000)
            await old.wait_for_selector(roster_row, state="detached", timeout=10_000)
            await old.wait_for_selector(dot, state="detached", timeout=10_000)
            await old.click("#tab-alerts")
            assert await old.locator(row).count() == 0
            assert await old.get_attribute("#open-count", "data-count") == "0"
            notice = old.locator("#notice-list li[data-kind=transfer]")
            assert await notice.count() == 1
            assert f"案件 {person['case_number']} 已移交 {b.username}" in await notice.inner_text()
            await old.click("#lang-switch")
            text = await notice.inner_text()
            assert f"case {person['case_number']} transferred to {b.username}" in text, text
            await screenshot(old, "console-transfer-old-office.png")
            await notice.locator("button.dismiss").click()
            await old.wait_for_selector("#notice-empty", state="visible")

            # the city still sees the person: the same row and panel, the new office's name
            await city.wait_for_function(
                "(name) => document.querySelector('#person-office')?.textContent === name",
                arg=b.username,
            )
            await city.wait_for_function(
                "([row, name]) => document.querySelector(`${row} .office`)?.textContent === name",
                arg=[row, b.username],
            )
            assert await city.locator("#notice-list li[data-kind=transfer]").count() == 0

            # the new office: the moved alert arrived live, under its own name
            await new.wait_for_selector(row, timeout=10_000)
            assert await new.inner_text(f"{row} .office") == b.username
            await screenshot(new, "console-transfer-new-office.png")
        assert errors == [], errors


async def test_an_open_panel_follows_its_persons_alerts_and_position(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"F-{time.monotonic_ns()}")
        t0 = time.time() // 60 * 60 - 1800
        pings = track_pings(device.device_id, t0)  # at home for ten fixes, then out for eight
        at_home = await client.post("/v1/pings", json=pings[:INSIDE], headers=bearer(device.token))
        assert at_home.json()["accepted"] == INSIDE, at_home.text
        await located(client, officer, {device.person_id})
        async with browser_page() as (page, errors):
            asked: list[float] = []  # when the panel asked for the person's open alerts
            page.on(
                "request",
                lambda r: (
                    asked.append(time.monotonic())
                    if f"person_id={device.person_id}" in r.url
                    else None
                ),
            )
            await log_in(page, live.base_url, officer)
            await page.click(f"#map path.person-dot[data-person-id='{device.person_id}']")
            await page.wait_for_selector("#person-panel[data-ready=true]", timeout=10_000)
            await page.wait_for_selector(f"#track-panel[data-fixes='{INSIDE}']", timeout=10_000)
            assert await page.locator("#person-alerts li").count() == 0
            assert await page.locator("#person-now .status-inside").count() == 1
            await page.locator("#track-slider").fill("3")
            await page.wait_for_function(
                "() => document.querySelector('#map path.track-marker')?.dataset.index === '3'"
            )
            opened = len(asked)

            away = await client.post("/v1/pings", json=pings[INSIDE:], headers=bearer(device.token))
            assert away.json()["accepted"] == len(pings) - INSIDE, away.text
            await page.wait_for_selector("#person-alerts li[data-status=open]", timeout=30_000)
            await page.wait_for_selector("#person-now .status-outside", timeout=10_000)
            coords = await page.inner_text("#person-now .coords")
            assert coords == f"{pings[-1]['lat']:.5f}, {pings[-1]['lon']:.5f}", coords
            await asyncio.sleep(2)  # what the burst still brings
            await screenshot(page, "console-person-follows.png")

            # the same panel and track: the slider where it was, no track read again
            assert await page.get_attribute("#track-panel", "data-fixes") == str(INSIDE)
            marker = await page.get_attribute("#map path.track-marker", "data-index")
            assert marker == "3"
            followed = asked[opened:]
            assert followed, "the panel asked for the open alerts again"
            gaps = [b - a for a, b in pairwise(followed)]
            assert all(gap > 0.8 for gap in gaps), gaps  # one reload a second at most
        assert errors == [], errors
