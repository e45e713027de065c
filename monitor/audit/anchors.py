"""Anchors: the audit chain's head, written now and then where a database login cannot reach.

An attacker who can write to PostgreSQL can disable the triggers, edit a row and re-hash every
later row: the chain then verifies by itself. An anchor (id, hash) written earlier to a file
under the data directory and to a Redis stream still names the old hash, so verification fails.
Each line of the file is one JSON object; the stream keeps the newest AUDIT_ANCHOR_MAXLEN.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from monitor.audit import store
from monitor.audit.chain import Anchor
from pings.pg import Conn
from pings.streams import AUDIT_ANCHOR_MAXLEN, AUDIT_ANCHOR_STREAM

log = logging.getLogger(__name__)

FILE = "file"
REDIS = "redis"


class AnchorFileError(ValueError):
    """A line of the anchor file is not an anchor: the file was damaged or edited."""


def anchor_line(last_id: int, last_hash: bytes, written_at: datetime) -> bytes:
    body = {"id": last_id, "hash": last_hash.hex(), "at": written_at.isoformat()}
    return orjson.dumps(body) + b"\n"


def append_line(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:  # O_APPEND: workers on one host never interleave a line
        out.write(line)


async def write_anchor(
    conn: asyncpg.Connection | Conn, redis: aioredis.Redis, path: Path, *, after: int
) -> int:
    """Writes the head if it moved past `after`; answers the head id."""
    head = await store.head(conn)
    if head is None or head[0] <= after:
        return after
    line = anchor_line(*head, datetime.now(UTC))
    await asyncio.to_thread(append_line, path, line)
    try:
        await redis.xadd(AUDIT_ANCHOR_STREAM, {b"anchor": line.strip()}, maxlen=AUDIT_ANCHOR_MAXLEN)
    except RedisError:  # the file has it; the stream is the second copy
        log.warning("audit anchor for row %d not written to Redis", head[0])
    return head[0]


async def run_anchoring(
    pool: asyncpg.Pool, redis: aioredis.Redis, path: Path, *, interval_s: float
) -> None:
    after = 0
    while True:
        try:
            async with pool.acquire() as conn:
                after = await write_anchor(conn, redis, path, after=after)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("audit anchor not written; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


def parse_anchor(text: bytes | str, source: str) -> Anchor:
    body = orjson.loads(text)
    return Anchor(int(body["id"]), bytes.fromhex(body["hash"]), str(body["at"]), source)


def read_file(path: Path) -> list[Anchor]:
    if not path.exists():
        return []
    anchors = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            anchors.append(parse_anchor(line, f"{FILE} {path} line {number}"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AnchorFileError(f"{path} line {number}: not an anchor ({exc})") from None
    return anchors


async def read_redis(redis: aioredis.Redis) -> list[Anchor]:
    entries: Any = await redis.xrange(AUDIT_ANCHOR_STREAM)
    return [
        parse_anchor(fields[b"anchor"], f"{REDIS} {entry_id.decode()}")
        for entry_id, fields in entries
    ]


async def read_all(path: Path, redis: aioredis.Redis | None) -> list[Anchor]:
    anchors = await asyncio.to_thread(read_file, path)
    if redis is not None:
        try:
            anchors += await read_redis(redis)
        except RedisError:  # the file's anchors still count; the answer says how many
            log.warning("audit anchors in Redis not read")
    return anchors
