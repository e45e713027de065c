"""Register a supervised person in one step: the person, a monitoring order and a device.

What an operator does through three registry calls; the demo, benchmarks and tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.credentials import hash_token, new_token
from monitor.registry import schemas, store
from pings.pg import Conn

# an order needs a statutory ground; absconding is the commonest one for a band
DEFAULT_BASIS: dict[schemas.OrderKind, schemas.OrderBasis] = {
    "electronic_positioning": "left_residence_without_approval",
    "information_check": "supervision_term",
}


@dataclass(frozen=True)
class Enrolled:
    person_id: int
    device_id: str
    token: str  # shown once


async def enrol_person(
    conn: Conn,
    *,
    case_number: str,
    supervision_level: schemas.SupervisionLevel,
    allowed_fence_ids: list[int],
    jurisdiction_id: int,
    device_id: str,
    device_kind: schemas.DeviceKind = "phone",
    order_days: int = 30,
    expected_interval_s: int = 60,
    full_name: str = "",
    exclusion_fence_ids: list[int] | None = None,
    basis: schemas.OrderBasis | None = None,
) -> Enrolled:
    """A phone gets an information-check order, a band an electronic-positioning one (≤ 90 days)."""
    person_id = await store.insert_person(
        conn,
        data=schemas.PersonIn(
            case_number=case_number,
            supervision_level=supervision_level,
            allowed_fence_ids=allowed_fence_ids,
            exclusion_fence_ids=exclusion_fence_ids or [],
            full_name=full_name,
        ),
        jurisdiction_id=jurisdiction_id,
    )
    now = datetime.now(UTC)
    kind: schemas.OrderKind = (
        "information_check" if device_kind == "phone" else "electronic_positioning"
    )
    await store.insert_order(
        conn,
        person_id=person_id,
        officer_id=None,
        data=schemas.OrderIn(
            kind=kind,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=order_days),
            basis=basis or DEFAULT_BASIS[kind],
            approved_by="county justice bureau",
        ),
    )
    token = new_token()
    await store.insert_device(
        conn,
        device_id=device_id,
        token_hash=hash_token(token),
        data=schemas.DeviceIn(
            person_id=person_id, kind=device_kind, expected_interval_s=expected_interval_s
        ),
    )
    return Enrolled(person_id, device_id, token)
