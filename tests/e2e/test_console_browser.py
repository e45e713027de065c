"""The duty console in headless Chromium (Debian's): log in, see an alert arrive, acknowledge it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from simulators.fleet import Fleet
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_order_notices_api import person_with_lapsing_order
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import enrol

pytestmark = pytest.mark.slow


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page() as (opened, errors):
        yield opened
        assert errors == [], f"console script errors: {errors}"


async def test_officer_sees_an_alert_arrive_and_acknowledges_it(
    live: Live,
    officer: Officer,
    page: Page,
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"B-{time.monotonic_ns()}")
        await log_in(page, live.base_url, officer)
        await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)

        fleet = Fleet(live.base_url, [device], interval_s=0)
        start = (time.time() // 600) * 600 - 600
        for t in range(0, 400, 10):
            await fleet.tick(client, start + t)
    row = "#alert-list li[data-status='open']"
    await page.wait_for_selector(row, timeout=30_000)
    assert int(await page.get_attribute("#person-count", "data-count") or 0) >= 1
    await page.click(f"{row} button[data-action=ack]")
    await page.wait_for_selector("#alert-list li[data-status='acknowledged']", timeout=10_000)


async def test_officer_sees_orders_about_to_lapse_and_logging_out_ends_the_session(
    live: Live,
    officer: Officer,
    page: Page,
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth(officer)) as client:
        _, before = await person_with_lapsing_order(client)
        before_id = before["id"]
        await log_in(page, live.base_url, officer)
        await page.wait_for_selector(f"#notice-list li[data-order-id='{before_id}']", timeout=5_000)
        _, after = await person_with_lapsing_order(client)  # noticed by the timers, live
        after_id = after["id"]
        await page.wait_for_selector(f"#notice-list li[data-order-id='{after_id}']", timeout=30_000)
        assert await page.is_hidden("#notice-empty")
        # logging out ends the session on the server too, not only in the browser
        token = await page.evaluate("sessionStorage.getItem('token')")
        await page.click("#logout")
        await page.wait_for_selector("#login", state="visible", timeout=5_000)
        assert await page.locator("#notice-list li").count() == 0, "the next officer's console"
        me = {"Authorization": f"Bearer {token}"}
        for _ in range(50):  # the console does not wait for the answer
            if (await client.get("/v1/auth/me", headers=me)).status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/v1/auth/me", headers=me)).status_code == 401


async def test_a_missed_checkin_shows_its_window(
    live: Live, officer: Officer, page: Page, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth(officer)) as client:
        device = await enrol(client, officer, f"BC-{time.monotonic_ns()}")
        rule = await client.post(
            f"/v1/persons/{device.person_id}/rules",
            json={"kind": "checkin", "params": {"at": "09:00", "window_min": 30, "grace_min": 0}},
        )
        assert rule.status_code == 201, rule.text
        await log_in(page, live.base_url, officer)
        await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
        async with pool.acquire() as conn:  # the window closes unkept: judged by the timers
            await conn.execute(
                "UPDATE person_rules SET due_at = now() - interval '1 second' WHERE id = $1",
                rule.json()["id"],
            )
    row = f"#alert-list li[data-type='missed_checkin'][data-person-id='{device.person_id}']"
    await page.wait_for_selector(f"{row} .checkin-window time", timeout=30_000)
    assert await page.locator(f"{row} .checkin-window time").count() == 2
