"""Forwarded headers still reach the app's own routes once uvicorn leaves them to in_front_of."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingest.device_fast_path import in_front_of


async def whoami(request: Request) -> JSONResponse:
    assert request.client is not None
    return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})


async def test_a_trusted_proxys_forwarded_headers_apply_to_the_apps_routes() -> None:
    app = in_front_of(Starlette(routes=[Route("/whoami", whoami)]))
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    for proxy, expected in (
        ("127.0.0.1", {"client": "203.0.113.7", "scheme": "https"}),  # trusted by default
        ("198.51.100.2", {"client": "198.51.100.2", "scheme": "http"}),  # not trusted
    ):
        transport = httpx.ASGITransport(app=app, client=(proxy, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
            answer = await client.get("/whoami", headers=forwarded)
        assert answer.json() == expected
