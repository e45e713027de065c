"""Registry rows the integration tests build straight in PostgreSQL."""

from __future__ import annotations

import time

from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.schemas import SupervisionLevel
from pings.pg import Conn
from tests.e2e.test_slice import CENTRE, square


async def person_in_new_city(
    conn: Conn, name: str, level: SupervisionLevel = "normal"
) -> tuple[int, int]:
    """A person in a city of their own, allowed a 1 km square around CENTRE, with no order:
    (person id, city id). `name` prefixes the city's name and the case number."""
    city = await registry_store.insert_jurisdiction(
        conn, data=schemas.JurisdictionIn(name=f"{name}-{time.monotonic_ns()}", level="city")
    )
    fence = await registry_store.insert_fence(
        conn, data=schemas.FenceIn(name="area", role="allowed", geometry=square(*CENTRE, 500))
    )
    person_id = await registry_store.insert_person(
        conn,
        data=schemas.PersonIn(
            case_number=f"{name}-{time.monotonic_ns()}",
            supervision_level=level,
            allowed_fence_ids=[fence["id"]],
        ),
        jurisdiction_id=city.id,
    )
    return person_id, city.id
