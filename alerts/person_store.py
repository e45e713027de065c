"""Who a person is, as the worker judges them and the timers alert about them: level, office,
fences, live devices and rules, read in one query."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import asyncpg

from geofence.errors import InvalidInputError
from geofence.person_rules import PersonRules, parse_rules
from pings.pg import Conn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonRow:
    id: int
    supervision_level: str
    jurisdiction_id: int
    jurisdiction_path: str
    allowed_fence_ids: tuple[int, ...]
    exclusion_fence_ids: tuple[int, ...] = ()
    rules: PersonRules = field(default_factory=PersonRules)
    revision: int = 0  # persons.revision when read (migrations/0006)
    # live devices by kind, for device separation (geofence.separation); migrations/0017
    # moves the revision when a device is enrolled or revoked
    band_ids: tuple[str, ...] = ()
    phone_ids: tuple[str, ...] = ()

    @property
    def fence_ids(self) -> tuple[int, ...]:
        """Every fence the person is judged against: allowed, exclusion and curfew homes."""
        homes = (c.fence_id for c in self.rules.curfews)
        return tuple(sorted({*self.allowed_fence_ids, *self.exclusion_fence_ids, *homes}))


PERSON_COLUMNS = """
p.id, p.revision, p.supervision_level, p.jurisdiction_id, j.path AS jurisdiction_path, p.timezone,
coalesce(fz.allowed, '{}') AS allowed_fence_ids,
coalesce(fz.exclusion, '{}') AS exclusion_fence_ids,
coalesce(dv.bands, '{}') AS band_ids, coalesce(dv.phones, '{}') AS phone_ids,
(SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind,
                                              'params', r.params) ORDER BY r.id), '[]')
 FROM person_rules r WHERE r.person_id = p.id AND r.active) AS rules,
(SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', l.id, 'starts_at', l.starts_at, 'ends_at', l.ends_at,
            'grace_s', l.grace_s)), '[]')
 FROM leave_permits l
 WHERE l.person_id = p.id AND l.closed_at IS NULL AND l.cancelled_at IS NULL) AS permits
"""
PERSON_FROM = """
FROM persons p JOIN jurisdictions j ON j.id = p.jurisdiction_id
LEFT JOIN LATERAL (
    SELECT array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'allowed') AS allowed,
           array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'exclusion') AS exclusion
    FROM person_fences pf JOIN fences f ON f.id = pf.fence_id WHERE pf.person_id = p.id
) fz ON true
LEFT JOIN LATERAL (
    SELECT array_agg(d.id ORDER BY d.id) FILTER (WHERE d.kind <> 'phone') AS bands,
           array_agg(d.id ORDER BY d.id) FILTER (WHERE d.kind = 'phone') AS phones
    FROM devices d WHERE d.person_id = p.id AND d.revoked_at IS NULL
) dv ON true
"""
PERSONS = f"SELECT {PERSON_COLUMNS} {PERSON_FROM} WHERE p.id = ANY($1::bigint[])"


async def persons(conn: Conn, *, person_ids: list[int]) -> dict[int, PersonRow]:
    return {r["id"]: person_row(r) for r in await conn.fetch(PERSONS, person_ids)}


def person_row(r: asyncpg.Record) -> PersonRow:
    return PersonRow(
        id=r["id"],
        supervision_level=r["supervision_level"],
        jurisdiction_id=r["jurisdiction_id"],
        jurisdiction_path=r["jurisdiction_path"],
        allowed_fence_ids=tuple(r["allowed_fence_ids"]),
        exclusion_fence_ids=tuple(r["exclusion_fence_ids"]),
        rules=person_rules(r),
        revision=r["revision"],
        band_ids=tuple(r["band_ids"]),
        phone_ids=tuple(r["phone_ids"]),
    )


def person_rules(row: asyncpg.Record) -> PersonRules:
    """The API checks rules on the way in; one that still fails here is logged and skipped."""
    if not row["rules"] and not row["permits"]:  # most people: nothing to parse, every batch
        return no_rules(row["timezone"])
    try:
        return parse_rules(row["timezone"], row["rules"], row["permits"])
    except InvalidInputError as error:
        log.error("person %d: rules ignored, %s", row["id"], error)
        return parse_rules("Asia/Shanghai", [], row["permits"])


@functools.cache
def no_rules(timezone: str) -> PersonRules:
    return parse_rules(timezone, [], [])
