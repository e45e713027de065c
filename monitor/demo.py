"""`monitor up --demo`: Shenzhen (BSD-3 boundary data) under Guangdong and the ministry, its
jurisdiction tree, officers, ~200 persons with monitoring orders and devices, and a simulated
fleet in which a few walk out."""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import time
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
import shapely.affinity
from shapely.geometry import Point, mapping, shape

from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person
from pings.pg import Conn
from simulators.fleet import Route, SimDevice, offset

DEMO_USER = "demo-admin"
LEVELS: tuple[schemas.SupervisionLevel, ...] = ("strict", "normal", "lenient")
KINDS: tuple[schemas.DeviceKind, ...] = ("ankle", "wrist", "phone")
WANDERER_EVERY = 20  # one person in twenty walks out of the city and back
TRESPASSER = 10  # ... and another one in twenty into a school's exclusion zone
CYCLE_S = 600.0


def load_districts() -> list[dict[str, Any]]:
    path = resources.files("monitor") / "data" / "shenzhen_districts_wgs84.geojson"
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


async def seed(conn: Conn, *, persons: int, seed_value: int = 7) -> dict[str, Any]:
    """Create everything the demo needs; answers the demo-credentials.json content."""
    rng = random.Random(seed_value)
    districts = load_districts()
    city_shape = shapely.union_all([shape(f["geometry"]) for f in districts])
    async with conn.transaction():
        city = await seed_city(conn)
        streets = await seed_tree(conn, city.id, districts)
        password = secrets.token_urlsafe(12)
        await auth_store.insert_officer(
            conn,
            username=DEMO_USER,
            password_hash=security.hash_password(password),
            display_name="Demo duty officer 值班员",
            role=Role.ADMIN,
            jurisdiction_id=city.id,
        )
        fence = await registry_store.insert_fence(
            conn,
            data=schemas.FenceIn(
                name="深圳市 allowed area",
                role="allowed",
                crs="wgs84",
                geometry=dict(mapping(city_shape)),
                jurisdiction_id=city.id,
            ),
        )
        devices = [
            await seed_person(conn, n, rng, fence["id"], streets, city_shape)
            for n in range(persons)
        ]
    return {"officer": {"username": DEMO_USER, "password": password}, "devices": devices}


async def seed_city(conn: Conn) -> schemas.JurisdictionOut:
    """司法部 → 广东省 → 深圳市, as the tree runs in practice; the demo's officers are the
    city's, so alerts climb to its command centre (MONITOR_ESCALATION_TOP=province: one more)."""
    parent_id = None
    chain: tuple[tuple[str, schemas.JurisdictionLevel, str | None], ...] = (
        ("司法部 Ministry of Justice", "ministry", None),
        ("广东省 Guangdong", "province", "440000"),
        ("深圳市 Shenzhen", "city", "440300"),
    )
    for name, level, code in chain:
        made = await registry_store.insert_jurisdiction(
            conn,
            data=schemas.JurisdictionIn(name=name, level=level, code=code, parent_id=parent_id),
        )
        parent_id = made.id
    return made


async def seed_tree(
    conn: Conn, city_id: int, districts: list[dict[str, Any]]
) -> list[tuple[int, Any]]:
    """City → district (with its fence) → one street office each; answers (street id, district
    shape)."""
    streets = []
    for feature in districts:
        name = feature["properties"]["qh"]
        district = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"{name}区", level="district", parent_id=city_id)
        )
        street = await registry_store.insert_jurisdiction(
            conn,
            data=schemas.JurisdictionIn(
                name=f"{name}区 司法所", level="street", parent_id=district.id
            ),
        )
        # the district's own fence: offline, the console's map is drawn from such named fences
        await registry_store.insert_fence(
            conn,
            data=schemas.FenceIn(
                name=f"{name}区",
                role="allowed",
                crs="wgs84",
                geometry=feature["geometry"],
                jurisdiction_id=district.id,
            ),
        )
        streets.append((street.id, shape(feature["geometry"])))
    return streets


