"""Replay marks: a partition whose pings could not reach its stream is replayed from PostgreSQL.

Ingest sets the mark when Redis refuses a flush's entries (the pings are durable already); the
partition's evaluator reads it, replays what was received since, and clears it.
"""

from __future__ import annotations

from datetime import datetime

from pings.batch import PingBatch
from pings.pg import Conn

Cursor = tuple[int, datetime, int]  # (person_id, ts, id) of the last ping of a page

MARK_REPLAY = """
INSERT INTO stream_checkpoints (partition, replay_from) SELECT unnest($1::int[]), $2
ON CONFLICT (partition) DO UPDATE
SET replay_from = least(coalesce(stream_checkpoints.replay_from, EXCLUDED.replay_from),
                        EXCLUDED.replay_from)
"""
CLEAR_REPLAY = """
UPDATE stream_checkpoints SET replay_from = NULL WHERE partition = $1 AND replay_from <= $2
"""


async def mark_replay(conn: Conn, *, partitions: list[int], since: datetime) -> None:
    """Ingest could not hand these partitions' pings to Redis: their evaluators replay them."""
    await conn.execute(MARK_REPLAY, partitions, since)


async def clear_replay(conn: Conn, *, partition: int, through: datetime) -> None:
    """The replay asked for up to `through` is done."""
    await conn.execute(CLEAR_REPLAY, partition, through)


# person by person in fix-time order, so the replay judges each person's pings in order; the
# fix time as exact epoch microseconds (extract answers numeric), as the stream carries it
REPLAY = """
SELECT id, person_id, device_id, (extract(epoch FROM ts) * 1000000)::bigint AS ts_us, lat, lon,
       accuracy_m::float8 AS accuracy_m, checkin, tamper, battery_pct::float8 AS battery_pct, ts
FROM pings
WHERE received_at > $1 AND person_id % $2 = $3 AND (person_id, ts, id) > ($4, $5, $6)
ORDER BY person_id, ts, id LIMIT $7
"""


async def replay_page(
    conn: Conn, *, since: datetime, partitions: int, partition: int, after: Cursor, limit: int
) -> tuple[PingBatch, Cursor] | None:
    """The next page of one partition's pings received since `since`, and where the next page
    starts; None past the last."""
    rows = await conn.fetch(REPLAY, since, partitions, partition, *after, limit)
    if not rows:
        return None
    last = rows[-1]
    batch = PingBatch.of_records(rows, (r["ts_us"] for r in rows))
    return batch, (last["person_id"], last["ts"], last["id"])
