"""Security headers on the officer side, none on the device hot path (issue 18, item 9)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Live, Officer

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


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
        docs = await client.get("/docs")
        # Swagger UI comes from its CDN and starts with an inline script: allowed there only
        assert "https://cdn.jsdelivr.net" in assert_hardened(docs)


async def test_device_answers_skip_the_middleware(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for reply in (
            await client.post("/v1/pings", json=[], headers={"Authorization": "Bearer x"}),
            await client.get("/osmand/not-a-token", params={"id": "x", "lat": 1, "lon": 1}),
        ):
            assert reply.status_code < 500
            assert not {"content-security-policy", *COMMON} & set(reply.headers)
