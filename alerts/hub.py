"""Hub: one listener per process reads committed events in id order and fans them out.

Redis only wakes the listener; PostgreSQL is the source, read as `id > last`, which is safe
because event ids commit in order (see outbox.append_events). Each subscriber has a bounded
queue; one that falls behind is caught up from PostgreSQL by its own cursor, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerts import outbox
from alerts.models import EventType
from pings import streams

log = logging.getLogger(__name__)

PAGE = 500


@dataclass(frozen=True)
class Message:
    id: int
    type: str
    jurisdiction_path: str
    text: str


def record_to_message(row: asyncpg.Record) -> Message:
    body = {
        **row["payload"],
        "id": row["id"],
        "type": row["type"],
        "created_at": row["created_at"].isoformat(),
    }
    return Message(row["id"], row["type"], row["jurisdiction_path"], orjson.dumps(body).decode())


@dataclass(eq=False)
class Subscription:
    jurisdiction_path: str
    cursor: int
    positions: bool
    queue: asyncio.Queue[Message]  # bounded by the hub (settings.ws_queue_max)
    behind: bool = False

    def wants(self, message: Message) -> bool:
        if not message.jurisdiction_path.startswith(self.jurisdiction_path):
            return False
        return self.positions or message.type != EventType.POSITION


class Hub:
    def __init__(
        self, pool: asyncpg.Pool, redis: aioredis.Redis, *, poll_s: float, queue_max: int
    ) -> None:
        self.pool, self.redis = pool, redis
        self.poll_s, self.queue_max = poll_s, queue_max
        self.last_id = 0
        self.subscribers: set[Subscription] = set()

    def subscribe(
        self, *, jurisdiction_path: str, since: int | None, positions: bool
    ) -> Subscription:
        cursor = self.last_id if since is None else since
        sub = Subscription(jurisdiction_path, cursor, positions, asyncio.Queue(self.queue_max))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def catch_up(self, sub: Subscription) -> list[Message]:
        """The next page of what `sub` missed, from PostgreSQL; empty once it is current."""
        while True:
            async with self.pool.acquire() as conn:
                rows = await outbox.events_after(
                    conn, after_id=sub.cursor, under_path=sub.jurisdiction_path, limit=PAGE
                )
            messages = [m for m in map(record_to_message, rows) if sub.wants(m)]
            if messages or len(rows) < PAGE:
                return messages
            sub.cursor = rows[-1]["id"]  # a whole page this socket does not want

    async def run(self) -> None:
        async with self.pool.acquire() as conn:
            self.last_id = await outbox.last_event_id(conn)
        stream_id = "$"
        while True:
            stream_id = await self._wait(stream_id)
            try:
                await self._fan_out()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("hub could not read events; retrying")
                await asyncio.sleep(self.poll_s)

    async def _wait(self, stream_id: str) -> str:
        """Until an evaluator says events were committed, or poll_s passes."""
        try:
            reply: Any = await self.redis.xread(
                {streams.EVENT_STREAM: stream_id}, count=100, block=int(self.poll_s * 1000)
            )
        except RedisError:
            await asyncio.sleep(self.poll_s)
            return stream_id
        if reply:
            last: bytes = reply[0][1][-1][0]
            return last.decode()
        return stream_id

    async def _fan_out(self) -> None:
        while True:
            async with self.pool.acquire() as conn:
                rows = await outbox.events_after(
                    conn, after_id=self.last_id, under_path=None, limit=PAGE
                )
            for message in map(record_to_message, rows):
                self.last_id = message.id
                self._deliver(message)
            if len(rows) < PAGE:
                return

    def _deliver(self, message: Message) -> None:
        for sub in self.subscribers:
            if sub.behind or not sub.wants(message):
                continue
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.behind = True  # the socket catches up from PostgreSQL by its cursor
