"""The notifier: turns alert events into deliveries to the rung office's channels, and sends
them signed, with retries. Both halves are rounds a test can drive (dispatch_once, send_once);
run_dispatcher and run_sender repeat them under the app's supervisor.

Nothing is lost across restarts: deliveries are written with the cursor's move in one
transaction, and a delivery stays pending until a receiver's 2xx is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from monitor.notify import dispatch_store, egress, metrics, signing
from pings.pg import Conn

log = logging.getLogger(__name__)

# the alert events a channel may ask for, by the name a channel gives them
CHANNEL_EVENTS = {"alert.opened": "opened", "alert.escalated": "escalated",
                  "alert.resolved": "resolved"}  # fmt: skip
USER_AGENT = "monitor-webhooks/1"


@dataclass(frozen=True)
class NotifyConfig:
    interval_s: float = 2.0
    timeout_s: float = 5.0
    max_attempts: int = 8
    backoff_first_s: float = 10.0
    backoff_cap_s: float = 3600.0
    batch: int = 50
    # the non-public networks a webhook may reach (monitor.notify.egress)
    allowed_networks: tuple[egress.Network, ...] = ()


DISPATCH_BATCH = 500  # events read in one round (one transaction)


async def dispatch_once(
    pool: asyncpg.Pool, config: NotifyConfig, *, limit: int = DISPATCH_BATCH
) -> int:
    """One read of the event log after the cursor; the number of alert events read (`limit`:
    there may be more). Cursor and deliveries commit together, so a crash between rounds
    neither loses nor repeats a delivery."""
    made = 0
    async with pool.acquire() as conn, conn.transaction():
        cursor = await dispatch_store.lock_cursor(conn)
        rows, through = await dispatch_store.news(
            conn, after_id=cursor, types=list(CHANNEL_EVENTS), limit=limit
        )
        for row in rows:
            made += await dispatch_event(conn, row, config)
        await dispatch_store.advance_cursor(conn, to=through)
    if made:
        log.info("notifier: %d deliveries of %d alert events", made, len(rows))
    return len(rows)


async def dispatch_event(conn: Conn, event: asyncpg.Record, config: NotifyConfig) -> int:
    """Deliveries of one alert event to the channels of the office at the alert's rung (for
    alert.escalated, the rung it moved to; an alert opened below its own office's level goes
    to that office, but an escalation to a level the tree lacks reaches nobody until the next
    rung, so the first office never hears it twice)."""
    alert: dict[str, Any] = event["payload"]["alert"]
    found = await dispatch_store.rung_office(
        conn, alert_path=event["jurisdiction_path"], rung=alert["escalation_level"],
        or_own=event["type"] != "alert.escalated",
    )  # fmt: skip
    if found is None or await heard_it_already(conn, event, found["id"]):
        return 0
    channels = await dispatch_store.office_channels(
        conn, office_id=found["id"], event=CHANNEL_EVENTS[event["type"]], alert_type=alert["type"]
    )
    if not channels:
        return 0
    on_duty = await dispatch_store.on_duty(conn, office_id=found["id"], at=event["created_at"])
    payload = {
        "event": {"id": event["id"], "type": event["type"], "at": event["created_at"].isoformat()},
        "alert": alert,
        "person": {"id": alert["person_id"], "case_number": alert["case_number"]},
        "office": {"id": found["id"], "name": found["name"], "level": found["level"]},
        "on_duty": on_duty,
        "nobody_on_duty": not on_duty,
    }
    made = 0
    for channel_id in channels:
        made += await dispatch_store.insert_delivery(
            conn, channel_id=channel_id, event_id=event["id"], event_type=event["type"],
            alert_id=event["alert_id"], payload=payload, max_attempts=config.max_attempts,
        ) is not None  # fmt: skip
    return made


async def heard_it_already(conn: Conn, event: asyncpg.Record, office_id: int) -> bool:
    """An escalation that leaves the alert with the office it opened at (a person registered
    at a district: street → district) is no news to that office."""
    before = event["payload"].get("from")
    if event["type"] != "alert.escalated" or not isinstance(before, str):
        return False
    earlier = await dispatch_store.rung_office(
        conn, alert_path=event["jurisdiction_path"], rung=before, or_own=True
    )
    return earlier is not None and earlier["id"] == office_id


async def send_once(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    config: NotifyConfig,
    *,
    now: datetime | None = None,
    delivery_id: int | None = None,
    rng: random.Random | None = None,
) -> int:
    """One claim of due deliveries (or just `delivery_id`), each POSTed once; the number
    attempted. `now` is the database's clock unless a test gives one."""
    async with pool.acquire() as conn:
        now = now or await conn.fetchval("SELECT now()")
        assert now is not None
        superseded = await dispatch_store.supersede(conn, now=now, delivery_id=delivery_id)
        if superseded:
            metrics.SUPERSEDED.inc(superseded)
        claimed = await dispatch_store.claim(
            conn, now=now, limit=config.batch, lease_s=config.timeout_s * 4 + 30,
            delivery_id=delivery_id,
        )  # fmt: skip
    outcomes = await asyncio.gather(*(post(client, row, config) for row in claimed))
    for row, outcome in zip(claimed, outcomes, strict=True):
        await settle(pool, row, outcome, config, now=now, rng=rng or random.Random())
    return len(claimed)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def is_delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_body(row: asyncpg.Record) -> bytes:
    return orjson.dumps({"delivery_id": row["id"], **row["payload"]})


