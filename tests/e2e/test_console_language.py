"""The console in one language at a time (zh-CN by default, English on the switch, kept per
browser, redrawn without a reload) and every time in the configured zone, whatever zone the
PC's clock is in: here Chromium runs in New York, the server says Asia/Shanghai (or Kolkata)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page

from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_console_triage import ARTEFACTS
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

ELSEWHERE = "America/New_York"  # the PC's own zone: never the one times are shown in
SHANGHAI = "Asia/Shanghai"  # MONITOR_TIME_ZONE's default


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page(timezone_id=ELSEWHERE) as (opened, errors):
        yield opened
        assert errors == [], f"console script errors: {errors}"


async def low_battery(base_url: str, officer: Officer) -> int:
    """A person with a low_battery alert (one ping at 5 %, a minute ago); their id."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        device = await enrol(client, officer, f"LANG-{time.monotonic_ns()}")
        ping = {"device_id": device.device_id, "lat": CENTRE[0], "lon": CENTRE[1],
                "accuracy_m": 10, "battery_pct": 5.0,
                "ts": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}  # fmt: skip
        headers = {"Authorization": f"Bearer {device.token}"}
        assert (await client.post("/v1/pings", json=ping, headers=headers)).status_code == 202
    return device.person_id


def shown(iso: str, zone: str, label: str) -> str:
    """What formatTime must show for an instant: the zone's wall clock, then its offset."""
    wall = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    year = "" if wall.year == datetime.now(ZoneInfo(zone)).year else f"{wall.year}-"
    return f"{year}{wall:%m-%d %H:%M:%S} {label}"


async def texts(page: Page, row: str) -> dict[str, str]:
    return {
        "type": await page.inner_text(f"{row} .type"),
        "fix": await page.inner_text(f"{row} .fix"),
        "ack": await page.inner_text(f"{row} button[data-action=ack]"),
        "legend": await page.inner_text("#legend"),
        "status": await page.inner_text("#conn-status"),
        "option": await page.inner_text("#alert-filters option[value=low_battery]"),
        "title": await page.title(),
        "lang": await page.get_attribute("html", "lang") or "",
    }


async def test_zh_cn_by_default_english_on_the_switch_kept_over_a_reload(
    live: Live, officer: Officer, page: Page
) -> None:
    await page.goto(f"{live.base_url}/")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    assert await page.inner_text("#login-form button[type=submit]") == "登录"
    await page.click("#login-lang")  # on the login page too
    assert await page.inner_text("#login-form button[type=submit]") == "Log in"
    await page.reload()
    assert await page.inner_text("#login-form button[type=submit]") == "Log in"
    assert await page.get_attribute("html", "lang") == "en"
    await page.screenshot(path=ARTEFACTS / "console-language-login-en.png")
    await page.click("#login-lang")
    assert await page.inner_text("#login-form button[type=submit]") == "登录"

    person_id = await low_battery(live.base_url, officer)
    await log_in(page, live.base_url, officer)
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    row = f"#alert-list li[data-person-id='{person_id}'][data-type='low_battery']"
    await page.wait_for_selector(f"{row} .fix", timeout=30_000)
    zh = await texts(page, row)
    assert zh["type"] == "电量低" and zh["ack"] == "签收" and zh["status"] == "实时"
    assert "前" in zh["fix"] and "严管" in zh["legend"] and zh["option"] == "电量低"
    assert zh["title"].endswith("电子围栏监控") and zh["lang"] == "zh-CN"
    await page.screenshot(path=ARTEFACTS / "console-language-zh.png")

    await page.evaluate("window.notReloaded = true")
    await page.click("#lang-switch")
    await page.wait_for_function("document.documentElement.lang === 'en'")
    en = await texts(page, row)
    assert await page.evaluate("window.notReloaded") is True
    assert en["type"] == "Low battery" and en["ack"] == "Acknowledge" and en["status"] == "Live"
    assert en["fix"].endswith("ago") and "Strict" in en["legend"] and en["option"] == "Low battery"
    assert en["title"].endswith("Electronic-fence monitoring")
    assert await page.inner_text("#lang-switch") == "中文"
    await page.click(f"{row} button[data-action=resolve]")
    alert = await page.get_attribute(row, "data-alert-id")
    assert await page.inner_text("#resolve-form h3") == f"Resolve alert #{alert}"
    assert await page.inner_text("#resolve-form option[value=verbal_reminder]") == "Verbal reminder"
    await page.screenshot(path=ARTEFACTS / "console-language-en.png")
    await page.keyboard.press("Escape")

    await page.reload()
    await page.wait_for_selector(f"{row} .fix", timeout=15_000)
    assert await page.inner_text(f"{row} .type") == "Low battery"
    assert await page.get_attribute("html", "lang") == "en"


async def test_times_show_the_configured_zone_and_the_filter_reads_it(
    live: Live, officer: Officer, page: Page
) -> None:
    """Asia/Shanghai by default; the browser's New York clock changes nothing, and a filter's
    "from 08:00" is 08:00 in Shanghai, not in New York (13 hours apart)."""
    person_id = await low_battery(live.base_url, officer)
    await log_in(page, live.base_url, officer)
    row = f"#alert-list li[data-person-id='{person_id}'][data-type='low_battery']"
    await page.wait_for_selector(row, timeout=30_000)
    opened = await page.get_attribute(f"{row} time.opened", "datetime") or ""
    assert await page.inner_text(f"{row} time.opened") == shown(opened, SHANGHAI, "UTC+8")
    fix = await page.get_attribute(f"{row} time.fix", "datetime") or ""
    assert await page.get_attribute(f"{row} time.fix", "title") == shown(fix, SHANGHAI, "UTC+8")
    assert await page.inner_text("#alert-filters .time-zone >> nth=0") == "UTC+8"

    minute = datetime.fromisoformat(opened).replace(second=0, microsecond=0)
    steps: list[tuple[datetime, Literal["attached", "detached"]]] = [
        (minute, "attached"),  # opened at or after it: still listed
        (minute + timedelta(minutes=1), "detached"),
    ]
    for start, state in steps:
        local = start.astimezone(ZoneInfo(SHANGHAI)).strftime("%Y-%m-%dT%H:%M")
        async with page.expect_request(lambda r: "opened_from=" in r.url) as asked:
            await page.fill("#alert-filters input[name=opened_from]", local)
        query = parse_qs(urlsplit((await asked.value).url).query)
        assert datetime.fromisoformat(query["opened_from"][0]) == start
        await page.wait_for_selector(row, state=state, timeout=10_000)


async def test_another_configured_zone_is_the_one_shown(
    database_url: str, redis_url: str, live: Live, officer: Officer
) -> None:
    settings = settings_for(database_url, redis_url).model_copy(
        update={"time_zone": "Asia/Kolkata", "run_workers": False}
    )
    person_id = await low_battery(live.base_url, officer)  # judged by the session's server
    async with running(settings) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get("/console/config.json")).json()["time_zone"] == "Asia/Kolkata"
        async with browser_page(timezone_id=ELSEWHERE) as (page, errors):
            await log_in(page, server.base_url, officer)
            row = f"#alert-list li[data-person-id='{person_id}'][data-type='low_battery']"
            await page.wait_for_selector(row, timeout=30_000)
            opened = await page.get_attribute(f"{row} time.opened", "datetime") or ""
            expected = shown(opened, "Asia/Kolkata", "UTC+5:30")
            await page.wait_for_function(
                f"document.querySelector(`{row} time.opened`).textContent === {expected!r}"
            )
        assert errors == [], errors
