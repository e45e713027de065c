"""An officer's socket through the faults, reconnecting with since=<last id> as the console
does: it records every event it was sent, to hold against the events table afterwards."""

from __future__ import annotations

import asyncio

import orjson
import websockets


class Listener:
    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url, self.token = ws_url, token
        self.ids: list[int] = []
        self.reconnects = 0

    async def run(self) -> None:
        while True:
            since = self.ids[-1] if self.ids else 0
            url = f"{self.ws_url}/v1/stream?token={self.token}&positions=false&since={since}"
            try:
                async with websockets.connect(url) as socket:
                    async for raw in socket:
                        message = orjson.loads(raw)
                        if "id" in message:  # heartbeats carry none
                            self.ids.append(message["id"])
            except (OSError, websockets.WebSocketException):
                self.reconnects += 1
                await asyncio.sleep(0.5)
