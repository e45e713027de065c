"""The duty console never looks live when it is not, and calls the officer back for urgent
alerts: the stale mark while the server is away, desktop notifications and the mutable tone.
Headless Chromium (Debian's) against real servers; only the browser's Notification API is
replaced, by a recorder, since a headless browser has no desktop to show one on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from monitor.registry import store as registry_store
from monitor.registry.schemas import JurisdictionIn
from simulators.fleet import Fleet, SimDevice, offset
from tests.e2e.browser import browser_page, log_in
from tests.e2e.conftest import Live, Officer, running, settings_for
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Notification recorded instead of shown; the permission prompt answers window.answer (set by
# the test), and a grant lasts the tab as a browser's would. The tones are the real Web Audio
# API, watched: each oscillator started is noted.
BROWSER_STUBS = """
(() => {
  const shown = [];
  class RecordedNotification {
    static get permission() { return sessionStorage.getItem("stub-permission") || "default"; }
    static async requestPermission() {
      window.asked = (window.asked || 0) + 1;
      const answer = window.answer || "granted";
      if (answer !== "default") sessionStorage.setItem("stub-permission", answer);
      return answer;
    }
    constructor(title, options = {}) {
      Object.assign(this, { title, body: options.body, tag: options.tag, closed: false });
      shown.push(this);
    }
    close() { this.closed = true; }
  }
  window.Notification = RecordedNotification;
  window.notifications = shown;
  window.tones = [];
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.tones.push(this.currentTime);
    return create.call(this);
  };
})();
"""

NOTIFICATIONS = "window.notifications.map(n => ({title: n.title, body: n.body, closed: n.closed}))"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page() as (opened, errors):
        await opened.add_init_script(BROWSER_STUBS)
        yield opened
        assert errors == [], f"console script errors: {errors}"


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name))


async def set_language(page: Page, language: str) -> None:
    await page.evaluate(
        "async (lang) => (await import('/console/i18n.js')).setLanguage(lang)", language
    )


async def walk_out(base_url: str, devices: list[SimDevice]) -> None:
    """The devices' routes leave the fence: an out_of_area alert each."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        fleet = Fleet(base_url, devices, interval_s=0)
        start = (time.time() // 600) * 600 - 600
        for t in range(0, 400, 10):
            await fleet.tick(client, start + t)


async def ping_home(client: httpx.AsyncClient, device: SimDevice) -> None:
    """One fix at home (off the fence's label), before any walk_out's (which would otherwise be
    judged late)."""
    at = datetime.fromtimestamp(time.time() - 1300, UTC)
    lat, lon = offset(*CENTRE, 400, 300)
    ping = {"device_id": device.device_id, "lat": lat, "lon": lon, "accuracy_m": 10,
            "ts": at.isoformat()}  # fmt: skip
    headers = {"Authorization": f"Bearer {device.token}"}
    assert (await client.post("/v1/pings", json=ping, headers=headers)).status_code == 202


async def test_the_map_is_marked_stale_while_the_server_is_away_and_clears_on_resume(
    database_url: str, redis_url: str, live: Live, officer: Officer, page: Page
) -> None:
    # the console's own server comes and goes; the session's server judges the pings throughout
    settings = settings_for(database_url, redis_url).model_copy(update={"run_workers": False})
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth(officer)) as client:
        devices = [await enrol(client, officer, f"ST{i}-{time.monotonic_ns()}") for i in range(3)]
        async with running(settings) as console_server:
            await log_in(page, console_server.base_url, officer)
            await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
            assert await page.get_attribute("#map-pane", "data-stale") == "false"
            assert await page.is_hidden("#stale-banner")
            await page.click("#notify-enable")
            await ping_home(client, devices[0])  # a position event: the last thing heard of
            await page.wait_for_selector('#person-count[data-count="1"]', timeout=15_000)
            stopped = datetime.now(UTC)

        # the socket closes with the server: marked once the grace (2 s) is over
        await page.wait_for_selector('#map-pane[data-stale="true"]', timeout=10_000)
        await page.wait_for_selector("#stale-banner", state="visible")
        for counter in ("person-count", "outside-count", "open-count"):
            assert await page.get_attribute(f"#{counter}", "data-stale") == "true", counter
        last_event_at = await page.get_attribute("#stale-banner", "data-last-event-at")
        assert last_event_at and datetime.fromisoformat(last_event_at) <= stopped
        shown = await page.evaluate(
            "async (at) => (await import('/console/config.js')).formatTime(at)", last_event_at
        )
        line = await page.inner_text("#stale-banner .stale-last")
        assert line.startswith("最后事件") and shown in line and "秒前" in line, line
        assert "数据已停止更新" in await page.inner_text("#stale-banner .stale-title")
        await screenshot(page, "console-stale-mark.png")
        await set_language(page, "en")
        assert "ago" in await page.inner_text("#stale-banner .stale-last")
        assert "Data stopped updating" in await page.inner_text("#stale-banner .stale-title")
        await screenshot(page, "console-stale-mark-en.png")
        await set_language(page, "zh-CN")
        line = await page.inner_text("#stale-banner .stale-last")
        # the age keeps ticking while nothing arrives
        await page.wait_for_function(
            "(before) => document.querySelector('#stale-banner .stale-last').innerText !== before",
            arg=line,
            timeout=5_000,
        )
        # the map stays usable under the mark: the fit button still takes clicks
        await page.click("#map-fit", timeout=2_000)

        # a mass event while the console is away: three urgent alerts, all judged meanwhile
        await walk_out(live.base_url, devices)
        await until_alerted(client, devices)
        async with running(settings):  # back on the same port: resumed with since=
            await page.wait_for_selector('#map-pane[data-stale="false"]', timeout=40_000)
            await page.wait_for_selector("#stale-banner", state="hidden")
            assert await page.get_attribute("#open-count", "data-stale") == "false"
            cases = await cases_of(page, devices)
            # told once at once, then the rest of the burst in one notification with a count
            await page.wait_for_function("() => window.notifications.length >= 2", timeout=20_000)
    notes = await page.evaluate(NOTIFICATIONS)
    assert [n["title"] for n in notes] == ["紧急告警：越界", "2 条新紧急告警"], notes
    assert all(case in "".join(n["body"] for n in notes) for case in cases), (cases, notes)
    assert await page.evaluate("window.tones.length") == 2 * 3, "one three-note tone a burst"


