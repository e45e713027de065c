"""Security headers on every officer-side HTTP answer (device routes are answered in front)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# JSON answers load nothing and are framed by nobody
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# the console is same-origin scripts (its modules, vendored Leaflet) and stylesheets; the favicon
# is a data: URL; its WebSocket is same-origin ('self' covers ws:/wss: to the page's host);
# basemap tiles are images, so a tile server's origin is added to img-src and nowhere else
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:{tiles}; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def docs_csp(inline_scripts: Iterable[str] = ()) -> str:
    """Swagger UI, served from this origin (monitor/docs.py): a page's own inline scripts are
    allowed by hash, no other inline script or style."""
    hashes = "".join(f" '{sha256_source(script)}'" for script in inline_scripts)
    return (
        f"default-src 'self'; script-src 'self'{hashes}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def sha256_source(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


# what a /docs path answers unless its page set its own (the assets, a 404)
DOCS_CSP = docs_csp()
# ReDoc, from this origin too, writes its styles as <style> elements and searches in a blob:
# worker; its attribution logo (from its CDN, hidden when it fails) is refused
REDOC_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; worker-src blob:; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def console_csp(tile_origin: str | None = None) -> str:
    """tile_origin comes from Settings, which admits only scheme://host[:port]."""
    return CONSOLE_CSP.format(tiles=f" {tile_origin}" if tile_origin else "")


def csp_for(path: str, tile_origin: str | None = None) -> str:
    if path == "/" or path.startswith("/console"):
        return console_csp(tile_origin)
    if path.startswith("/docs"):
        return DOCS_CSP
    if path.startswith("/redoc"):
        return REDOC_CSP
    return API_CSP


class SecurityHeaders:
    """ASGI middleware; an answer's own headers of these names are kept."""

    def __init__(self, app: ASGIApp, tile_origin: str | None = None) -> None:
        self.app = app
        self.tile_origin = tile_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**COMMON, "Content-Security-Policy": csp_for(scope["path"], self.tile_origin)}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
