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
from ingest.credentials import hash_token
from ingest.engine import Ingestor
from ingest.errors import DeviceAuthError, IngestError, MalformedBodyError, UnknownDeviceError
from ingest.models import Device
from ingest.routes import ingestor_of, read_body, read_limited
from ingest.schemas import FieldError, as_sent

router = APIRouter(tags=["devices"])


@dataclass(frozen=True)
class Reply:
    """An OsmAnd answer as plain data: the FastAPI routes make it a Response, the bare ASGI
    path (pings_asgi) sends it without building one."""

    status: int
    text: str | None = None  # a plain-text body; None: empty, and no content-type

    def response(self) -> Response:
        if self.text is None:
            return Response(status_code=self.status)
        return PlainTextResponse(self.text, status_code=self.status)


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


async def handle_osmand(
    ingestor: Ingestor,
    token: str | None,
    *,
    content_type: str,
    query: bytes,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> Reply:
    with ingestor.admitted():
        raw = await read_limited(chunks, content_length, ingestor.config.max_body_bytes)
        message = OsmAndRequest(content_type, query, raw)
        claimed = message.device_id()
        try:
            device = await osmand_device(ingestor, token, claimed)
        except (DeviceAuthError, UnknownDeviceError) as exc:
            return message.unknown(exc.message)
        try:
            item = message.item(ingestor.config.unknown_accuracy_m)
        except FieldError as exc:
            return Reply(400, str(exc))
        refused = await ingest_one(ingestor, device, item)
        return OK if refused is None else message.refused(refused)


async def osmand_device(ingestor: Ingestor, token: str | None, claimed: str | None) -> Device:
    if token is None:
        if not claimed:
            raise UnknownDeviceError("id: the device identifier is required")
        return await ingestor.device_for_id(claimed)
    device = await ingestor.device_for_token(token, hash_token(token))
    if claimed is not None and claimed != device.id:
        raise UnknownDeviceError(f"id: {claimed!r} is not the device this token belongs to")
    return device


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
    with ingestor.admitted():
        try:
            user, token = basic_credentials(request)
            device = await ingestor.device_for_token(token, hash_token(token))
            if device.id != user:
                raise DeviceAuthError("the user name must be the device id this token belongs to")
        except IngestError as exc:
            return JSONResponse(
                {"detail": exc.message},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="owntracks"'},
            )
        raw = await read_body(request, ingestor.config.max_body_bytes)
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
