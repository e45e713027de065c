"""Fences change in versions: an edit is a new version (the old geometry kept), a fence is
retired rather than deleted, and the persons still on it are listed to be moved off it.

Evaluators judge by a fence's new version within `FENCE_CHECK_S` (evaluator/fence_cache.py compares
versions). docs/decisions/0015.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from alerts import store as alert_store
from alerts.bounds import DbId, Offset
from alerts.known_query import RefuseUnknownQuery
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.error_responses import documented
from monitor.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from monitor.registry import fence_store, store
from monitor.registry.casework import IfMatch, check_precondition, etag
from monitor.registry.fence_schemas import FencePatch, FenceVersionOut, RetireFenceIn
from monitor.registry.geometry import to_fence_geometry
from monitor.registry.routes import is_root_admin
from monitor.registry.schemas import FenceOut, PersonOut
from monitor.registry.store import row_to_person
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["registry"])

Limit = Annotated[int, Query(ge=1, le=1000)]


async def visible_fence(conn: Conn, officer: Officer, fence_id: int) -> FenceOut:
    fence = await store.get_fence(conn, fence_id=fence_id, viewer_path=officer.jurisdiction_path)
    if fence is None:
        raise NotFoundError(f"fence {fence_id} not found")
    return fence


async def fence_to_change(conn: Conn, officer: Officer, fence_id: int) -> Any:
    """The fence, locked, if the officer may change it: it belongs to their subtree, or it is
    shared and they are an admin of the root (who alone creates shared fences). A fence seen from
    below (an ancestor's) is the ancestor's to change: 403."""
    await visible_fence(conn, officer, fence_id)
    row = await fence_store.lock_fence(conn, fence_id=fence_id)
    if row is None:  # deleted in between: fences are not deleted, but say it plainly
        raise NotFoundError(f"fence {fence_id} not found")
    path = row["jurisdiction_path"]
    if (path is None and not is_root_admin(officer)) or (
        path is not None and not officer.sees(path)
    ):
        raise ForbiddenError(
            f"fence {fence_id} belongs to a jurisdiction above yours; its officers change it"
        )
    if row["retired_at"] is not None:
        raise ConflictError(f"fence {fence_id} was retired at {row['retired_at'].isoformat()}")
    return row


@router.patch("/fences/{fence_id}", responses=documented(412))
async def patch_fence(
    ctx: Ctx,
    officer: Writer,
    fence_id: DbId,
    patch: FencePatch,
    response: Response,
    if_match: IfMatch = None,
) -> FenceOut:
    """A new version of the fence (name, geometry with its crs, properties); the old one is
    kept. `ETag` is the version. Evaluators judge by it within about two seconds."""
    given = {k: getattr(patch, k) for k in patch.model_fields_set}
    if "crs" in given and "geometry" not in given:
        raise BadRequestError("crs: give the geometry it describes with it", field="crs")
    warnings: list[str] = []
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            row = await fence_to_change(conn, officer, fence_id)
            check_precondition(if_match, row["version"], what="fence")
            if "geometry" in given:
                crs = given.setdefault("crs", row["crs"])
                given["geometry"], warnings = to_fence_geometry(given["geometry"], crs)
            if given:
                version = await fence_store.update_fence(conn, fence_id=fence_id, changes=given)
                await alert_store.audit(
                    conn, officer_id=officer.id, action="fence.update",
                    subject=f"fence:{fence_id}",
                    details={"fields": sorted(given), "version": version},
                )  # fmt: skip
        fence = await visible_fence(conn, officer, fence_id)
    response.headers["ETag"] = etag(fence.version)
    return fence.model_copy(update={"warnings": warnings})


@router.get("/fences/{fence_id}/versions", dependencies=[RefuseUnknownQuery])
async def fence_versions(
    ctx: Ctx,
    officer: CurrentOfficer,
    fence_id: DbId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[FenceVersionOut]:
    """Every version of the fence, oldest first, each with its geometry as it was."""
    async with ctx.pool.acquire() as conn:
        await visible_fence(conn, officer, fence_id)
        rows = await fence_store.list_versions(conn, fence_id=fence_id, limit=limit, offset=offset)
    return [FenceVersionOut(**dict(r)) for r in rows]


@router.post("/fences/{fence_id}/retire")
async def retire_fence(ctx: Ctx, officer: Writer, fence_id: DbId, data: RetireFenceIn) -> FenceOut:
    """The fence is given to no one new; persons on it are still judged by it until they
    are moved off it (`GET /v1/fences/{id}/persons` lists them)."""
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            await fence_to_change(conn, officer, fence_id)
            await fence_store.retire_fence(
                conn, fence_id=fence_id, officer_id=officer.id, reason=data.reason
            )
            await alert_store.audit(
                conn, officer_id=officer.id, action="fence.retire", subject=f"fence:{fence_id}",
                details={"reason": data.reason},
            )  # fmt: skip
        return await visible_fence(conn, officer, fence_id)


@router.get("/fences/{fence_id}/persons", dependencies=[RefuseUnknownQuery])
async def persons_on_fence(
    ctx: Ctx,
    officer: CurrentOfficer,
    fence_id: DbId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[PersonOut]:
    """Persons under supervision within your reach who are judged by this fence (allowed
    area, exclusion zone or a curfew's home): after retiring it, those still to move."""
    async with ctx.pool.acquire() as conn:
        await visible_fence(conn, officer, fence_id)
        rows = await fence_store.persons_on_fence(
            conn, fence_id=fence_id, under_path=officer.jurisdiction_path, limit=limit,
            offset=offset,
        )  # fmt: skip
    return [row_to_person(r) for r in rows]
