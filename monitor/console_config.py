"""What the duty console needs from settings: GET /console/config.json (no secrets)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from monitor.settings import Settings


class ConsoleConfig(BaseModel):
    # None: offline, fences drawn and labelled without a basemap
    tile_url: str | None
    # the datum the tiles are drawn in; the console shifts WGS-84 onto it
    tile_crs: Literal["wgs84", "gcj02"]
    tile_attribution: str
    # IANA name: the console shows and reads every time in this zone
    time_zone: str


def router(settings: Settings) -> APIRouter:
    """Public like the console's files: the page's CSP names the tile origin anyway."""
    config = ConsoleConfig(
        tile_url=settings.tile_url,
        tile_crs=settings.tile_crs,
        tile_attribution=settings.tile_attribution,
        time_zone=settings.time_zone,
    )
    api = APIRouter()

    @api.get("/console/config.json", include_in_schema=False)
    async def console_config() -> ConsoleConfig:
        return config

    return api
