"""FastAPI dependencies as Annotated aliases, in one place."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from monitor.auth import security, store
from monitor.auth.models import Officer
from monitor.context import AppContext
from monitor.errors import AuthError, ForbiddenError

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def officer_from_token(ctx: AppContext, token: str | None) -> Officer:
    if not token:
        raise AuthError("missing bearer token: log in at POST /v1/auth/token")
    async with ctx.pool.acquire() as conn:
        token_hash = security.hash_session_token(ctx.settings.secret_key, token)
        officer = await store.get_session_officer(conn, token_hash=token_hash)
    if officer is None:
        raise AuthError("invalid or expired token: log in again at POST /v1/auth/token")
    return officer


async def get_current_officer(
    ctx: Ctx, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Officer:
    return await officer_from_token(ctx, token)


CurrentOfficer = Annotated[Officer, Depends(get_current_officer)]


async def get_writer(officer: CurrentOfficer) -> Officer:
    if not officer.can_write:
        raise ForbiddenError("oversight accounts read but never change")
    return officer


Writer = Annotated[Officer, Depends(get_writer)]
