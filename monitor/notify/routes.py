"""Notification channels (signed webhooks) of an office, and the deliveries made to them.

A channel's secret is made by the server and answered once (creation, rotation); it signs
every delivery. Admins and supervisors change channels, each change audited.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, status

from alerts import store as alert_store
from alerts.bounds import DbId, Offset
from alerts.known_query import RefuseUnknownQuery
from alerts.routes import alert_in_reach
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import BadRequestError, ConflictError, NotFoundError
from monitor.notify import access, dispatch_store, egress, engine, schemas, store
from monitor.registry.store import database_now
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["notifications"])

SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)


def check_destination(ctx: Ctx, url: str | None) -> None:
    """A URL naming a non-public address the operator has not allowed is refused when saved
    (monitor.notify.egress; a name is checked on what it resolves to at each attempt)."""
    if url is None:
        return
    problem = egress.check_saved(url, ctx.settings.webhook_networks)
    if problem is not None:
        raise BadRequestError(f"url: {problem}", field="url")


async def channel_in_reach(
    conn: Conn, officer: Officer, channel_id: int, *, for_update: bool = False
) -> schemas.ChannelOut:
    found = await store.get_channel(conn, channel_id=channel_id, for_update=for_update)
    if found is None or not officer.sees(found[1]):
        raise NotFoundError(f"channel {channel_id} not found")
    return found[0]


@router.post("/jurisdictions/{jurisdiction_id}/channels", status_code=status.HTTP_201_CREATED)
async def create_channel(
    ctx: Ctx, officer: Writer, jurisdiction_id: DbId, data: schemas.ChannelIn
) -> schemas.ChannelCreated:
    """A webhook of the office: alerts at the office's rung are POSTed to `url`, signed
    with the secret in this answer (shown once)."""
    access.require_manager(officer, "manages notification channels")
    secret = new_secret()
    async with ctx.pool.acquire() as conn, conn.transaction():
        await access.office_in_reach(conn, officer, jurisdiction_id)
        check_destination(ctx, data.url)
        channel = await store.insert_channel(
            conn, jurisdiction_id=jurisdiction_id, data=data, secret=secret, created_by=officer.id
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="channel.create", subject=f"channel:{channel.id}",
            details={"jurisdiction_id": jurisdiction_id, "url": data.url},
        )  # fmt: skip
    return schemas.ChannelCreated(**channel.model_dump(), secret=secret)


@router.get("/jurisdictions/{jurisdiction_id}/channels", dependencies=[RefuseUnknownQuery])
async def list_channels(
    ctx: Ctx, officer: CurrentOfficer, jurisdiction_id: DbId
) -> list[schemas.ChannelOut]:
    access.require_channel_reader(officer)
    async with ctx.pool.acquire() as conn:
        await access.office_in_reach(conn, officer, jurisdiction_id)
        return await store.list_channels(conn, jurisdiction_id=jurisdiction_id)


@router.patch("/channels/{channel_id}")
async def patch_channel(
    ctx: Ctx, officer: Writer, channel_id: DbId, patch: schemas.ChannelPatch
) -> schemas.ChannelOut:
    """JSON merge patch: only the fields given change. `alert_types: []` sends every type."""
    access.require_manager(officer, "manages notification channels")
    async with ctx.pool.acquire() as conn, conn.transaction():
        await channel_in_reach(conn, officer, channel_id, for_update=True)
        check_destination(ctx, patch.url)  # after the reach check: another office's gets 404
        await store.update_channel(conn, channel_id=channel_id, patch=patch)
        await alert_store.audit(
            conn, officer_id=officer.id, action="channel.update", subject=f"channel:{channel_id}",
            details={"fields": sorted(patch.model_fields_set)},
        )  # fmt: skip
        return await channel_in_reach(conn, officer, channel_id)


@router.post("/channels/{channel_id}/rotate-secret")
async def rotate_secret(ctx: Ctx, officer: Writer, channel_id: DbId) -> schemas.SecretOut:
    """A new signing key, shown once; the old one stops signing at once (deliveries still
    pending are signed with the new one when sent)."""
    access.require_manager(officer, "manages notification channels")
    secret = new_secret()
    async with ctx.pool.acquire() as conn, conn.transaction():
        await channel_in_reach(conn, officer, channel_id, for_update=True)
        await store.set_secret(conn, channel_id=channel_id, secret=secret)
        await alert_store.audit(
            conn, officer_id=officer.id, action="channel.rotate_secret",
            subject=f"channel:{channel_id}", details={},
        )  # fmt: skip
    return schemas.SecretOut(id=channel_id, secret=secret)


@router.post("/channels/{channel_id}/test")
async def test_channel(ctx: Ctx, officer: Writer, channel_id: DbId) -> schemas.DeliveryOut:
    """Sends a signed `channel.test` delivery now, once (no retries), and answers it with its
    receipt, so a gateway's setup can be checked end to end."""
    access.require_manager(officer, "manages notification channels")
    async with ctx.pool.acquire() as conn, conn.transaction():
        channel = await channel_in_reach(conn, officer, channel_id)
        if not channel.enabled:
            raise ConflictError(f"channel {channel_id} is disabled; enable it to test it")
        now = await database_now(conn)
        payload = {
            "event": {"id": None, "type": "channel.test", "at": now.isoformat()},
            "channel": {"id": channel.id, "name": channel.name},
            "requested_by": officer.id,
        }
        delivery_id = await dispatch_store.insert_delivery(
            conn, channel_id=channel_id, event_id=None, event_type="channel.test",
            alert_id=None, payload=payload, max_attempts=1,
        )  # fmt: skip
        assert delivery_id is not None
        await alert_store.audit(
            conn, officer_id=officer.id, action="channel.test", subject=f"channel:{channel_id}",
            details={"delivery_id": delivery_id},
        )  # fmt: skip
    config = engine.NotifyConfig(
        timeout_s=ctx.settings.notify_timeout_s,
        allowed_networks=ctx.settings.webhook_networks,
    )
    async with httpx.AsyncClient(follow_redirects=False) as client:
        await engine.send_once(ctx.pool, client, config, delivery_id=delivery_id)
    async with ctx.pool.acquire() as conn:
        return await store.get_delivery(conn, delivery_id=delivery_id)


@router.get("/channels/{channel_id}/deliveries", dependencies=[RefuseUnknownQuery])
async def channel_deliveries(
    ctx: Ctx,
    officer: CurrentOfficer,
    channel_id: DbId,
    delivery_status: Annotated[schemas.DeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[schemas.DeliveryOut]:
    """The channel's deliveries, newest first, each with the receipt of every attempt."""
    access.require_channel_reader(officer)
    async with ctx.pool.acquire() as conn:
        await channel_in_reach(conn, officer, channel_id)
        return await store.channel_deliveries(
            conn, channel_id=channel_id, status=delivery_status, limit=limit, offset=offset
        )


@router.get("/alerts/{alert_id}/deliveries", dependencies=[RefuseUnknownQuery])
async def alert_deliveries(
    ctx: Ctx, officer: CurrentOfficer, alert_id: DbId
) -> list[schemas.DeliveryOut]:
    """Who was told of the alert: each delivery (to the offices it reached as it escalated),
    oldest first, with its receipts."""
    async with ctx.pool.acquire() as conn:
        await alert_in_reach(conn, officer, alert_id)
        return await store.alert_deliveries(conn, alert_id=alert_id)
