"""With PostgreSQL unreachable the service stays up and says so: 503 with Retry-After, never 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import running, settings_for

pytestmark = pytest.mark.slow


async def test_database_down_answers_503_with_retry_after(redis_url: str) -> None:
    dead_database = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    async with (
        running(settings_for(dead_database, redis_url)) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"]
        assert ready.json()["redis"] == "ok" and ready.json()["database"].startswith("unavailable")
        assert ready.json()["ingest"].startswith("unavailable")  # it cannot commit either
        ping = {"ts": 0, "lat": 22.5, "lon": 114.0, "accuracy_m": 5}
        posted = await client.post("/v1/pings", json=ping, headers={"Authorization": "Bearer x"})
        assert posted.status_code == 503 and posted.headers["retry-after"]
        assert "database unavailable" in posted.json()["detail"]
        login = await client.post("/v1/auth/token", data={"username": "a", "password": "b"})
        assert login.status_code == 503 and login.headers["retry-after"]


async def test_ready_when_both_servers_answer(database_url: str, redis_url: str) -> None:
    async with (
        running(settings_for(database_url, redis_url)) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {
            "ready": True,
            "database": "ok",
            "redis": "ok",
            "ingest": "ok",
        }
        metrics = await client.get("/metrics/")
        assert metrics.status_code == 200 and "monitor_pings_total" in metrics.text
        spec = (await client.get("/openapi.json")).json()
        assert "/v1/pings" in spec["paths"] and "/v1/persons/{person_id}/orders" in spec["paths"]
