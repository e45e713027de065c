"""Device routes as bare ASGI handlers, in front of FastAPI's routing: every device's hot path.

FastAPI's routing, dependency solving and response model cost more CPU than the whole ingest
of a single ping. POST /v1/pings is answered here from the same core as the documented route
in `routes.py`; the OsmAnd routes run the very handler of `phone_app_routes.py`, only without the
routing in front of it. Same answers, same error bodies; everything else passes through.
`in_front_of(app)` puts it before the app's own middleware too, as `monitor serve` runs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ingest import phone_app_routes
from ingest.engine import Ingestor
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from ingest.errors import IngestError
from ingest.models import IngestResult
from ingest.routes import accept_pings

log = logging.getLogger(__name__)

PATH = "/v1/pings"
OSMAND = "/osmand"
JSON_TYPE = (b"content-type", b"application/json")
TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
CLOSE = (b"connection", b"close")

Answer = Callable[[Scope, Receive, Send], Awaitable[None]]


class PingsFastPath:
    """ASGI middleware: answers the device routes itself, passes every other request on."""

    def __init__(self, app: ASGIApp, *, root: Starlette | None = None) -> None:
        self.app = app
        self.root = root  # the app holding `state.ctx`, when this runs in front of it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = handler_for(scope) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        if self.root is not None:
            scope["app"] = self.root  # what the app itself would set, for Request.app
        try:
            answer = await handler(scope, receive)
        except ClientDisconnect:
            return  # nobody is left to answer
        except IngestError as exc:
            answer = error_response(exc)
        except DB_ERRORS as exc:
            log.warning("database unavailable: %r", exc)
            retry = {"Retry-After": str(scope["app"].state.ctx.settings.retry_after_s)}
            body = {"detail": "database unavailable; retry later"}
            answer = JSONResponse(body, status_code=503, headers=retry)
        await answer(scope, receive, send)


def in_front_of(app: Starlette) -> PingsFastPath:
    """The device routes answered before the app's middleware stack, whose outer layers
    (ServerErrorMiddleware, FastAPI's telemetry and body-limit wrappers) do nothing for these
    routes: their errors are answered here. A bug (an unexpected exception) gets uvicorn's
    plain 500 rather than Starlette's, both "Internal Server Error"; FastAPI's OpenTelemetry
    middleware, if configured, does not see device requests. See
    docs/decisions/0029-device-routes-in-front-of-the-app.md

    Forwarded headers (X-Forwarded-For/-Proto from a trusted proxy, FORWARDED_ALLOW_IPS as in
    uvicorn) are applied here behind the device routes, which read neither the client address
    nor the scheme, so device requests skip that work; uvicorn must run this with
    `proxy_headers=False`."""
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    # uvicorn's ASGI types and Starlette's describe the same callables differently
    behind = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted))
    return PingsFastPath(behind, root=app)


def handler_for(scope: Scope) -> Callable[[Scope, Receive], Awaitable[Answer]] | None:
    path, method = scope["path"], scope["method"]
    if path == PATH:
        return post_pings if method == "POST" else None
    if method not in ("GET", "POST") or not path.startswith(OSMAND):
        return None
    if path == OSMAND:
        return osmand
    token = path[len(OSMAND) + 1 :]
    if path[len(OSMAND)] != "/" or not token or "/" in token:
        return None

    async def with_token(scope: Scope, receive: Receive) -> Answer:
        return await osmand_answer(scope, receive, token)

    return with_token


async def osmand(scope: Scope, receive: Receive) -> Answer:
    return await osmand_answer(scope, receive, None)


async def osmand_answer(scope: Scope, receive: Receive, token: str | None) -> Answer:
    _, content_type, length = device_headers(scope)
    reply = await phone_app_routes.handle_osmand(
        scope["app"].state.ctx.ingestor,
        token,
        content_type=content_type,
        query=scope["query_string"],
        content_length=length,
        chunks=body_chunks(receive),
    )
    return TextBytes(reply)


async def post_pings(scope: Scope, receive: Receive) -> Answer:
    result = await accept(scope["app"].state.ctx.ingestor, scope, receive)
    return JSONBytes(202, result_to_json(result))


class JSONBytes:
    """A JSON answer already encoded: Starlette's JSONResponse would encode it again."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, self.status, self.body)


class TextBytes:
    """An OsmAnd reply sent as Starlette's Response or PlainTextResponse would send it."""

    def __init__(self, reply: phone_app_routes.Reply) -> None:
        self.reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"" if self.reply.text is None else self.reply.text.encode()
        headers: list[Any] = [(b"content-length", str(len(body)).encode())]
        if self.reply.text is not None:
            headers.append(TEXT_TYPE)
        if self.reply.close:
            headers.append(CLOSE)
        await send({"type": "http.response.start", "status": self.reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def device_headers(scope: Scope) -> tuple[str, str, str | None]:
    """Authorization, content-type and content-length, the first of each, in one pass."""
    authorization, content_type, length = "", "", None
    for name, value in scope["headers"]:
        if name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
        elif name == b"content-type" and not content_type:
            content_type = value.decode("latin-1")
        elif name == b"content-length" and length is None:
            length = value.decode("latin-1")
    return authorization, content_type, length


async def accept(ingestor: Ingestor, scope: Scope, receive: Receive) -> IngestResult:
    authorization, content_type, length = device_headers(scope)
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


def error_response(exc: IngestError) -> Response:
    """The same answer as the app's IngestError handler."""
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers())


async def send_json(send: Send, status: int, body: bytes) -> None:
    headers: list[Any] = [(b"content-length", str(len(body)).encode()), JSON_TYPE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