async def until_alerted(client: httpx.AsyncClient, devices: list[SimDevice]) -> None:
    """Wait until each device's person has an out_of_area alert (the evaluator may lag)."""
    counts: list[int] = []
    for _ in range(150):
        counts = []
        for device in devices:
            reply = await client.get(f"/v1/alerts?person_id={device.person_id}&type=out_of_area")
            assert reply.status_code == 200, reply.text
            counts.append(len(reply.json()))
        if all(counts):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"out_of_area alerts per device: {counts}")


async def test_a_failed_snapshot_marks_the_map_stale_until_reloaded(
    live: Live, officer: Officer, page: Page
) -> None:
    await page.route("**/v1/jurisdictions", lambda route: route.abort())  # the network, not us
    await log_in(page, live.base_url, officer)
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    await page.wait_for_selector('#map-pane[data-stale="true"]', timeout=5_000)
    assert "初始数据加载失败" in await page.inner_text("#stale-banner .stale-why")
    await screenshot(page, "console-stale-snapshot-failed.png")
    await page.unroute("**/v1/jurisdictions")
    await page.click("#stale-reload")
    await page.wait_for_selector("#console[data-ready=true]", timeout=15_000)
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    assert await page.get_attribute("#map-pane", "data-stale") == "false"


async def test_an_urgent_alert_notifies_selects_on_click_and_the_tone_can_be_muted(
    live: Live, officer: Officer, page: Page, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:  # held by a street office, so there is a rung to climb
        district = await registry_store.insert_jurisdiction(
            conn,
            data=JurisdictionIn(
                name="district", level="district", parent_id=officer.jurisdiction_id
            ),
        )
        street = await registry_store.insert_jurisdiction(
            conn,
            data=JurisdictionIn(
                name=f"street-{district.id}", level="street", parent_id=district.id
            ),
        )
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        devices = [
            await enrol(client, officer, f"NT{i}-{time.monotonic_ns()}", jurisdiction_id=street.id)
            for i in range(2)
        ]
    await log_in(page, live.base_url, officer)
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    await page.wait_for_selector('#sound-toggle[data-state="on"]', timeout=5_000)  # login click
    await page.click("#notify-enable")  # permission asked from a click, once
    await page.wait_for_selector("#notify-enable", state="hidden")
    assert await page.evaluate("window.asked") == 1
    assert await page.evaluate("localStorage.getItem('desktop-notifications')") == "granted"

    await walk_out(live.base_url, devices[:1])
    await page.wait_for_function("() => window.notifications.length >= 1", timeout=30_000)
    [case] = await cases_of(page, devices[:1])
    first = (await page.evaluate(NOTIFICATIONS))[0]
    assert first["title"] == "紧急告警：越界"
    assert case in first["body"] and street.name in first["body"], "names case number and office"
    assert await page.evaluate("window.tones.length") == 3, "one three-note tone"

    # clicking it brings the console forward on the person
    await page.evaluate("window.notifications[0].onclick()")
    assert await page.evaluate("window.notifications[0].closed")
    selected = f"#alert-list li.selected[data-person-id='{devices[0].person_id}']"
    await page.wait_for_selector(selected, timeout=5_000)

    # muted, and still muted after a reload; notifications go on without the tone
    await page.click("#sound-toggle")
    assert await page.get_attribute("#sound-toggle", "data-state") == "muted"
    assert await page.get_attribute("#sound-toggle", "aria-pressed") == "true"
    await page.reload()
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    assert await page.get_attribute("#sound-toggle", "data-state") == "muted"
    assert await page.is_hidden("#notify-enable"), "granted: not offered again"
    await walk_out(live.base_url, devices[1:])
    await page.wait_for_function("() => window.notifications.length === 1", timeout=30_000)
    assert await page.evaluate("window.tones.length") == 0

    # an urgent alert left unanswered past its SLA climbs a rung: told again, as such
    row = f"#alert-list li[data-person-id='{devices[0].person_id}'][data-type='out_of_area']"
    alert_id = int(await page.get_attribute(row, "data-alert-id") or 0)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE alerts SET created_at = now() - interval '1 hour' WHERE id = $1", alert_id
        )
    await page.wait_for_function("() => window.notifications.length === 2", timeout=30_000)
    assert (await page.evaluate(NOTIFICATIONS))[1]["title"] == "告警已升级至区：越界"
    assert await page.evaluate("window.tones.length") == 0, "still muted"


