"""Persons as the evaluator reads them, kept between transactions.

Rebuilding every person of a batch from persons, jurisdictions, fences, rules and permits on
every transaction was the evaluator's most expensive statement
(docs/decisions/0026-fleet-caches-and-the-collector.md). Each person's row carries a
revision that moves in the same transaction as any change to what is read here
(migrations/0006), and the statement that locks the states reads it: a cached person whose
revision moved is read again before it is used, so the cache is never staler than the old
query was.

A discharged person (解矫, migrations/0020) is not among the persons answered: fixes taken
before the discharge and uploaded after it are stored, as their order allowed, but judged no
more, so they open no alert on a closed case.

A person without rules (most of them) is kept as a plain tuple, not a PersonRow: Python's
collector leaves out a tuple of plain values, while every full collection walked all of a
fleet's PersonRows. They are held in a SettledCache, so that the dict holding them is not
walked either (docs/decisions/0026-fleet-caches-and-the-collector.md).
"""

from __future__ import annotations

from typing import Any

from alerts.person_store import PersonRow, no_rules, persons
from evaluator.state_store import lock_states
from pings.pg import Conn
from pings.settled_cache import SettledCache

LOCK_STATES_AND_REVISIONS = """
WITH locked AS MATERIALIZED (
    SELECT person_id, state FROM person_state WHERE person_id = ANY($1::bigint[])
    ORDER BY person_id FOR UPDATE
)
SELECT p.id, p.revision, s.person_id IS NOT NULL AS has_state, s.state
FROM persons p LEFT JOIN locked s ON s.person_id = p.id
WHERE p.id = ANY($1::bigint[]) AND p.discharged_at IS NULL
"""

# a worker sees the persons of the partitions it owns; past this many, start afresh
MAX_PERSONS = 200_000


# a PersonRow with no rules: id, level, jurisdiction id and path, allowed and exclusion fence
# ids, revision, time zone, band and phone ids
Packed = tuple[
    int, str, int, str, tuple[int, ...], tuple[int, ...], int, str, tuple[str, ...], tuple[str, ...]
]


def pack(row: PersonRow) -> PersonRow | Packed:
    if row.rules is not no_rules(row.rules.timezone):
        return row
    return (
        row.id,
        row.supervision_level,
        row.jurisdiction_id,
        row.jurisdiction_path,
        row.allowed_fence_ids,
        row.exclusion_fence_ids,
        row.revision,
        row.rules.timezone,
        row.band_ids,
        row.phone_ids,
    )


def unpack(entry: PersonRow | Packed) -> PersonRow:
    if isinstance(entry, PersonRow):
        return entry
    person_id, level, jurisdiction_id, path, allowed, exclusion, revision, zone, *ids = entry
    bands, phones = ids
    return PersonRow(
        person_id, level, jurisdiction_id, path, allowed, exclusion, no_rules(zone), revision,
        bands, phones,
    )  # fmt: skip


class PersonCache:
    def __init__(self, max_persons: int = MAX_PERSONS) -> None:
        self.rows: SettledCache[int, PersonRow | Packed] = SettledCache()
        self.max_persons = max_persons
        self.reads = 0  # persons read from the registry tables (tests watch it)

    async def lock(
        self, conn: Conn, *, person_ids: list[int]
    ) -> tuple[dict[int, PersonRow], dict[int, dict[str, Any]]]:
        """The persons who exist among these, and each one's saved state, row-locked to
        commit. A first ping's person gets a state row made."""
        rows = await conn.fetch(LOCK_STATES_AND_REVISIONS, person_ids)
        stale = [r["id"] for r in rows if self._revision(r["id"]) != r["revision"]]
        if stale:
            if len(self.rows) + len(stale) > self.max_persons:
                self.rows.clear()
            fresh = await persons(conn, person_ids=stale)
            for person_id, person in fresh.items():
                self.rows[person_id] = pack(person)
            self.reads += len(stale)
        found = {r["id"]: unpack(row) for r in rows if (row := self.rows.get(r["id"])) is not None}
        states = {r["id"]: r["state"] for r in rows if r["has_state"]}
        missing = [r["id"] for r in rows if not r["has_state"]]
        if missing:
            states |= await lock_states(conn, person_ids=missing)
        return found, states

    def _revision(self, person_id: int) -> int | None:
        row = self.rows.get(person_id)
        if row is None:
            return None
        return row.revision if isinstance(row, PersonRow) else row[6]
