"""A worker's metrics: a `monitor worker` on its own serves them where it is told to, and the
evaluator says how many pings each transaction carried."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import httpx

from evaluator.engine import Evaluator, EvaluatorConfig
from pings.batch import PingBatch
from tests.conftest import flushed, free_port, fresh_database, redis_db
from tests.e2e.test_slice import CENTRE
from tests.evaluator.test_person_cache import NOON, pings
from tests.evaluator.test_store_and_stream import strict_person
from tests.ingest.test_group_commit import metric_value


async def test_a_worker_process_serves_its_metrics(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    admin_dsn, redis_base = server_urls
    # a Redis db no other test's workers use, so this one leases no partition of theirs
    redis_url = redis_db(redis_base, 7)
    port = free_port()
    async with fresh_database(admin_dsn) as url, flushed(redis_url):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "MONITOR_WORKER_METRICS_PORT": str(port),
        }
        with (tmp_path / "worker.log").open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", "worker", env=env, stdout=log, stderr=log
            )
        try:
            body = await scrape(f"http://127.0.0.1:{port}/metrics", worker)
            assert "monitor_evaluation_seconds_count" in body, body[:500]
            assert "# TYPE monitor_events_total counter" in body
        finally:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), timeout=30)


async def scrape(url: str, worker: asyncio.subprocess.Process) -> str:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            assert worker.returncode is None, "the worker exited"
            try:
                response = await client.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            return response.text
    raise AssertionError(f"nothing answered at {url} in 20 s")


async def test_the_evaluator_counts_the_pings_of_each_transaction(pool: asyncpg.Pool) -> None:
    person_id = await strict_person(pool, "transaction-pings")
    evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=3600.0))
    count = metric_value("monitor_evaluation_transaction_pings_count")
    total = metric_value("monitor_evaluation_transaction_pings_sum")
    await evaluator.evaluate(PingBatch.of_rows(pings(person_id, CENTRE, NOON)))  # eight fixes
    assert metric_value("monitor_evaluation_transaction_pings_count") == count + 1
    assert metric_value("monitor_evaluation_transaction_pings_sum") == total + 8
