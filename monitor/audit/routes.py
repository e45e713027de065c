"""GET /v1/audit and /v1/audit/verify: the audit log for oversight (procuratorate) and admins.

Entries are those of officers in the viewer's jurisdiction subtree (the system's own, such as
purges, at a root jurisdiction only). Verification always covers the whole chain: integrity is
one property of one chain, and a row id and a reason reveal no entry's content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BaseModel

from alerts.bounds import INT64_MAX
from monitor.audit import anchors, store
from monitor.audit.verify import verify
from monitor.auth.models import Officer, Role
from monitor.deps import Ctx, CurrentOfficer
from monitor.errors import ForbiddenError

router = APIRouter(prefix="/v1/audit", tags=["audit"])

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
READERS = (Role.ADMIN, Role.OVERSIGHT)
NO_NUL = r"^[^\x00]*$"


def bounded_time(value: datetime) -> datetime:
    """A time PostgreSQL and Python both hold: naive means UTC; far dates are refused."""
    try:
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        at = EARLIEST - (LATEST - EARLIEST)  # refused below, with the same message
    if not EARLIEST <= at < LATEST:
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return at


Time = Annotated[datetime, AfterValidator(bounded_time)]
Id = Annotated[int, Query(ge=1, le=INT64_MAX)]
Text = Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL)]


def get_reader(officer: CurrentOfficer) -> Officer:
    if officer.role not in READERS:
        raise ForbiddenError("only oversight and admin accounts read the audit log")
    return officer


Reader = Annotated[Officer, Depends(get_reader)]


class EntryOut(BaseModel):
    id: int
    at: datetime
    officer_id: int | None
    username: str | None
    action: str
    subject: str
    details: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    rows: int
    head_id: int
    anchors: int
    first_bad_id: int | None
    reason: str | None


@router.get("")
async def list_entries(
    ctx: Ctx,
    officer: Reader,
    start: Annotated[Time | None, Query()] = None,
    end: Annotated[Time | None, Query()] = None,
    officer_id: Id | None = None,
    action: Text | None = None,
    subject: Text | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryOut]:
    """Newest first; the next page: `before_id` = the last id of this one."""
    async with ctx.pool.acquire() as conn:
        rows = await store.entries(
            conn,
            under_path=officer.jurisdiction_path,
            before_id=before_id,
            start=start,
            end=end,
            officer_id=officer_id,
            action=action,
            subject=subject,
            limit=limit,
        )
    return [EntryOut(**r) for r in rows]


@router.get("/verify")
async def verify_chain(ctx: Ctx, officer: Reader) -> VerifyOut:
    """Recomputes every hash, and compares the anchors written outside the database."""
    try:
        found = await anchors.read_all(ctx.settings.anchor_file, ctx.redis)
    except anchors.AnchorFileError as exc:
        return VerifyOut(ok=False, rows=0, head_id=0, anchors=0, first_bad_id=None, reason=str(exc))
    async with ctx.pool.acquire() as conn:
        verdict = await verify(conn, found)
    broken = verdict.broken
    return VerifyOut(
        ok=verdict.ok,
        rows=verdict.rows,
        head_id=verdict.head_id,
        anchors=verdict.anchors,
        first_bad_id=None if broken is None else broken.id,
        reason=None if broken is None else broken.reason,
    )
