"""The basemap's tile URL: its origin goes verbatim into the console's CSP, so only a plain
scheme://host[:port] is admitted, and img-src is the only directive it widens."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.headers import API_CSP, console_csp, csp_for
from monitor.settings import Settings

TIANDITU = (
    "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
)


def directives(csp: str) -> dict[str, str]:
    return {d.split()[0]: d for d in (part.strip() for part in csp.split(";")) if d}


def test_offline_by_default_and_gcj02_assumed() -> None:
    settings = Settings()
    assert settings.tile_url is None and settings.tile_origin is None
    assert settings.tile_crs == "gcj02"
    assert "img-src 'self' data:;" in console_csp(settings.tile_origin)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8081/{z}/{x}/{y}.png", "http://127.0.0.1:8081"),
        (TIANDITU, "https://t0.tianditu.gov.cn"),
    ],
)
def test_the_tile_origin_joins_img_src_and_nothing_else(url: str, origin: str) -> None:
    settings = Settings(tile_url=url)
    assert settings.tile_origin == origin
    offline, online = directives(console_csp()), directives(csp_for("/console/", origin))
    assert online.pop("img-src") == f"img-src 'self' data: {origin}"
    offline.pop("img-src")
    assert online == offline
    assert csp_for("/v1/alerts", origin) == API_CSP  # JSON answers still load nothing


@pytest.mark.parametrize(
    "url",
    [
        "https://tiles.example.org/{z}/{x}.png",  # no {y}
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "https://*.example.org/{z}/{x}/{y}.png",
        "https://t{s}.example.org/{z}/{x}/{y}.png",
        "https://a.example.org;script-src 'unsafe-inline'/{z}/{x}/{y}.png",
        "https://user@tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/{z}/{x}/{y}.png https://evil.example",
        "/tiles/{z}/{x}/{y}.png",
    ],
)
def test_a_tile_url_that_could_widen_the_csp_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="MONITOR_TILE_URL"):
        Settings(tile_url=url)


def test_the_empty_tile_url_means_offline() -> None:
    assert Settings(tile_url="").tile_url is None
