"""/docs and /redoc on a machine without internet: Chromium with every other origin cut off
renders them from this server alone, and the Content-Security-Policy refuses nothing."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright

from tests.e2e.browser import CHROMIUM, FLAGS
from tests.e2e.conftest import Live

pytestmark = pytest.mark.slow

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# the page's own listener: CSP refusals the console messages may not name
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@dataclass
class Offline:
    page: Page
    elsewhere: list[str] = field(default_factory=list)  # requests to other origins, cut off
    refusals: list[str] = field(default_factory=list)  # CSP refusals and script errors

    async def violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__violations")
        return self.refusals + found


@pytest.fixture
async def offline(live: Live) -> AsyncIterator[Offline]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context()
        page = await context.new_page()
        seen = Offline(page)

        async def only_this_server(route: Route) -> None:
            if route.request.url.startswith(live.base_url + "/"):
                await route.continue_()
            else:
                seen.elsewhere.append(route.request.url)
                await route.abort("internetdisconnected")

        await context.route("**/*", only_this_server)
        await context.add_init_script(RECORD_VIOLATIONS)
        page.on("pageerror", lambda e: seen.refusals.append(str(e)))
        page.on(
            "console",
            lambda m: seen.refusals.extend([m.text] if "Security Policy" in m.text else []),
        )
        yield seen
        await browser.close()


async def test_swagger_ui_renders_offline_under_its_csp(live: Live, offline: Offline) -> None:
    reply = await offline.page.goto(f"{live.base_url}/docs")
    assert reply is not None and reply.status == 200
    await offline.page.wait_for_selector(".opblock-summary-path[data-path='/v1/pings']")
    assert offline.elsewhere == [] and await offline.violations() == []
    csp = await reply.header_value("content-security-policy") or ""
    assert "https:" not in csp and "cdn" not in csp, csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src, csp


async def test_redoc_renders_offline_under_its_csp(live: Live, offline: Offline) -> None:
    reply = await offline.page.goto(f"{live.base_url}/redoc")
    assert reply is not None and reply.status == 200
    await offline.page.get_by_text("/v1/pings", exact=True).first.wait_for(state="attached")
    # its attribution logo is the one thing ReDoc fetches elsewhere; it hides itself when refused
    others = [v for v in await offline.violations() if REDOC_LOGO not in v]
    assert offline.elsewhere == [] and others == []
    csp = await reply.header_value("content-security-policy") or ""
    assert "https:" not in csp and "script-src" not in csp, csp  # default-src 'self' alone


async def test_oauth2_redirect_page_allows_its_own_script_alone(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        reply = await client.get("/docs/oauth2-redirect")
    assert reply.status_code == 200 and "swaggerUIRedirectOauth2" in reply.text
    csp = reply.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
    (script,) = re.findall(r"<script>(.*?)</script>", reply.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert script_src == ["script-src", "'self'", f"'sha256-{digest}'"], csp
