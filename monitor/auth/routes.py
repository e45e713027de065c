"""POST /v1/auth/token: OAuth2 password form in, opaque bearer token out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from alerts import store as alert_store
from alerts.bounds import DbId, Offset, Text
from alerts.known_query import RefuseUnknownQuery
from monitor.auth import login, security, store
from monitor.auth.models import Officer, Role
from monitor.auth.throttle import Limits, LoginThrottle
from monitor.context import AppContext
from monitor.deps import Ctx, CurrentOfficer, Writer, oauth2_scheme
from monitor.errors import (
    AuthError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    TooManyRequestsError,
)
from monitor.registry.routes import jurisdiction_in_reach

router = APIRouter(prefix="/v1/auth", tags=["auth"])
officers = APIRouter(prefix="/v1/officers", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class OfficerIn(BaseModel):
    username: Text = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    jurisdiction_id: DbId
    display_name: Text = Field(default="", max_length=200)


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    jurisdiction_id: int


class OfficerRowOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    jurisdiction_id: int
    jurisdiction_name: str
    active: bool  # false: the account is disabled


LOCKED_OUT: dict[int | str, dict[str, Any]] = {
    429: {"description": "too many failed logins; try again after Retry-After seconds"}
}


@router.post("/token", responses=LOCKED_OUT)
async def issue_token(
    ctx: Ctx, request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    # request.client is the forwarded address when the peer is in FORWARDED_ALLOW_IPS
    address = request.client.host if request.client else "unknown"
    throttle = LoginThrottle(ctx.redis, Limits.from_settings(ctx.settings))
    wait_s = await throttle.retry_after_s(username=form.username, address=address)
    if wait_s:
        raise TooManyRequestsError(
            f"too many failed logins for this username or from this address: "
            f"try again in {wait_s} s",
            retry_after_s=wait_s,
        )
    officer = await login.authenticate(ctx.pool, username=form.username, password=form.password)
    if officer is None:
        await throttle.record_failure(username=form.username, address=address)
        raise AuthError("wrong username or password")
    await throttle.record_success(username=form.username, address=address)
    return await open_session(ctx, officer)


async def open_session(ctx: AppContext, officer: Officer) -> TokenOut:
    token = security.new_token()
    ttl_s = ctx.settings.officer_token_ttl_s
    async with ctx.pool.acquire() as conn:
        await store.insert_session(
            conn,
            token_hash=security.hash_session_token(ctx.settings.secret_key, token),
            officer_id=officer.id,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
        )
    return TokenOut(access_token=token, expires_in=ttl_s)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    ctx: Ctx, officer: CurrentOfficer, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """Ends this session on the server: the token is refused from now on (a shared duty
    console's next officer must not inherit it for the rest of its lifetime)."""
    assert token is not None  # CurrentOfficer has checked it
    async with ctx.pool.acquire() as conn:
        await store.delete_session(
            conn, token_hash=security.hash_session_token(ctx.settings.secret_key, token)
        )


@officers.post("", status_code=status.HTTP_201_CREATED)
async def create_officer(ctx: Ctx, admin: Writer, data: OfficerIn) -> MeOut:
    """Admins create accounts within their own jurisdiction subtree."""
    if admin.role is not Role.ADMIN:
        raise ForbiddenError("only an admin creates officer accounts")
    async with ctx.pool.acquire() as conn, conn.transaction():
        await jurisdiction_in_reach(conn, admin, data.jurisdiction_id, field="jurisdiction_id")
        try:
            officer_id = await store.insert_officer(
                conn,
                username=data.username,
                password_hash=security.hash_password(data.password),
                display_name=data.display_name,
                role=data.role,
                jurisdiction_id=data.jurisdiction_id,
            )
        except asyncpg.UniqueViolationError:
            raise ConflictError(f"username: {data.username!r} is taken", field="username") from None
        await alert_store.audit(
            conn, officer_id=admin.id, action="officer.create", subject=f"officer:{officer_id}",
            details={"role": data.role.value, "jurisdiction_id": data.jurisdiction_id},
        )  # fmt: skip
    return MeOut(
        id=officer_id,
        username=data.username,
        display_name=data.display_name,
        role=data.role.value,
        jurisdiction_id=data.jurisdiction_id,
    )


@router.get("/me")
async def me(officer: CurrentOfficer) -> MeOut:
    return MeOut(
        id=officer.id,
        username=officer.username,
        display_name=officer.display_name,
        role=officer.role.value,
        jurisdiction_id=officer.jurisdiction_id,
    )


@officers.get("", dependencies=[RefuseUnknownQuery])
async def list_officers(
    ctx: Ctx,
    viewer: CurrentOfficer,
    jurisdiction_id: DbId | None = None,
    q: Annotated[Text | None, Query(min_length=1, max_length=100)] = None,
    role: Annotated[list[Role] | None, Query(max_length=len(Role))] = None,
    alert_id: Annotated[
        DbId | None, Query(description="only officers who may be assigned this alert")
    ] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[OfficerRowOut]:
    """Officers within your jurisdiction subtree (or `jurisdiction_id`'s, within it), by
    office then name; `q` matches the username or display name. For the pickers."""
    async with ctx.pool.acquire() as conn:
        under = viewer.jurisdiction_path
        if jurisdiction_id is not None:
            under = await jurisdiction_in_reach(
                conn, viewer, jurisdiction_id, field="jurisdiction_id"
            )
        alert_path = None
        if alert_id is not None:
            alert = await alert_store.get_alert(conn, alert_id=alert_id)
            if alert is None or not viewer.sees(alert.jurisdiction_path):
                raise BadRequestError(
                    f"alert_id: no alert {alert_id} within your reach", field="alert_id"
                )
            alert_path = alert.jurisdiction_path
        where = store.OfficerFilter(under, q, role, alert_path, active)
        rows = await store.list_officers(conn, where=where, limit=limit, offset=offset)
    return [OfficerRowOut(**dict(r)) for r in rows]
