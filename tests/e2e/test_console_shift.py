"""A night shift at the duty console, walked end to end in headless Chromium (Debian's) against
real servers: log in; a person walks out of their area and the alert appears while the officer
watches; filter to it; open the person (who, which device, since when) and play back where they
went; find them in the Persons tab; acknowledge and resolve; after a reload the alert is in the
history with its disposition; the server goes away and the console says it is stale, with the
time of the last event; it comes back and the console is live again. Screenshots of each step
go to tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from simulators.fleet import Fleet
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import enrol

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
NAME = "王夜班"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page() as (opened, errors):
        yield opened
        assert errors == [], f"console script errors: {errors}"


async def shot(page: Page, step: int, what: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"console-shift-{step:02d}-{what}.png"))


async def test_a_whole_shift_from_the_console(
    database_url: str, redis_url: str, live: Live, officer: Officer, page: Page
) -> None:
    # the session's server (`live`) judges pings throughout; the console's own server is one
    # that can be stopped and started again on the same port, as an operator's restart would
    settings = settings_for(database_url, redis_url).model_copy(update={"run_workers": False})
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth(officer)) as client:
        case = f"SHIFT-{time.monotonic_ns()}"
        device = await enrol(client, officer, case, full_name=NAME)
        person = device.person_id
        async with running(settings) as console:
            # 1. log in: the console is live
            await log_in(page, console.base_url, officer)
            await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
            assert await page.get_attribute("#map-pane", "data-stale") == "false"
            await shot(page, 1, "logged-in")

            # 2. the person walks out of the area while the officer watches: the row appears
            fleet = Fleet(live.base_url, [device], interval_s=0)
            start = (time.time() // 600) * 600 - 1200
            for t in range(0, 400, 10):
                await fleet.tick(client, start + t)
            mine = f"#alert-list li[data-person-id='{person}']"
            away = f"{mine}[data-type='out_of_area']"
            await page.wait_for_selector(away, timeout=30_000)
            assert await page.locator(f"{away} .name").inner_text() == NAME
            assert await page.get_attribute("#open-count", "data-count") != "0"
            await shot(page, 2, "alert-arrived")

            # 3. filter to it: another type hides it, its own type shows it
            await page.select_option("#alert-filters select[name=type]", "tamper")
            await page.wait_for_selector(away, state="detached", timeout=10_000)
            await page.select_option("#alert-filters select[name=type]", "out_of_area")
            await page.wait_for_selector(away, timeout=10_000)

            # 4. open the person: who, which device and when it was last heard, the alert
            await page.click(away)
            panel = f"#person-panel[data-person-id='{person}'][data-ready=true]"
            await page.wait_for_selector(panel, timeout=10_000)
            assert await page.inner_text("#person-case") == case
            assert NAME in await page.inner_text("#person-panel")
            assert await page.locator("#person-devices li.device time.last-fix").count() == 1
            assert await page.locator("#person-alerts li[data-alert-id]").count() >= 1

            # 5. play back the track: the marker goes fix by fix to where they are now
            await page.wait_for_selector("#track-panel[data-fixes]", timeout=10_000)
            fixes = int(await page.get_attribute("#track-panel", "data-fixes") or 0)
            assert fixes >= 30, fixes
            await page.select_option("#track-speed", "600")
            await page.click("#track-play")
            await page.wait_for_function(
                "(last) => document.querySelector('#map path.track-marker')"
                "?.dataset.index === String(last)",
                arg=fixes - 1,
                timeout=30_000,
            )
            assert await page.locator("#track-area").get_attribute("data-area") == "outside"
            await shot(page, 5, "person-and-track")
            await page.click("#person-close")
            await page.wait_for_selector("#person-panel", state="hidden")

            # 6. the Persons tab finds them by case number, outside their area
            await page.click("#tab-roster")
            await page.fill("#roster-filters input[name=q]", case)
            row = f"#roster-list li[data-person-id='{person}']"
            await page.wait_for_selector(row, timeout=10_000)
            assert await page.get_attribute(row, "data-status") == "outside"
            await shot(page, 6, "persons-tab")
            await page.click("#tab-alerts")

            # 7. acknowledge, then resolve with a disposition and a note
            await page.click(f"{away} button[data-action=ack]")
            await page.wait_for_selector(f"{away}[data-status='acknowledged']", timeout=10_000)
            await page.click(f"{away} button[data-action=resolve]")
            await page.select_option("#resolve-form select[name=disposition]", "verbal_reminder")
            await page.fill("#resolve-form textarea[name=note]", "电话联系，已返回")
            await page.click("#resolve-confirm")
            await page.wait_for_selector(away, state="detached", timeout=10_000)

            # 8. after a reload the history (from the server) has it, with how it ended
            await page.reload()
            await page.wait_for_selector("#console[data-ready=true]", timeout=15_000)
            await page.select_option("#alert-filters select[name=view]", "history")
            done = f"{away}[data-status='resolved']"
            await page.wait_for_selector(done, timeout=10_000)
            assert await page.locator(f"{done} .note").inner_text() == "电话联系，已返回"
            assert await page.locator(f"{done} [data-disposition=verbal_reminder]").count() == 1
            await shot(page, 8, "history")
            await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)

        # 9. the console's server goes away: the map and counters say they are stale
        await page.wait_for_selector('#map-pane[data-stale="true"]', timeout=15_000)
        await page.wait_for_selector("#stale-banner", state="visible")
        assert await page.get_attribute("#open-count", "data-stale") == "true"
        # nothing arrived since the reload: the banner dates what is shown by the snapshot
        assert "快照" in await page.inner_text("#stale-banner .stale-last")
        await shot(page, 9, "stale")

        # 10. back on the same port: live again, the mark gone, the stream resumed
        async with running(settings):
            await page.wait_for_selector('#map-pane[data-stale="false"]', timeout=60_000)
            await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
            assert await page.is_hidden("#stale-banner")
            await shot(page, 10, "live-again")
