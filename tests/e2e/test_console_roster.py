"""The console's Persons tab in headless Chromium (Debian's): search by case number, filter by
status, and a row that selects its person on the map; the devices view beside it."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from simulators.fleet import Fleet
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_console_map import screenshot
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import enrol

pytestmark = pytest.mark.slow

MARK_OUTSIDE = """
UPDATE person_state SET state = jsonb_set(state, '{area}', '{"status": "outside"}'::jsonb)
WHERE person_id = $1
"""


async def located(client: httpx.AsyncClient, officer: Officer, person_ids: set[int]) -> None:
    """Until the workers have judged each person's first fix."""
    for _ in range(100):
        latest = (await client.get("/v1/positions/latest", headers=auth(officer))).json()
        if person_ids <= {p["person_id"] for p in latest}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("no position for the new persons")


async def test_the_persons_tab_finds_filters_and_selects(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    case = f"RST-{time.monotonic_ns()}"
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        away = await enrol(client, officer, f"{case}-away")
        home = await enrol(client, officer, f"{case}-home", level="lenient")
        await Fleet("", [away, home], interval_s=0).tick(client, time.time() // 600 * 600)
        await located(client, officer, {away.person_id, home.person_id})
    async with pool.acquire() as conn:  # as the evaluator leaves a person gone out of area
        await conn.execute(MARK_OUTSIDE, away.person_id)
    row = f"#roster-list li[data-person-id='{away.person_id}']"
    other = f"#roster-list li[data-person-id='{home.person_id}']"
    async with browser_page() as (page, errors):
        await log_in(page, live.base_url, officer)
        assert await page.is_hidden("#roster-pane")
        await page.click("#tab-roster")
        assert await page.is_hidden("#alert-list") and await page.is_visible("#roster-filters")
        await page.fill("#roster-filters input[name=q]", case)
        await page.wait_for_selector(other)
        await page.wait_for_selector(row)
        assert await page.locator("#roster-list li").count() == 2
        assert await page.get_attribute(other, "data-status") == "inside"
        await page.select_option("#roster-filters select[name=status]", "outside")
        await page.wait_for_selector(other, state="detached")
        assert await page.get_attribute(row, "data-status") == "outside"
        text = await page.locator(row).inner_text()
        assert f"{case}-away" in text and "严管" in text  # case number, level
        assert "脚环" in text  # its band, with when it was last heard
        await screenshot(page, "console-roster.png")

        assert await page.locator("#map path.selected-ring").count() == 0
        await page.click(row)
        await page.locator("#map path.selected-ring").wait_for(timeout=5_000)
        ring = await page.locator("#map path.selected-ring").bounding_box()
        dot = await page.locator(
            f"#map path.person-dot[data-person-id='{away.person_id}']"
        ).bounding_box()
        assert ring and dot
        assert abs(ring["x"] + ring["width"] / 2 - (dot["x"] + dot["width"] / 2)) < 2
        assert "selected" in (await page.get_attribute(row, "class") or "")

        await page.select_option("#roster-filters select[name=view]", "devices")
        device = f"#roster-list li[data-device-id='{away.device_id}']"
        await page.wait_for_selector(device)
        assert await page.is_hidden("#roster-filters select[name=status]")
        await page.click("#tab-alerts")
        assert await page.is_hidden("#roster-pane") and await page.is_visible("#alert-filters")
    assert errors == [], errors