async def seed_person(
    conn: Conn,
    n: int,
    rng: random.Random,
    fence_id: int,
    streets: list[tuple[int, Any]],
    city: Any,
) -> dict[str, Any]:
    street_id, district = streets[n % len(streets)]
    level, kind = LEVELS[n % 3], KINDS[(n // 3) % 3]
    route = wanderer_route(rng, city, n) if n % WANDERER_EVERY == 0 else home_route(rng, district)
    zones = []
    if n % WANDERER_EVERY == TRESPASSER:  # walks into a school's exclusion zone and out again
        route, zone = trespasser_route(route, n)
        created = await registry_store.insert_fence(
            conn,
            data=schemas.FenceIn(
                name=f"禁入区 school {n + 1}",
                role="exclusion",
                crs="wgs84",
                geometry=zone,
                jurisdiction_id=street_id,  # a person's own zone: their street's, not shared
            ),
        )
        zones.append(created["id"])
    enrolled = await enrol_person(
        conn,
        case_number=f"SZ-DEMO-{n + 1:04d}",
        supervision_level=level,
        allowed_fence_ids=[fence_id],
        jurisdiction_id=street_id,
        device_id=f"demo-{n + 1:04d}",
        device_kind=kind,
        order_days=90,
        expected_interval_s=5,
        full_name=f"Demo person {n + 1}",
        exclusion_fence_ids=zones,
    )
    return {
        "device_id": enrolled.device_id,
        "token": enrolled.token,
        "person_id": enrolled.person_id,
        "route": route.__dict__,
    }


def home_route(rng: random.Random, area: Any) -> Route:
    inner = area.buffer(-0.01)  # ~1 km in from the edge, so the drift never nears it
    minx, miny, maxx, maxy = inner.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(lon, lat)):
            return Route(lat, lon, phase_s=rng.uniform(0, 900))


def wanderer_route(rng: random.Random, city: Any, n: int) -> Route:
    """Home 800 m inside the city edge, away 1.5 km outside it; the first ones cross at once."""
    ring = (
        max(city.geoms, key=lambda g: g.area).exterior if hasattr(city, "geoms") else city.exterior
    )
    centre = city.centroid
    while True:
        edge = ring.interpolate(rng.uniform(0, ring.length))
        north, east = (edge.y - centre.y) * 111_000, (edge.x - centre.x) * 102_000
        norm = (north**2 + east**2) ** 0.5
        home = offset(edge.y, edge.x, -800 * north / norm, -800 * east / norm)
        away = offset(edge.y, edge.x, 1500 * north / norm, 1500 * east / norm)
        if city.contains(Point(home[1], home[0]).buffer(0.005)) and not city.intersects(
            Point(away[1], away[0]).buffer(0.005)
        ):
            # routes run on wall-clock time: start the k-th wanderer 40 + 50k s into its walk
            phase = (CYCLE_S / 3 + 40 + (n // WANDERER_EVERY) * 50 - time.time()) % CYCLE_S
            return Route(home[0], home[1], away[0], away[1], cycle_s=CYCLE_S, phase_s=phase)


def trespasser_route(home: Route, n: int) -> tuple[Route, dict[str, Any]]:
    """A 350 m school zone 700 m east of home; the walk ends 100 m past its centre."""
    school = offset(home.home_lat, home.home_lon, 0.0, 700.0)
    far_side = offset(home.home_lat, home.home_lon, 0.0, 800.0)
    circle = shapely.affinity.scale(
        Point(school[1], school[0]).buffer(350 / 111_000, 32),
        xfact=1 / math.cos(math.radians(school[0])),
    )
    phase = (CYCLE_S / 3 + 70 + (n // WANDERER_EVERY) * 50 - time.time()) % CYCLE_S
    route = Route(
        home.home_lat, home.home_lon, far_side[0], far_side[1], cycle_s=CYCLE_S, phase_s=phase
    )
    return route, dict(mapping(circle))


def sim_devices(credentials: dict[str, Any]) -> list[SimDevice]:
    return [
        SimDevice(d["device_id"], d["token"], d["person_id"], Route(**d["route"]))
        for d in credentials["devices"]
    ]


async def ensure_demo(conn: Conn, data_dir: Path, *, persons: int) -> dict[str, Any]:
    """Seed once per data dir; a restart reuses the same people and credentials."""
    path = data_dir / "demo-credentials.json"
    exists = await conn.fetchval("SELECT 1 FROM officers WHERE username = $1", DEMO_USER)
    if exists and path.exists():
        if path.stat().st_mode & 0o077:  # written by a version before 0600
            path.chmod(0o600)
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    if exists:
        raise RuntimeError(f"demo data exists but {path} is missing; use a fresh --data-dir")
    credentials = await seed(conn, persons=persons)
    write_private(path, json.dumps(credentials, indent=2, ensure_ascii=False))
    return credentials


def write_private(path: Path, text: str) -> None:
    """Owner-only from the moment it exists (an admin password and every device's token are
    in it): created 0600, never widened and narrowed after, and swapped in whole."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # a leftover could have any mode; O_EXCL makes a new one
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)
