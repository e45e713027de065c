"""Device-facing routes. Native API: POST /v1/pings with Authorization: Bearer <device token>.

The route below documents the endpoint and serves it when the app runs without
`device_fast_path.PingsFastPath`; both answer through `accept_pings`, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from ingest.credentials import hash_token
from ingest.engine import Ingestor
from ingest.errors import IngestError
from ingest.models import Device, IngestResult
from ingest.schemas import parse_body

router = APIRouter(tags=["devices"])


class RejectedOut(BaseModel):
    index: int
    error: str


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedOut]


def ingestor_of(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ctx.ingestor
    return ingestor


async def read_body(request: Request, ingestor: Ingestor) -> bytes:
    return await ingestor.bodies.read(request.stream(), request.headers.get("content-length"))


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def device_before_body(ingestor: Ingestor, token: str | None) -> Device:
    """The token's device, looked up before the request's body is read: whatever refuses it
    (a wrong token, the database down) closes the connection, so the unread rest of the body
    cannot hold the socket."""
    try:
        return await ingestor.device_for_token(token, hash_token(token or ""))
    except IngestError as exc:
        exc.close_connection = True
        raise


async def accept_pings(
    ingestor: Ingestor,
    *,
    authorization: str,
    content_type: str,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> IngestResult:
    """Authenticate, read, parse and store one request's pings; raises IngestError.

    The credential is checked before the body is read and before the request is admitted:
    a stranger holds no slot of the in-flight limit, and is not waited for."""
    device = await device_before_body(ingestor, bearer_token(authorization))
    with ingestor.admitted():
        raw = await ingestor.bodies.read(chunks, content_length)
        items: list[Any] = parse_body(raw, content_type)
        return await ingestor.ingest(device, items)


@router.post(
    "/v1/pings",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
async def post_pings(request: Request) -> IngestOut:
    """One ping object, a list, `{"pings": [...]}`, or NDJSON. 202 once durable."""
    headers = request.headers
    result = await accept_pings(
        ingestor_of(request),
        authorization=headers.get("authorization", ""),
        content_type=headers.get("content-type", ""),
        content_length=headers.get("content-length"),
        chunks=request.stream(),
    )
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedOut(index=e.index, error=e.error) for e in result.rejected],
    )
