"""The outbox: events appended in the transaction that changed an alert, then published to
the hubs after commit; a relay wakes the hubs for anything a dead publisher left behind."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerts import metrics, store
from alerts.models import Alert, EventType, NewEvent
from pings import streams
from pings.pg import Conn

log = logging.getLogger(__name__)


async def alert_event(
    conn: Conn, alert_id: int, kind: EventType, extra: dict[str, Any]
) -> NewEvent:
    """An event about one alert, as it is now in the transaction."""
    alert = await store.get_alert(conn, alert_id=alert_id)
    assert alert is not None
    return event_of(alert, kind, extra)


def event_of(
    alert: Alert, kind: EventType, extra: dict[str, Any], *, actor_officer_id: int | None = None
) -> NewEvent:
    """An event about `alert`: its wire form, and where it belongs (the alert's office); an
    officer's action names them (`actor_officer_id`, in the payload too)."""
    payload = {"person_id": alert.person_id, "alert": alert.to_wire()}
    if actor_officer_id is not None:
        payload["actor_officer_id"] = actor_officer_id
    return NewEvent(
        kind,
        alert.person_id,
        alert.jurisdiction_id,
        alert.jurisdiction_path,
        {**payload, **extra},
        alert_id=alert.id,
        actor_officer_id=actor_officer_id,
    )


# one statement: the counter row stays locked until commit, so event ids become visible in
# id order; the events take the ids just below the counter's new value, in the order given.
# The same update moves the publication watermark ($8) over events already published.
# Payloads go as one JSON array rather than a jsonb[] (see evaluator.state_store.SAVE_STATES).
APPEND_EVENTS = """
WITH taken AS (
    UPDATE event_counter SET last_id = last_id + cardinality($1::text[]),
                             published_id = greatest(published_id, $8)
    RETURNING last_id
)
INSERT INTO events (id, type, alert_id, person_id, jurisdiction_id, jurisdiction_path,
                    actor_officer_id, payload)
SELECT taken.last_id - cardinality($1::text[]) + v.n, v.type, v.alert_id, v.person_id,
       v.jurisdiction_id, v.jurisdiction_path, v.actor_officer_id, v.payload
FROM taken, ROWS FROM (unnest($1::text[]), unnest($2::bigint[]), unnest($3::bigint[]),
                       unnest($4::bigint[]), unnest($5::text[]), unnest($6::bigint[]),
                       jsonb_array_elements($7::jsonb))
    WITH ORDINALITY AS v(type, alert_id, person_id, jurisdiction_id, jurisdiction_path,
                         actor_officer_id, payload, n)
RETURNING id
"""


async def append_events(
    conn: Conn, *, events: list[NewEvent], published_through: int = 0
) -> list[int]:
    """Write events with commit-ordered ids. Call last in the transaction: it serializes writers.

    `published_through`: the hubs were woken for every event up to this id (an earlier
    transaction's); recorded with the new ids, or by the relay when there are none."""
    if not events:
        return []
    for event in events:
        metrics.EVENTS.labels(event.type.value).inc()
    rows = await conn.fetch(
        APPEND_EVENTS,
        [e.type.value for e in events],
        [e.alert_id for e in events],
        [e.person_id for e in events],
        [e.jurisdiction_id for e in events],
        [e.jurisdiction_path for e in events],
        [e.actor_officer_id for e in events],
        [e.payload for e in events],
        published_through,
    )
    last = max(r["id"] for r in rows)
    return list(range(last - len(events) + 1, last + 1))


EVENTS_AFTER = """
SELECT id, type, payload, jurisdiction_path, created_at FROM events
WHERE id > $1 AND ($2::text IS NULL OR jurisdiction_path LIKE $2 || '%')
ORDER BY id LIMIT $3
"""


async def events_after(
    conn: Conn, *, after_id: int, under_path: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(EVENTS_AFTER, after_id, under_path, limit)


LAST_EVENT_ID = "SELECT last_id FROM event_counter"


async def last_event_id(conn: Conn) -> int:
    last: int = await conn.fetchval(LAST_EVENT_ID)
    return last


PUBLICATION = "SELECT last_id, published_id FROM event_counter"
# taken briefly, between the evaluators' transactions (they hold the row to commit)
MARK_PUBLISHED = """
UPDATE event_counter SET published_id = $1 WHERE published_id < $1 AND last_id >= $1
"""


async def publication(conn: Conn) -> tuple[int, int]:
    """(the last committed event id, the id the hubs were last woken through)."""
    row = await conn.fetchrow(PUBLICATION)
    assert row is not None
    return row["last_id"], row["published_id"]


async def mark_published(conn: Conn, *, through: int) -> None:
    await conn.execute(MARK_PUBLISHED, through)


async def publish(redis: aioredis.Redis, pool: asyncpg.Pool, event_ids: list[int]) -> None:
    """After commit: wake the hubs, then mark the events published. The relay retries failures."""
    if not event_ids:
        return
    try:
        await redis.xadd(
            streams.EVENT_STREAM,
            {b"last": str(max(event_ids)).encode()},
            maxlen=streams.EVENT_STREAM_MAXLEN,
            approximate=True,
        )
    except RedisError:
        log.warning("could not publish events up to %d; the relay will", max(event_ids))
        return
    async with pool.acquire() as conn:
        await mark_published(conn, through=max(event_ids))


async def relay(redis: aioredis.Redis, pool: asyncpg.Pool, *, interval_s: float) -> None:
    """Wake the hubs for events whose publisher died between commit and publish: those
    committed a pass ago or earlier and still above the watermark. (A hub also reads on its
    own every hub_poll_s; this makes the worst case one relay interval.)"""
    committed_before = None  # the last event id committed at the previous pass
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with pool.acquire() as conn:
                last, published = await publication(conn)
            if committed_before is not None and published < committed_before:
                await publish(redis, pool, [last])
            committed_before = last
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("relay pass failed; retrying")
