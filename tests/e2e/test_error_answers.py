"""Error answers: every one in the documented shape, and a 500, should a bug still reach one,
tells the client that the connection is closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from monitor.app import create_app
from monitor.error_responses import ErrorOut
from tests.e2e.conftest import Live, Officer, settings_for

pytestmark = pytest.mark.slow


async def test_a_body_that_cannot_be_echoed_back_still_gets_its_422(
    live: Live, officer: Officer
) -> None:
    """FastAPI's 422 echoed the input, and an unpaired surrogate cannot be encoded: a 500."""
    body = b'{"name": "\\ud800", "level": "district"}'
    headers = {"Authorization": f"Bearer {officer.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=live.base_url, headers=headers) as client:
        reply = await client.post("/v1/jurisdictions", content=body)
    assert reply.status_code == 422, reply.text
    error = ErrorOut.model_validate(reply.json())
    assert error.field == "name"
    assert "input" not in reply.text  # nor does it echo what was sent (a password, say)
    async with httpx.AsyncClient(base_url=live.base_url, headers=headers) as client:
        garbled = await client.post("/v1/jurisdictions", content=b'{"name": ')
    assert garbled.status_code == 422
    assert ErrorOut.model_validate(garbled.json()).field is None  # not a character offset


async def test_a_405_lists_every_method_of_the_path(live: Live) -> None:
    """Starlette listed only the first route's: `Allow: POST` for /v1/fences, whose GET is
    as real."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        fences = await client.delete("/v1/fences")
        osmand = await client.put("/osmand/some-token")
    assert (fences.status_code, fences.headers["allow"]) == (405, "GET, POST")
    assert (osmand.status_code, osmand.headers["allow"]) == (405, "GET, POST")


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: say why
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_bug_answers_json_500_that_closes_the_connection(
    database_url: str, redis_url: str
) -> None:
    """No input reaches a 500 any more, so a route that fails on purpose stands in for a bug.
    Starlette answered text and uvicorn then reset the keep-alive connection unannounced."""
    settings = settings_for(database_url, redis_url)
    app = create_app(settings.model_copy(update={"run_workers": False}))

    @app.get("/v1/broken", include_in_schema=False)
    async def broken() -> None:
        raise RuntimeError("a bug")

    async with serving(app, settings.port) as url, httpx.AsyncClient(base_url=url) as client:
        reply = await client.get("/v1/broken")
        assert reply.status_code == 500
        assert reply.headers["connection"] == "close"
        assert ErrorOut.model_validate(reply.json()).detail == "internal error: it has been logged"
        assert (await client.get("/healthz")).status_code == 200  # a new connection
