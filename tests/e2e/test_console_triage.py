"""The duty console's triage list in headless Chromium: rows name the person, office, level and
last fix; filters reload from the API; a resolved alert is found again in the history view."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from simulators.fleet import Fleet
from tests.e2e.browser import log_in
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_console_browser import page  # noqa: F401 (the fixture)
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

# screenshots for a person to look at; kept out of git (.gitignore)
ARTEFACTS = Path(
    os.environ.get("MONITOR_TEST_ARTEFACTS", Path(__file__).resolve().parents[1] / "artifacts")
)


@pytest.fixture
def artefacts() -> Path:
    return ARTEFACTS


async def flat_battery_then_away(live: Live, officer: Officer) -> tuple[Fleet, float]:
    """A low_battery alert (one ping at 5 %), then an out_of_area one (the track leaves)."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"TRI-{time.monotonic_ns()}")
        start = (time.time() // 600) * 600 - 1200  # room for the walk home before now
        ping = {"device_id": device.device_id, "lat": CENTRE[0], "lon": CENTRE[1],
                "accuracy_m": 10, "battery_pct": 5.0,
                "ts": datetime.fromtimestamp(start - 30, UTC).isoformat()}  # fmt: skip
        headers = {"Authorization": f"Bearer {device.token}"}
        assert (await client.post("/v1/pings", json=ping, headers=headers)).status_code == 202
        fleet = Fleet(live.base_url, [device], interval_s=0)
        await walk(fleet, start, range(0, 400, 10))
    return fleet, start


async def walk(fleet: Fleet, start: float, seconds: range) -> None:
    async with httpx.AsyncClient(base_url=fleet.base_url) as client:
        for t in seconds:
            await fleet.tick(client, start + t)


async def test_officer_filters_resolves_and_finds_the_alert_in_history(
    live: Live,
    officer: Officer,
    page: Page,  # noqa: F811
    artefacts: Path,
) -> None:
    fleet, start = await flat_battery_then_away(live, officer)
    person_id = fleet.devices[0].person_id
    await log_in(page, live.base_url, officer)
    mine = f"#alert-list li[data-person-id='{person_id}']"
    battery, away = f"{mine}[data-type='low_battery']", f"{mine}[data-type='out_of_area']"
    await page.wait_for_selector(away, timeout=30_000)
    await page.wait_for_selector(battery, timeout=30_000)
    assert await page.locator(f"{away} .level-strict").count() == 1
    assert "前" in (await page.locator(f"{away} .fix").inner_text())  # "定位 5 分钟前", zh-CN
    assert (await page.locator(f"{away} .office").inner_text()).startswith("city-")

    await page.select_option("#alert-filters select[name=type]", "low_battery")
    await page.wait_for_selector(away, state="detached", timeout=10_000)
    assert await page.locator("#alert-list li:not([data-type='low_battery'])").count() == 0

    await page.click(f"{battery} button[data-action=resolve]")
    await page.select_option("#resolve-form select[name=disposition]", "verbal_reminder")
    await page.fill("#resolve-form textarea[name=note]", "told him to charge the band")
    await page.click("#resolve-confirm")
    await page.wait_for_selector(battery, state="detached", timeout=10_000)  # no longer active

    await page.reload()  # the history comes from the server, not from what this page saw
    await page.wait_for_selector("#console[data-ready=true]", timeout=15_000)
    await page.select_option("#alert-filters select[name=view]", "history")
    done = f"{battery}[data-status='resolved']"
    await page.wait_for_selector(done, timeout=10_000)
    assert await page.locator(f"{done} .disposition[data-disposition=verbal_reminder]").count() == 1
    assert await page.locator(f"{done} .disposition").inner_text() == "口头提醒"
    assert await page.locator(f"{done} .note").inner_text() == "told him to charge the band"
    assert await page.locator(f"{mine}[data-status='open']").count() == 0, "history only"
    await page.select_option("#alert-filters select[name=type]", "")
    await page.wait_for_timeout(500)
    await page.screenshot(path=artefacts / "console-triage-history.png")
    await page.select_option("#alert-filters select[name=view]", "active")
    await page.wait_for_selector(away, timeout=10_000)
    await walk(fleet, start, range(400, 700, 10))  # home again: person.returned, live
    await page.wait_for_selector(f"{away} .returned", timeout=30_000)
    await page.screenshot(path=artefacts / "console-triage-active.png")


async def test_an_alert_opened_live_names_the_person(
    live: Live,
    officer: Officer,
    page: Page,  # noqa: F811
) -> None:
    """Stream events carry no name: the row learns it from the person's record."""
    await log_in(page, live.base_url, officer)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"LIVE-{time.monotonic_ns()}", full_name="张三")
    fleet = Fleet(live.base_url, [device], interval_s=0)
    await walk(fleet, (time.time() // 600) * 600 - 1200, range(0, 400, 10))
    row = f"#alert-list li[data-person-id='{device.person_id}'][data-type='out_of_area']"
    await page.wait_for_selector(f"{row} .name", timeout=30_000)
    assert await page.locator(f"{row} .name").inner_text() == "张三"
    assert await page.locator(f"{row} .level-strict").count() == 1
