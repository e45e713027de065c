"""OneWriteProtocol puts the bytes of uvicorn's httptools protocol on the wire, in fewer writes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ingest.single_write_http import OneWriteProtocol

REQUESTS = [
    b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n",
    b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /empty HTTP/1.1\r\nHost: t\r\n\r\n",
    # two on one connection, then one that closes it
    b"GET /json HTTP/1.1\r\nHost: t\r\n\r\nGET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})
        return
    body = b'{"accepted":1}' if path == "/json" else b""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"x/y")]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(http: type[asyncio.Protocol]) -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    config = uvicorn.Config(
        app, port=port, http=http, lifespan="off", date_header=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = b""
    with contextlib.suppress(TimeoutError):
        while chunk := await asyncio.wait_for(reader.read(65536), 0.3):
            answer += chunk
    writer.close()
    return answer


@pytest.mark.parametrize("request_bytes", REQUESTS)
async def test_same_bytes_as_httptools(request_bytes: bytes) -> None:
    answers = []
    for http in (HttpToolsProtocol, OneWriteProtocol):
        async with serving(http) as port:
            answers.append(await exchange(port, request_bytes))
    assert answers[0].startswith(b"HTTP/1.1 20")
    assert answers[1] == answers[0]


async def test_a_small_answer_is_one_write() -> None:
    writes: list[bytes] = []

    class Counted(OneWriteProtocol):
        def connection_made(self, transport: Any) -> None:
            write = transport.write

            def counted(data: bytes) -> None:
                writes.append(data)
                write(data)

            transport.write = counted
            super().connection_made(transport)

    async with serving(Counted) as port:
        answer = await exchange(port, REQUESTS[0])
    assert writes == [answer]
