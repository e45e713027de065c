"""Device-facing routes. Native API: POST /v1/pings with Authorization: Bearer <device token>.

The route below documents the endpoint and serves it when the app runs without
`pings_asgi.PingsFastPath`; both answer through `accept_pings`, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from ingest.credentials import hash_token
from ingest.engine import Ingestor
from ingest.errors import BodyTooLargeError
from ingest.models import IngestResult
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


async def read_body(request: Request, limit: int) -> bytes:
    return await read_limited(request.stream(), request.headers.get("content-length"), limit)


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed `limit`."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds the {limit}-byte limit")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body exceeds the {limit}-byte limit")
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def accept_pings(
    ingestor: Ingestor,
    *,
    authorization: str,
    content_type: str,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> IngestResult:
    """Authenticate, read, parse and store one request's pings; raises IngestError."""
    with ingestor.admitted():
        token = bearer_token(authorization)
        device = await ingestor.device_for_token(token, hash_token(token or ""))
        raw = await read_limited(chunks, content_length, ingestor.config.max_body_bytes)
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
