"""POST /v1/auth/token: OAuth2 password form in, opaque bearer token out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from monitor.auth import security, store
from monitor.deps import Ctx, CurrentOfficer
from monitor.errors import AuthError

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    jurisdiction_id: int


@router.post("/token")
async def issue_token(ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    async with ctx.pool.acquire() as conn:
        found = await store.get_login(conn, username=form.username)
        if found is None or not security.verify_password(found[1], form.password):
            raise AuthError("wrong username or password")
        token = security.new_token()
        ttl_s = ctx.settings.officer_token_ttl_s
        await store.insert_session(
            conn,
            token_hash=security.hash_token(token),
            officer_id=found[0].id,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
        )
    return TokenOut(access_token=token, expires_in=ttl_s)


@router.get("/me")
async def me(officer: CurrentOfficer) -> MeOut:
    return MeOut(
        id=officer.id,
        username=officer.username,
        display_name=officer.display_name,
        role=officer.role.value,
        jurisdiction_id=officer.jurisdiction_id,
    )
