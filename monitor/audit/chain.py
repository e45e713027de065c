"""The audit chain recomputed outside the database: pure functions over rows and anchors.

A row's hash is sha256(prev_hash || canonical(row)), where canonical(row) is the UTF-8 text of
the jsonb array [id, at as epoch microseconds, officer_id, action, subject, details] as
PostgreSQL renders it (migrations/0014). `details` arrives as PostgreSQL's own rendering of the
stored jsonb (deterministic, no session setting changes it); everything else is rendered here,
so a row whose stored fields were changed no longer produces its stored hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pings.clock import dt_to_us

MOVED = "rows were removed, inserted or re-hashed before it"
# PostgreSQL's escape_json: these by name, other control characters as \u00XX
ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    officer_id: int | None
    action: str
    subject: str
    details_text: str  # the stored jsonb as PostgreSQL renders it (`details::text`)
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class Anchor:
    """The chain head as once written outside the database."""

    id: int
    hash: bytes
    written_at: str
    source: str  # where it was read from: the anchor file or the Redis stream


@dataclass(frozen=True)
class Break:
    """The first row that fails, and why."""

    id: int
    reason: str


def json_string(text: str) -> str:
    out = (ESCAPES.get(c) or (f"\\u{ord(c):04x}" if c < " " else c) for c in text)
    return '"' + "".join(out) + '"'


def canonical(row: AuditRow) -> bytes:
    officer = "null" if row.officer_id is None else str(row.officer_id)
    parts = (str(row.id), str(dt_to_us(row.at)), officer, json_string(row.action))
    text = f"[{', '.join(parts)}, {json_string(row.subject)}, {row.details_text}]"
    return text.encode()


def row_hash(prev_hash: bytes, row: AuditRow) -> bytes:
    return hashlib.sha256(prev_hash + canonical(row)).digest()


@dataclass
class ChainCheck:
    """Feeds rows in id order, batch by batch; stops at the first break."""

    prev_hash: bytes = b""
    last_id: int = 0
    rows: int = 0
    broken: Break | None = field(default=None)

    def feed(self, rows: Iterable[AuditRow]) -> Break | None:
        for row in rows:
            if self.broken is not None:
                break
            self.broken = self._check(row)
            self.prev_hash, self.last_id, self.rows = row.hash, row.id, self.rows + 1
        return self.broken

    def _check(self, row: AuditRow) -> Break | None:
        if row.id <= self.last_id:
            return Break(row.id, f"id is not above the previous row's ({self.last_id})")
        if row.prev_hash != self.prev_hash:
            return Break(row.id, f"prev_hash is not the previous row's hash: {MOVED}")
        if row_hash(row.prev_hash, row) != row.hash:
            return Break(row.id, "hash does not match the row's content: the row was changed")
        return None


def check_head(check: ChainCheck, head: tuple[int, bytes] | None) -> Break | None:
    """The chain-head row (moved by every append) against the last row read."""
    if head is None:
        return Break(0, "the chain head row (audit_chain) is missing")
    head_id, head_hash = head
    if (head_id, head_hash) != (check.last_id, check.prev_hash):
        ends = f"the table ends at row {check.last_id} with another hash"
        return Break(head_id, f"the chain head names row {head_id} but {ends}: rows were removed")
    return None


def check_anchors(anchors: Sequence[Anchor], hashes: Mapping[int, bytes]) -> Break | None:
    """Each anchor against the row it names: a chain re-hashed after an edit verifies by
    itself, but its rows no longer carry the hashes written outside the database."""
    trusted = 0
    for anchor in sorted(anchors, key=lambda a: a.id):
        found = hashes.get(anchor.id)
        where = f"the anchor written at {anchor.written_at} ({anchor.source})"
        if found is None:
            return Break(anchor.id, f"row {anchor.id} is missing, named by {where}")
        if found != anchor.hash:
            rehashed = f"a row after {trusted} was changed and the chain re-hashed"
            return Break(anchor.id, f"hash differs from {where}: {rehashed}")
        trusted = anchor.id
    return None


def first_break(*found: Break | None) -> Break | None:
    """The lowest row named: every row from there on is in doubt."""
    breaks = [b for b in found if b is not None]
    return min(breaks, key=lambda b: b.id) if breaks else None
