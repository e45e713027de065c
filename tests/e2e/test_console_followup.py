"""Following an alert up in headless Chromium: the row marks a due follow-up, the dialog
assigns the alert to the officer and takes a note, both survive a reload, "mine" filters,
and a colleague's assignment arrives live."""

from __future__ import annotations

import time

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from tests.e2e.browser import log_in
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_console_browser import page  # noqa: F401 (the fixture)
from tests.e2e.test_registry import account, bearer
from tests.e2e.test_slice import enrol

pytestmark = pytest.mark.slow


async def old_alert(pool: asyncpg.Pool, person_id: int) -> int:
    """An open alert two days old and never followed up: due."""
    async with pool.acquire() as conn:
        alert_id: int = await conn.fetchval(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, "
            "last_evidence_at) SELECT id, jurisdiction_id, 'out_of_area', 'open', "
            "now() - interval '2 days', now() - interval '2 days' FROM persons WHERE id = $1 "
            "RETURNING id",
            person_id,
        )
    return alert_id


async def test_officer_assigns_to_self_adds_a_note_and_finds_both_after_reload(
    live: Live,
    officer: Officer,
    pool: asyncpg.Pool,
    page: Page,  # noqa: F811
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"FU-{time.monotonic_ns()}")
        colleague = await account(client, officer, officer.jurisdiction_id, "officer")
        colleague_id = (await client.get("/v1/auth/me", headers=colleague)).json()["id"]
    alert_id = await old_alert(pool, device.person_id)
    row = f"#alert-list li[data-alert-id='{alert_id}']"
    await log_in(page, live.base_url, officer)
    await page.wait_for_selector(f"{row}[data-followup-due=true] .followup-due", timeout=15_000)
    assert await page.inner_text(f"{row} .assignee") == "负责人: 未分配"

    await page.click(f"{row} button[data-action=followup]")
    await page.wait_for_selector("#followup-dialog[open]")
    assert await page.is_visible("#followup-no-notes")
    await page.click("#followup-assign-me")
    await page.wait_for_selector("#followup-assignee:text-matches('^test admin')")
    await page.fill("#followup-note-body", "已电话联系，本人在家")
    await page.click("#followup-add-note")
    await page.wait_for_selector("#followup-notes li .body")
    assert await page.inner_text("#followup-notes li .body") == "已电话联系，本人在家"
    assert await page.is_hidden("#followup-due"), "a note today: no longer due"
    await page.click("#followup-dialog menu button")
    await page.wait_for_selector(f"{row}[data-followup-due=false]", timeout=10_000)

    await page.reload()  # what the server kept, not what this page saw
    await page.wait_for_selector("#console[data-ready=true]", timeout=15_000)
    assert (await page.inner_text(f"{row} .assignee")).startswith("负责人: test admin")
    assert await page.inner_text(f"{row} .notes-count") == "跟进 1 条"
    assert await page.locator(f"{row} .followup-due").count() == 0
    await page.click(f"{row} button[data-action=followup]")
    await page.wait_for_selector("#followup-notes li .body")
    assert await page.inner_text("#followup-notes li .author") == f"test admin {officer.username}"
    await page.click("#followup-dialog menu button")

    await page.select_option("#alert-filters select[name=assigned]", "none")
    await page.wait_for_selector(row, state="detached", timeout=10_000)
    await page.select_option("#alert-filters select[name=assigned]", "me")
    await page.wait_for_selector(row, timeout=10_000)

    # a colleague takes it on another console: the row leaves "mine" live
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        handed = await client.post(
            f"/v1/alerts/{alert_id}/assign",
            headers=bearer(officer.token),
            json={"officer_id": colleague_id},
        )
        assert handed.status_code == 200, handed.text
    await page.wait_for_selector(row, state="detached", timeout=15_000)
    await page.select_option("#alert-filters select[name=assigned]", "")
    await page.wait_for_selector(f"{row}[data-assigned-to='{colleague_id}']", timeout=10_000)

    await page.click("#lang-switch")  # both languages
    await page.wait_for_selector(f"{row} .assignee:text-matches('^Assigned to: ')")
    assert await page.inner_text(f"{row} .notes-count") == "Notes: 1"
    assert await page.inner_text(f"{row} button[data-action=followup]") == "Follow up"
