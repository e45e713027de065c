"""SQL of the audit log's readers: the chain in id order, the head, entries for oversight."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from monitor.audit.chain import AuditRow
from pings.pg import Conn

BATCH = 5000

CHAIN_PAGE = """
SELECT id, at, officer_id, action, subject, details::text AS details_text, prev_hash, hash
FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2
"""


async def chain_pages(conn: Conn, *, batch: int = BATCH) -> AsyncIterator[list[AuditRow]]:
    """The whole chain in id order, a page at a time (run it in one snapshot)."""
    after = 0
    while rows := await conn.fetch(CHAIN_PAGE, after, batch):
        yield [AuditRow(**dict(r)) for r in rows]
        after = rows[-1]["id"]


HEAD = "SELECT last_id, last_hash FROM audit_chain"


async def head(conn: Conn) -> tuple[int, bytes] | None:
    row = await conn.fetchrow(HEAD)
    return None if row is None else (row["last_id"], bytes(row["last_hash"]))


HASHES = "SELECT id, hash FROM audit_log WHERE id = ANY($1::bigint[])"


async def hashes(conn: Conn, *, ids: Sequence[int]) -> dict[int, bytes]:
    return {r["id"]: bytes(r["hash"]) for r in await conn.fetch(HASHES, list(ids))}


# rows of officers in the viewer's subtree; the system's own rows (no officer) only at a root
ENTRIES = """
SELECT a.id, a.at, a.officer_id, o.username, a.action, a.subject, a.details,
       encode(a.hash, 'hex') AS hash
FROM audit_log a LEFT JOIN officers o ON o.id = a.officer_id
LEFT JOIN jurisdictions j ON j.id = o.jurisdiction_id
WHERE (j.path LIKE $1 || '%' OR (a.officer_id IS NULL AND $1 ~ '^/[0-9]+/$'))
  AND ($2::bigint IS NULL OR a.id < $2)
  AND ($3::timestamptz IS NULL OR a.at >= $3)
  AND ($4::timestamptz IS NULL OR a.at < $4)
  AND ($5::bigint IS NULL OR a.officer_id = $5)
  AND ($6::text IS NULL OR a.action = $6)
  AND ($7::text IS NULL OR a.subject = $7)
ORDER BY a.id DESC LIMIT $8
"""


async def entries(
    conn: Conn,
    *,
    under_path: str,
    before_id: int | None,
    start: datetime | None,
    end: datetime | None,
    officer_id: int | None,
    action: str | None,
    subject: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; page on with `before_id` = the last id answered."""
    rows = await conn.fetch(
        ENTRIES, under_path, before_id, start, end, officer_id, action, subject, limit
    )
    return [dict(r) for r in rows]