async def post(client: httpx.AsyncClient, row: asyncpg.Record, config: NotifyConfig) -> Outcome:
    body = delivery_body(row)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Monitor-Event": row["event_type"],
        "X-Monitor-Delivery": str(row["id"]),
        "X-Monitor-Timestamp": str(stamp),
        "X-Monitor-Signature": signing.sign(row["secret"], stamp, body),
    }
    started = time.perf_counter()
    try:
        targets, host, extensions = await egress.pinned(row["url"], config.allowed_networks)
        for place, url in enumerate(targets):  # each address checked, in turn
            try:
                answer = await client.post(url, content=body, headers=headers | host,
                                           extensions=extensions,
                                           timeout=config.timeout_s)  # fmt: skip
                break
            except httpx.ConnectError:
                if place == len(targets) - 1:
                    raise
    except egress.RefusedAddress as error:
        return Outcome(None, f"refused: {error}"[:500], (time.perf_counter() - started) * 1000)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as error:  # the host too
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(None, f"{type(error).__name__}: {error}"[:500], elapsed)
    elapsed = (time.perf_counter() - started) * 1000
    refused = "" if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
    return Outcome(answer.status_code, refused, elapsed)


async def settle(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    outcome: Outcome,
    config: NotifyConfig,
    *,
    now: datetime,
    rng: random.Random,
) -> None:
    """The attempt's receipt, and what comes next: done, a later try, or given up."""
    attempts = row["attempts"] + 1
    wait = signing.backoff_s(attempts, first_s=config.backoff_first_s,
                             cap_s=config.backoff_cap_s, rng=rng)  # fmt: skip
    if outcome.is_delivered:
        status = "delivered"
        metrics.DELIVERED.inc()
    elif attempts >= row["max_attempts"]:
        status = "failed"
        metrics.FAILED.inc()
        log.warning("delivery %d given up after %d attempts: %s", row["id"], attempts,
                    outcome.error)  # fmt: skip
    else:
        status = "pending"
    metrics.ATTEMPTS.labels("delivered" if outcome.is_delivered else "error").inc()
    async with pool.acquire() as conn:
        await dispatch_store.record_attempt(
            conn, delivery_id=row["id"], at=now, status_code=outcome.status_code,
            error=outcome.error, duration_ms=outcome.duration_ms, status=status,
            next_attempt_at=now + timedelta(seconds=wait),
        )  # fmt: skip


async def run_dispatcher(pool: asyncpg.Pool, config: NotifyConfig) -> None:
    while True:
        await asyncio.sleep(config.interval_s)
        while await dispatch_once(pool, config) == DISPATCH_BATCH:
            pass  # a backlog: read on without waiting


async def run_sender(pool: asyncpg.Pool, config: NotifyConfig) -> None:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        while True:
            await asyncio.sleep(config.interval_s)
            while await send_once(pool, client, config) == config.batch:
                pass  # a backlog: keep sending while whole batches were due
