"""Routes for phone apps as they ship: OsmAnd (Traccar Client) and OwnTracks HTTP mode.

Each answers the way its app expects: OsmAnd 200 with an empty body, unknown device 400
(query variant) or 404 (JSON variant); OwnTracks 200 with a JSON array.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ingest import osmand, owntracks
from ingest.engine import Ingestor
from ingest.errors import CLOSE, DeviceAuthError, MalformedBodyError, UnknownDeviceError
from ingest.models import Device
from ingest.routes import device_before_body, ingestor_of, read_body
from ingest.schemas import FieldError, as_sent

router = APIRouter(tags=["devices"])


@dataclass(frozen=True)
class Reply:
    """An OsmAnd answer as plain data: the FastAPI routes make it a Response, the bare ASGI
    path (device_fast_path) sends it without building one."""

    status: int
    text: str | None = None  # a plain-text body; None: empty, and no content-type
    close: bool = False  # answered before the body was read: close the connection

    def response(self) -> Response:
        headers = CLOSE if self.close else None
        if self.text is None:
            return Response(status_code=self.status, headers=headers)
        return PlainTextResponse(self.text, status_code=self.status, headers=headers)


OK = Reply(200)


class OsmAndRequest:
    """One OsmAnd request, whichever variant, read once."""

    def __init__(self, content_type: str, query: bytes, raw: bytes) -> None:
        self.is_json = "json" in content_type or raw.lstrip().startswith(b"{")
        self.body: Any = None
        # as Starlette's request.query_params reads it: latin-1, blanks kept, the last wins
        self.params: dict[str, str] = dict(parse_qsl(query.decode("latin-1"), True))
        if self.is_json:
            try:
                self.body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise MalformedBodyError(f"body is not valid JSON: {exc}") from None
        elif not self.params and raw:
            self.params = dict(parse_qsl(raw.decode("utf-8", "replace")))

    def device_id(self) -> str | None:
        if self.is_json:
            return osmand.json_device_id(self.body)
        return osmand.query_device_id(self.params)

    def item(self, unknown_accuracy_m: float) -> dict[str, Any]:
        if self.is_json:
            return osmand.json_to_item(self.body, unknown_accuracy_m=unknown_accuracy_m)
        return osmand.query_to_item(self.params, unknown_accuracy_m=unknown_accuracy_m)

    def unknown(self, message: str) -> Reply:
        return Reply(404 if self.is_json else 400, message)

    def refused(self, error: str) -> Reply:
        names = osmand.JSON_NAMES if self.is_json else osmand.QUERY_NAMES
        return Reply(400, as_sent(error, names))


@router.get("/osmand/{token}", operation_id="osmand_get_with_token")
@router.post("/osmand/{token}", operation_id="osmand_post_with_token")
async def osmand_with_token(request: Request, token: str) -> Response:
    """Traccar Client and OsmAnd have no field for a secret: it travels in the path."""
    return (await osmand_request(request, token)).response()


@router.get("/osmand", operation_id="osmand_get_identifier_only")
@router.post("/osmand", operation_id="osmand_post_identifier_only")
async def osmand_identifier_only(request: Request) -> Response:
    """Only devices enrolled for identifier-only use may post without a token."""
    return (await osmand_request(request, None)).response()


async def osmand_request(request: Request, token: str | None) -> Reply:
    return await handle_osmand(
        ingestor_of(request),
        token,
        content_type=request.headers.get("content-type", ""),
        query=request.scope["query_string"],
        content_length=request.headers.get("content-length"),
        chunks=request.stream(),
    )


# an identifier-only request is read before anyone knows who sent it (the id may be in the
# body), outside the in-flight limit: its body is held to what one OsmAnd report needs
IDENTIFIER_ONLY_MAX_BYTES = 16 * 1024


async def handle_osmand(
    ingestor: Ingestor,
    token: str | None,
    *,
    content_type: str,
    query: bytes,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> Reply:
    if token is None:
        limit = min(IDENTIFIER_ONLY_MAX_BYTES, ingestor.config.max_body_bytes)
        raw = await ingestor.bodies.read(chunks, content_length, limit=limit)
        message = OsmAndRequest(content_type, query, raw)
        try:
            device = await identifier_only_device(ingestor, message.device_id())
        except UnknownDeviceError as exc:
            return message.unknown(exc.message)
        with ingestor.admitted():
            return await osmand_ingest(ingestor, device, message)
    device_or_reply = await token_device(ingestor, token, content_type)
    if isinstance(device_or_reply, Reply):
        return device_or_reply
    with ingestor.admitted():
        raw = await ingestor.bodies.read(chunks, content_length)
        message = OsmAndRequest(content_type, query, raw)
        claimed = message.device_id()
        if claimed is not None and claimed != device_or_reply.id:
            return message.unknown(f"id: {claimed!r} is not the device this token belongs to")
        return await osmand_ingest(ingestor, device_or_reply, message)


async def token_device(ingestor: Ingestor, token: str, content_type: str) -> Device | Reply:
    """The token's device, looked up before the body is read (and before the request is
    admitted): a stranger's refusal closes the connection. Which variant it is, and so 400 or
    404, is then told by the content type alone."""
    try:
        return await device_before_body(ingestor, token)
    except DeviceAuthError as exc:
        return Reply(404 if "json" in content_type else 400, exc.message, close=True)


async def identifier_only_device(ingestor: Ingestor, claimed: str | None) -> Device:
    if not claimed:
        raise UnknownDeviceError("id: the device identifier is required")
    return await ingestor.device_for_id(claimed)


async def osmand_ingest(ingestor: Ingestor, device: Device, message: OsmAndRequest) -> Reply:
    try:
        item = message.item(ingestor.config.unknown_accuracy_m)
    except FieldError as exc:
        return Reply(400, str(exc))
    refused = await ingest_one(ingestor, device, item)
    return OK if refused is None else message.refused(refused)


async def ingest_one(ingestor: Ingestor, device: Device, item: dict[str, Any]) -> str | None:
    """Ingest one app report; why it was refused, or None once it is stored (or known)."""
    result = await ingestor.ingest(device, [{**item, "device_id": device.id}])
    return result.rejected[0].error if result.rejected else None


def basic_credentials(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user = password = ""
    if scheme.lower() != "basic" or not user or not password:
        raise DeviceAuthError("HTTP basic auth required: device id as user, token as password")
    return user, password


@router.post("/owntracks")
async def owntracks_http(request: Request) -> Response:
    """OwnTracks retries anything but 200, so every success answers 200 with a JSON array."""
    ingestor = ingestor_of(request)
    device = await owntracks_device(ingestor, request)
    if isinstance(device, Response):
        return device
    with ingestor.admitted():
        raw = await read_body(request, ingestor)
        return await owntracks_ingest(ingestor, device, request, raw)


async def owntracks_device(ingestor: Ingestor, request: Request) -> Device | Response:
    """The device of the basic credentials, checked before the body is read (and before the
    request is admitted): a stranger's refusal closes the connection."""
    try:
        user, token = basic_credentials(request)
        device = await device_before_body(ingestor, token)
        if device.id != user:
            raise DeviceAuthError("the user name must be the device id this token belongs to")
    except DeviceAuthError as exc:
        challenge = {"WWW-Authenticate": 'Basic realm="owntracks"', **CLOSE}
        return JSONResponse({"detail": exc.message}, status_code=401, headers=challenge)
    return device


async def owntracks_ingest(
    ingestor: Ingestor, device: Device, request: Request, raw: bytes
) -> Response:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError(f"body is not valid JSON: {exc}") from None
    if not owntracks.is_location(body):
        return JSONResponse([])  # cards, waypoints, transitions: accepted and ignored
    try:
        item = owntracks.location_to_item(
            body, unknown_accuracy_m=ingestor.config.unknown_accuracy_m
        )
    except FieldError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    identity = {
        k: request.headers[h]
        for k, h in (("user", "x-limit-u"), ("device", "x-limit-d"))
        if h in request.headers
    }
    if identity:
        item["attrs"] = {**item.get("attrs", {}), "owntracks": identity}
    refused = await ingest_one(ingestor, device, item)
    if refused is not None:
        return PlainTextResponse(as_sent(refused, owntracks.NAMES), status_code=400)
    return JSONResponse([])
