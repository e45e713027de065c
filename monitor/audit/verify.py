"""Verification of the whole audit chain against the table's head and every anchor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.audit import store
from monitor.audit.chain import Anchor, Break, ChainCheck, check_anchors, check_head, first_break
from pings.pg import Conn


@dataclass(frozen=True)
class Verdict:
    rows: int  # rows read, up to the first break
    head_id: int  # the last row read
    anchors: int  # anchors compared
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def verify(conn: Conn, anchors: Sequence[Anchor]) -> Verdict:
    """Reads the chain in one snapshot, so appends made meanwhile neither break nor join it."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        check = ChainCheck()
        async for page in store.chain_pages(conn):
            if check.feed(page) is not None:
                break
        head = None if check.broken else check_head(check, await store.head(conn))
        hashes = await store.hashes(conn, ids=sorted({a.id for a in anchors}))
    broken = first_break(check.broken, head, check_anchors(anchors, hashes))
    return Verdict(check.rows, check.last_id, len(anchors), broken)