async def test_denied_notifications_stay_off_and_sound_waits_for_a_click(
    live: Live, officer: Officer, page: Page
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"ND-{time.monotonic_ns()}")
    await log_in(page, live.base_url, officer)
    await page.evaluate("window.answer = 'denied'")
    await page.click("#notify-enable")
    await page.wait_for_selector("#notify-enable", state="hidden")
    assert await page.evaluate("localStorage.getItem('desktop-notifications')") == "denied"

    # a reload is no gesture: the browser holds the sound back, and the button says so
    await page.reload()
    await page.wait_for_selector('#conn-status[data-state="live"]', timeout=15_000)
    assert await page.is_hidden("#notify-enable"), "the officer's no is remembered"
    assert await page.get_attribute("#sound-toggle", "data-state") == "blocked"
    assert "阻止" in await page.inner_text("#sound-toggle")
    await page.click("#sound-toggle")
    await page.wait_for_selector('#sound-toggle[data-state="on"]', timeout=5_000)

    await walk_out(live.base_url, [device])
    row = f"#alert-list li[data-type='out_of_area'][data-person-id='{device.person_id}']"
    await page.wait_for_selector(row, timeout=30_000)
    await page.wait_for_function("() => window.tones.length === 3", timeout=5_000)
    assert await page.evaluate("window.notifications.length") == 0


async def cases_of(page: Page, devices: list[SimDevice]) -> list[str]:
    """The case numbers of the devices' alerts, as the console's list shows them."""
    cases = []
    for device in devices:
        row = f"#alert-list li[data-person-id='{device.person_id}'] .case"
        await page.wait_for_selector(row, timeout=30_000)
        cases.append(await page.inner_text(row))
    return cases
