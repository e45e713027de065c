"""The persons and devices lists (the console's roster): filtered, within the officer's reach.

Neither list carries a position (only when a fix was taken, and a battery level), so neither
is a location read for the audit log; the person's track and latest positions are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from alerts.bounds import DbId, Offset, Text
from alerts.known_query import RefuseUnknownQuery
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer
from monitor.errors import NotFoundError
from monitor.registry import roster_store, schemas, store
from monitor.registry.roster_store import PersonSort, PersonStatus
from monitor.registry.schemas import DeviceKind, SupervisionLevel
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["registry"])

Search = Annotated[
    Text | None,
    Query(
        max_length=100,
        description="a piece of the case number or name (persons), of the device id or case "
        "number (devices), anywhere in it, case-insensitive",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
JurisdictionId = Annotated[
    DbId | None, Query(description="that jurisdiction's subtree; one out of reach is a 404")
]


async def subtree_in_reach(conn: Conn, officer: Officer, jurisdiction_id: int | None) -> str:
    """The subtree to list; one out of reach answers exactly as a missing one (404)."""
    if jurisdiction_id is None:
        return officer.jurisdiction_path
    path = await store.get_jurisdiction_path(conn, jurisdiction_id=jurisdiction_id)
    if path is None or not officer.sees(path):
        raise NotFoundError(
            f"jurisdiction_id: no jurisdiction {jurisdiction_id} within your reach",
            field="jurisdiction_id",
        )
    return path


@router.get("/persons", dependencies=[RefuseUnknownQuery])
async def list_persons(
    ctx: Ctx,
    officer: CurrentOfficer,
    q: Search = None,
    supervision_level: Annotated[list[SupervisionLevel] | None, Query(max_length=3)] = None,
    status: Annotated[list[PersonStatus] | None, Query(max_length=len(PersonStatus))] = None,
    jurisdiction_id: JurisdictionId = None,
    sort: PersonSort = PersonSort.ID,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.PersonRowOut]:
    """Persons within reach. `supervision_level` and `status` repeat for several values;
    `status` is one per person, most urgent first: tamper, outside, silent, inside, unknown
    (never located). `sort`: `id` (default), `case_number`, `last_fix` (longest unheard
    first), `status`. An unknown query parameter is a 422 naming it."""
    search = (q or "").strip() or None
    async with ctx.pool.acquire() as conn:
        under = await subtree_in_reach(conn, officer, jurisdiction_id)
        where = roster_store.PersonFilter(under, search, supervision_level, status, sort)
        rows = await roster_store.list_person_rows(conn, where=where, limit=limit, offset=offset)
        devices = await roster_store.persons_devices(conn, person_ids=[r["id"] for r in rows])
    return [person_row(row, [d for d in devices if d["person_id"] == row["id"]]) for row in rows]


def person_row(row: dict[str, Any], devices: list[dict[str, Any]]) -> schemas.PersonRowOut:
    """The row with its active devices and their summary: how many, the lowest battery, and
    the oldest latest arrival (the device heard least recently)."""
    active = [schemas.DeviceBriefOut(**d) for d in devices if d["revoked_at"] is None]
    batteries = [d.battery_pct for d in active if d.battery_pct is not None]
    seen = [d.last_received_at for d in active if d.last_received_at is not None]
    return schemas.PersonRowOut.model_validate(
        {
            **row,
            "device_count": len(active),
            "lowest_battery_pct": min(batteries, default=None),
            "oldest_seen_at": min(seen, default=None),
            "devices": active,
        }
    )


@router.get("/devices", dependencies=[RefuseUnknownQuery])
async def list_all_devices(
    ctx: Ctx,
    officer: CurrentOfficer,
    q: Search = None,
    kind: Annotated[list[DeviceKind] | None, Query(max_length=3)] = None,
    state: Literal["active", "revoked"] | None = None,
    silent: bool | None = None,
    jurisdiction_id: JurisdictionId = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.DeviceRowOut]:
    """Devices within reach, by case number, each with its latest fix (time, arrival,
    battery, tamper flag) and whether it is silent: active and not heard for five expected
    intervals (at least the level's floor), or never. An unknown query parameter is a 422."""
    active = None if state is None else state == "active"
    async with ctx.pool.acquire() as conn:
        under = await subtree_in_reach(conn, officer, jurisdiction_id)
        where = roster_store.DeviceFilter(under, (q or "").strip() or None, kind, active, silent)
        rows = await roster_store.list_device_rows(conn, where=where, limit=limit, offset=offset)
    return [schemas.DeviceRowOut(**r) for r in rows]
