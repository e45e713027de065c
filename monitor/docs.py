"""/docs (Swagger UI) and /redoc served from this process, so they work without internet.

The assets are the swagger-ui-dist and redoc bundles that the fastapi-offline package ships
(kept current with both); the pages are FastAPI's own, built by its documented pattern. Swagger
UI's inline script is allowed by its hash, so its policy names no CDN and no 'unsafe-inline'.
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from monitor.headers import docs_csp

ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def add_docs(app: FastAPI) -> None:
    """For an app made with docs_url=None and redoc_url=None."""
    assets = resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)


async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=root + OAUTH2_REDIRECT,
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
    )
    return with_own_csp(page)


async def oauth2_redirect() -> HTMLResponse:
    return with_own_csp(get_swagger_ui_oauth2_redirect_html())


async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_redoc_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
    return page  # it has no inline script: its policy is the headers middleware's


def with_own_csp(page: HTMLResponse) -> HTMLResponse:
    """Hashed per answer: the script holds URLs that depend on the root path."""
    scripts = INLINE_SCRIPT.findall(bytes(page.body).decode())
    page.headers["Content-Security-Policy"] = docs_csp(scripts)
    return page
