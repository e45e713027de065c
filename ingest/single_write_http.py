"""uvicorn's httptools protocol answering each device in one socket write, head and body together.

uvicorn writes a response's status line and headers as soon as the app starts the response,
then the body in a second write: two send() calls and two TCP segments for every ping answered,
a quarter of the API's CPU per single-ping request. Here the head waits for the first body part
(which a small answer sends at once) and goes out with it. Bytes on the wire are the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class OneWriteProtocol(HttpToolsProtocol):
    """For `uvicorn.Config(http=...)`: httptools with every response cycle a OneWriteCycle."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # the cycle's task is created but has not run: it looks `send` up when it calls the app
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = OneWriteCycle


class OneWriteCycle(RequestResponseCycle):
    head = b""  # status line and headers not yet written

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            held = _Held(self.transport)
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = held.transport
            self.head = held.data
            return
        if not self.head:
            await super().send(message)
            return
        prefixed = _Prefixed(self.transport, self.head)
        self.transport, self.head = prefixed, b""  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = prefixed.transport
        if prefixed.head and not self.disconnected:  # no body was written (HEAD): head alone
            self.transport.write(prefixed.head)


class _Held:
    """Keeps what is written instead of sending it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport, self.data = transport, b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Prefixed:
    """Writes the held head in front of the first body write."""

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self.transport, self.head = transport, head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, b""
        self.transport.write(head + data)

    def close(self) -> None:
        if self.head:
            self.write(b"")
        self.transport.close()
