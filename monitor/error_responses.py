"""The shape of every error answer, as the OpenAPI documents it, and the answers for what no
route raises on purpose: invalid requests, values PostgreSQL cannot store, and bugs.

Bodies are `{"detail": ..., "field": ...}`: `detail` a sentence naming the field (a list of
issues, one a field, when the request does not match its schema), `field` the field alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, WebSocket
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.routing import compile_path

log = logging.getLogger(__name__)


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    detail: str | list[ValidationIssue]
    field: str | None = None


def documented(*statuses: int, text: tuple[int, ...] = ()) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses: ErrorOut bodies, and plain text too for
    `text` (how the OsmAnd and OwnTracks apps are answered)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": ErrorOut, "description": DESCRIPTIONS[status]}
        if status in text:
            responses[status]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return responses


DESCRIPTIONS = {
    400: "The body as a whole cannot be read",
    401: "Missing, wrong or expired credential",
    403: "Not allowed to this account",
    404: "Not found, or outside the officer's jurisdiction",
    409: "Conflicts with the record as it stands",
    412: "`If-Match` names a revision of the record that has since changed: read it again",
    408: "Body not received in full within `MONITOR_BODY_READ_TIMEOUT_S`; connection closed",
    413: "Body larger than the limit",
    422: "A field is invalid; `field` or each issue's `loc` names it",
    429: "Too many attempts: retry after `Retry-After` seconds",
    503: "Database unavailable or overloaded: retry after `Retry-After` seconds",
}
OFFICER_ERRORS = documented(400, 401, 403, 404, 409, 422, 429, 503)
DEVICE_ERRORS = documented(400, 401, 404, 408, 413, 422, 503, text=(400, 404))


def add_bound_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(asyncpg.DataError, unstorable)  # type: ignore[arg-type]
    app.add_exception_handler(
        asyncpg.IntegrityConstraintViolationError,
        conflicting,  # type: ignore[arg-type]
    )
    app.add_exception_handler(Exception, unexpected)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's answer, but a 405 lists every method of the path (RFC 9110): Starlette lists
    those of the first route matching it, and FastAPI makes one route per method."""
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allowed))}
    return await http_exception_handler(request, exc)


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """The methods /openapi.json documents for `path`."""
    if not hasattr(app.state, "path_methods"):
        app.state.path_methods = [
            (compile_path(template)[0], {method.upper() for method in operations})
            for template, operations in app.openapi()["paths"].items()
        ]
    table: list[tuple[re.Pattern[str], set[str]]] = app.state.path_methods
    return set().union(*(methods for regex, methods in table if regex.match(path)))


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's answer without the `input` it echoes: a body with an unpaired surrogate
    could not be encoded back (a 500), and an echo can carry a password."""
    errors = exc.errors()
    issues = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    return JSONResponse({"detail": issues, "field": field_of(errors)}, status_code=422)


def field_of(errors: Sequence[Any]) -> str | None:
    """The first invalid field as `a.b.0`, without where it came from (body, query, path);
    None when the body is not JSON at all (its `loc` is a character offset)."""
    if not errors or errors[0]["type"] == "json_invalid":
        return None
    return ".".join(str(part) for part in errors[0]["loc"][1:]) or None


async def unstorable(conn: HTTPConnection, exc: asyncpg.DataError) -> Response | None:
    """A value PostgreSQL cannot take (out of range, NUL in text) that no input bound
    caught: the request's fault, so 422, never a 500."""
    log.warning("unstorable value reached the database: %s", exc)
    return await refuse(conn, 422, f"a value cannot be stored: {str(exc).splitlines()[0]}")


async def conflicting(
    conn: HTTPConnection, exc: asyncpg.IntegrityConstraintViolationError
) -> Response | None:
    log.warning("constraint violation reached the handler: %s", exc)
    return await refuse(conn, 409, f"conflicts with stored data: {str(exc).splitlines()[0]}")


async def refuse(conn: HTTPConnection, status: int, detail: str) -> Response | None:
    """The error as an answer; a WebSocket is closed with it instead (1008: policy)."""
    if isinstance(conn, WebSocket):
        await conn.close(code=1008, reason=detail[:120])
        return None
    return JSONResponse({"detail": detail}, status_code=status)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug. Starlette then re-raises it, uvicorn logs it and closes the connection: the
    answer says so, or a keep-alive client sends its next request into a reset."""
    return JSONResponse(
        {"detail": "internal error: it has been logged"},
        status_code=500,
        headers={"Connection": "close"},
    )
