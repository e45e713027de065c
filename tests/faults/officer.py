"""An officer's socket through the faults, reconnecting with since=<last id> as the console
does: it records every event it was sent, to hold against the events table afterwards."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import httpx
import orjson
import websockets

from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role


async def make_officer(conn: asyncpg.Connection, jurisdiction_id: int) -> tuple[str, str]:
    """(username, password) of a new admin of the jurisdiction."""
    username, password = f"duty-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    await auth_store.insert_officer(
        conn,
        username=username,
        password_hash=security.hash_password(password),
        display_name="duty officer",
        role=Role.ADMIN,
        jurisdiction_id=jurisdiction_id,
    )
    return username, password


async def log_in(base_url: str, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        reply = await client.post(
            "/v1/auth/token", data={"username": username, "password": password}
        )
        reply.raise_for_status()
        token: str = reply.json()["access_token"]
        return token


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
