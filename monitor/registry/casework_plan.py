"""What a patch of a person changes, checked before anything is written: each field's old and
new value, and the jurisdiction's new path for a transfer.

The reach rules are creation's (docs/decisions/0004): the target jurisdiction must be within
the officer's reach, and every fence the person is judged by (allowed, exclusion, a curfew's
home) must be visible from the person's jurisdiction, the new one after a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geofence.errors import InvalidInputError
from geofence.person_rules import zone_info
from monitor.auth.models import Officer
from monitor.errors import BadRequestError
from monitor.registry import casework_store, store
from monitor.registry.casework_schemas import PersonPatch
from monitor.registry.routes import check_fences, jurisdiction_in_reach
from monitor.registry.schemas import PersonOut
from pings.pg import Conn

FENCE_FIELDS = (("allowed_fence_ids", "allowed"), ("exclusion_fence_ids", "exclusion"))


@dataclass(frozen=True)
class Plan:
    changes: dict[str, dict[str, Any]]  # field -> {"old": .., "new": ..}, changed fields only
    old_path: str
    new_path: str | None  # set for a transfer


async def plan_patch(
    conn: Conn, officer: Officer, current: PersonOut, path: str, patch: PersonPatch
) -> Plan:
    given = normalised(patch.given())
    changes = {
        field: {"old": normalised({field: getattr(current, field)})[field], "new": value}
        for field, value in given.items()
        if value != normalised({field: getattr(current, field)})[field]
    }
    if "timezone" in changes:
        try:
            zone_info(changes["timezone"]["new"])  # curfew and check-in hours are read in it
        except InvalidInputError as error:
            raise BadRequestError(str(error), field="timezone") from None
    new_path = None
    if "jurisdiction_id" in changes:
        target = changes["jurisdiction_id"]["new"]
        new_path = await jurisdiction_in_reach(conn, officer, target, field="jurisdiction_id")
    await check_reach(conn, current, changes, new_path or path, moved=new_path is not None)
    return Plan(changes, path, new_path)


def normalised(fields: dict[str, Any]) -> dict[str, Any]:
    """Fence lists as sets, sorted: their order and repeats mean nothing."""
    return {k: sorted(set(v)) if k.endswith("_fence_ids") else v for k, v in fields.items()}


async def check_reach(
    conn: Conn, current: PersonOut, changes: dict[str, Any], person_path: str, *, moved: bool
) -> None:
    """The fences given, and on a transfer every fence kept, must be visible from the
    person's jurisdiction. A fence out of reach answers as one that does not exist."""
    for field, role in FENCE_FIELDS:
        if field in changes:
            ids, kept = changes[field]["new"], getattr(current, field)
            await check_fences(conn, ids, role, person_path, field=field, keeping=kept)
        elif moved:
            await kept_fences_in_reach(conn, getattr(current, field), role, person_path, field)
    if moved:
        homes = await casework_store.curfew_fence_ids(conn, person_id=current.id)
        await kept_fences_in_reach(conn, homes, "allowed", person_path, "jurisdiction_id")


async def kept_fences_in_reach(
    conn: Conn, fence_ids: list[int], role: str, person_path: str, field: str
) -> None:
    found = await store.visible_fence_ids(
        conn, fence_ids=fence_ids, role=role, viewer_path=person_path
    )
    for fence_id in sorted(set(fence_ids) - found):
        what = "a curfew rule's home fence" if field == "jurisdiction_id" else f"{role} fence"
        fix = (
            "switch the rule off first"
            if field == "jurisdiction_id"
            else f"give {field} of the new jurisdiction with the transfer"
        )
        raise BadRequestError(
            f"{field}: the person's {what} {fence_id} is not in reach of the new "
            f"jurisdiction; {fix}",
            field=field,
        )
