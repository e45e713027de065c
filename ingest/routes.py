"""Device-facing routes. Native API: POST /v1/pings with Authorization: Bearer <device token>."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from ingest.credentials import hash_token
from ingest.engine import Ingestor
from ingest.errors import BodyTooLargeError
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
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


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
    ingestor = ingestor_of(request)
    with ingestor.admitted():
        token = bearer_token(request)
        device = await ingestor.device_for_token(token, hash_token(token or ""))
        raw = await read_body(request, ingestor.config.max_body_bytes)
        items: list[Any] = parse_body(raw, request.headers.get("content-type", ""))
        result = await ingestor.ingest(device, items)
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedOut(index=e.index, error=e.error) for e in result.rejected],
    )
