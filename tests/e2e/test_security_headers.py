"""Security headers on the officer side, none on the device hot path (issue 18, item 9)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Live, Officer

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
SCRIPT_SOURCES = ("script-src", "default-src")  # the latter where the former is not given


def assert_hardened(reply: httpx.Response) -> str:
    for name, value in COMMON.items():
        assert reply.headers.get(name) == value, (reply.url, name)
    csp: str = reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    return csp


async def test_console_api_and_docs_answers_carry_the_headers(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        console = await client.get("/console/")
        assert console.status_code == 200
        csp = assert_hardened(console)
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        me = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {officer.token}"})
        assert assert_hardened(me).startswith("default-src 'none'")
        refused = await client.get("/v1/auth/me")
        assert refused.status_code == 401 and assert_hardened(refused)
        for docs in (await client.get("/docs"), await client.get("/redoc")):
            # served from this origin: no CDN, no inline script but by its hash
            csp = assert_hardened(docs)
            scripts = [d for d in csp.split(";") if d.strip().startswith(SCRIPT_SOURCES)]
            assert "https:" not in csp and "unsafe-inline" not in "".join(scripts), csp


async def test_device_answers_skip_the_middleware(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for reply in (
            await client.post("/v1/pings", json=[], headers={"Authorization": "Bearer x"}),
            await client.get("/osmand/not-a-token", params={"id": "x", "lat": 1, "lon": 1}),
        ):
            assert reply.status_code < 500
            assert not {"content-security-policy", *COMMON} & set(reply.headers)
