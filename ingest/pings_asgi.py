"""POST /v1/pings as a bare ASGI handler, in front of FastAPI's routing: every device's hot path.

FastAPI's routing, dependency solving and response model cost more CPU than the whole ingest
of a single ping; this answers exactly what the documented route in `routes.py` answers
(same core, same error bodies) with none of it. Everything else passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.engine import Ingestor
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from ingest.errors import IngestError, OverloadedError
from ingest.models import IngestResult
from ingest.routes import accept_pings

log = logging.getLogger(__name__)

PATH = "/v1/pings"
JSON_TYPE = (b"content-type", b"application/json")


class PingsFastPath:
    """ASGI middleware: answers POST /v1/pings itself, passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        try:
            result = await accept(ctx.ingestor, scope, receive)
        except ClientDisconnect:
            return  # nobody is left to answer
        except IngestError as exc:
            await error_response(exc)(scope, receive, send)
            return
        except DB_ERRORS as exc:
            log.warning("database unavailable: %r", exc)
            retry = {"Retry-After": str(ctx.settings.retry_after_s)}
            answer = {"detail": "database unavailable; retry later"}
            await JSONResponse(answer, status_code=503, headers=retry)(scope, receive, send)
            return
        await send_json(send, 202, result_to_json(result))


async def accept(ingestor: Ingestor, scope: Scope, receive: Receive) -> IngestResult:
    authorization, content_type, length = "", "", None
    for name, value in scope["headers"]:
        if name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
        elif name == b"content-type" and not content_type:
            content_type = value.decode("latin-1")
        elif name == b"content-length" and length is None:
            length = value.decode("latin-1")
    return await accept_pings(
        ingestor,
        authorization=authorization,
        content_type=content_type,
        content_length=length,
        chunks=body_chunks(receive),
    )


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        more = message.get("more_body", False)
        yield message.get("body", b"")


def result_to_json(result: IngestResult) -> bytes:
    rejected = [{"index": e.index, "error": e.error} for e in result.rejected]
    body = {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": rejected}
    return orjson.dumps(body)


def error_response(exc: IngestError) -> JSONResponse:
    """The same answer as the app's IngestError handler."""
    headers = None
    if isinstance(exc, OverloadedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def send_json(send: Send, status: int, body: bytes) -> None:
    headers: list[Any] = [(b"content-length", str(len(body)).encode()), JSON_TYPE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
