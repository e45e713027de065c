"""Debian's Chromium for the browser tests (never a downloaded browser), and the console's login."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from tests.e2e.conftest import Officer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.asynccontextmanager
async def browser_page(**options: Any) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page, and what it reported as a script error or a Content-Security-Policy refusal
    (a script, style or socket the console needs): a test asserts it stays empty. `options`
    go to Playwright's new_page (timezone_id="America/New_York", say)."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(**{"viewport": {"width": 1280, "height": 800}, **options})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.extend([m.text] if "Security Policy" in m.text else []))
        try:
            yield page, errors
        finally:
            await browser.close()


async def log_in(page: Page, base_url: str, officer: Officer) -> None:
    await page.goto(f"{base_url}/")
    await page.fill("input[name=username]", officer.username)
    await page.fill("input[name=password]", officer.password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#console[data-ready=true]", timeout=15_000)
