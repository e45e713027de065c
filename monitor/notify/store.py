"""SQL of the duty roster, the channels and the deliveries' listing (officer routes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from monitor.notify import schemas
from pings.pg import Conn

OFFICE = "SELECT id, name, level, path FROM jurisdictions WHERE id = $1"


async def get_office(conn: Conn, *, jurisdiction_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(OFFICE, jurisdiction_id)


# who may stand a shift at an office: an officer seeing its alerts, enabled, not oversight
DUTY_OFFICER = """
SELECT o.id FROM officers o JOIN jurisdictions j ON j.id = o.jurisdiction_id
WHERE o.id = $1 AND NOT o.disabled AND o.role <> 'oversight' AND $2 LIKE j.path || '%'
"""


async def can_stand_duty(conn: Conn, *, officer_id: int, office_path: str) -> bool:
    return await conn.fetchval(DUTY_OFFICER, officer_id, office_path) is not None


SHIFT_SELECT = """
SELECT s.id, s.jurisdiction_id, s.officer_id, o.display_name AS officer_name, s.starts_at,
       s.ends_at, s.contact, s.note, s.created_by, s.created_at, s.cancelled_at, s.cancelled_by,
       j.path AS office_path
FROM duty_shifts s JOIN officers o ON o.id = s.officer_id
JOIN jurisdictions j ON j.id = s.jurisdiction_id
"""


def shift_out(row: asyncpg.Record) -> schemas.ShiftOut:
    data = dict(row)
    data.pop("office_path")
    return schemas.ShiftOut(**data)


INSERT_SHIFT = """
INSERT INTO duty_shifts (jurisdiction_id, officer_id, starts_at, ends_at, contact, note, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
"""


async def insert_shift(
    conn: Conn, *, jurisdiction_id: int, data: schemas.ShiftIn, created_by: int
) -> schemas.ShiftOut:
    shift_id: int = await conn.fetchval(
        INSERT_SHIFT, jurisdiction_id, data.officer_id, data.starts_at, data.ends_at,
        data.contact, data.note, created_by,
    )  # fmt: skip
    found = await get_shift(conn, shift_id=shift_id)
    assert found is not None
    return found[0]


async def get_shift(
    conn: Conn, *, shift_id: int, for_update: bool = False
) -> tuple[schemas.ShiftOut, str] | None:
    """The shift and its office's path."""
    sql = SHIFT_SELECT + " WHERE s.id = $1" + (" FOR UPDATE OF s" if for_update else "")
    row = await conn.fetchrow(sql, shift_id)
    return None if row is None else (shift_out(row), row["office_path"])


CANCEL_SHIFT = "UPDATE duty_shifts SET cancelled_at = now(), cancelled_by = $2 WHERE id = $1"


async def cancel_shift(conn: Conn, *, shift_id: int, officer_id: int) -> None:
    await conn.execute(CANCEL_SHIFT, shift_id, officer_id)


LIST_SHIFTS = (
    SHIFT_SELECT
    + """
WHERE s.jurisdiction_id = $1 AND s.starts_at < $3 AND s.ends_at > $2
  AND ($4 OR s.cancelled_at IS NULL)
ORDER BY s.starts_at, s.id LIMIT $5
"""
)


async def list_shifts(
    conn: Conn, *, jurisdiction_id: int, start: datetime, end: datetime, cancelled: bool,
    limit: int,
) -> list[schemas.ShiftOut]:  # fmt: skip
    rows = await conn.fetch(LIST_SHIFTS, jurisdiction_id, start, end, cancelled, limit)
    return [shift_out(r) for r in rows]


# every office of the subtree, with the shifts covering `at` (none: nobody on duty there)
DUTY = """
SELECT j.id, j.name, j.level,
       coalesce(jsonb_agg(jsonb_build_object(
           'shift_id', s.id, 'officer_id', o.id, 'display_name', o.display_name,
           'contact', s.contact, 'starts_at', s.starts_at, 'ends_at', s.ends_at)
           ORDER BY s.starts_at, s.id) FILTER (WHERE s.id IS NOT NULL), '[]') AS on_duty
FROM jurisdictions j
LEFT JOIN duty_shifts s ON s.jurisdiction_id = j.id AND s.cancelled_at IS NULL
                       AND s.starts_at <= $2 AND $2 < s.ends_at
LEFT JOIN officers o ON o.id = s.officer_id AND NOT o.disabled
WHERE j.path LIKE $1 || '%'
GROUP BY j.id ORDER BY j.path LIMIT $3
"""


async def duty(conn: Conn, *, under_path: str, at: datetime, limit: int) -> list[schemas.DutyOut]:
    rows = await conn.fetch(DUTY, under_path, at, limit)
    return [
        schemas.DutyOut(
            office=schemas.Office(id=r["id"], name=r["name"], level=r["level"]),
            on_duty=[d for d in r["on_duty"] if d["officer_id"] is not None],
        )
        for r in rows
    ]


CHANNEL_COLUMNS = """
c.id, c.jurisdiction_id, c.name, c.url, c.alert_types, c.events, c.enabled, c.created_by,
c.created_at, c.updated_at
"""
INSERT_CHANNEL = f"""
INSERT INTO notification_channels AS c
    (jurisdiction_id, name, url, secret, alert_types, events, enabled, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {CHANNEL_COLUMNS}
"""


def types_or_null(alert_types: list[Any]) -> list[str] | None:
    return [str(t) for t in alert_types] or None


async def insert_channel(
    conn: Conn,
    *,
    jurisdiction_id: int,
    data: schemas.ChannelIn,
    secret: str,
    created_by: int | None,
) -> schemas.ChannelOut:
    row = await conn.fetchrow(
        INSERT_CHANNEL, jurisdiction_id, data.name, data.url, secret,
        types_or_null(data.alert_types), list(data.events), data.enabled, created_by,
    )  # fmt: skip
    return schemas.ChannelOut(**schemas.channel_row(row))


GET_CHANNEL = f"""
SELECT {CHANNEL_COLUMNS}, j.path FROM notification_channels c
JOIN jurisdictions j ON j.id = c.jurisdiction_id WHERE c.id = $1
"""


async def get_channel(
    conn: Conn, *, channel_id: int, for_update: bool = False
) -> tuple[schemas.ChannelOut, str] | None:
    """The channel and its office's path."""
    row = await conn.fetchrow(GET_CHANNEL + (" FOR UPDATE OF c" if for_update else ""), channel_id)
    if row is None:
        return None
    data = schemas.channel_row(row)
    path = data.pop("path")
    return schemas.ChannelOut(**data), path


LIST_CHANNELS = f"""
SELECT {CHANNEL_COLUMNS} FROM notification_channels c WHERE c.jurisdiction_id = $1 ORDER BY c.id
"""


async def list_channels(conn: Conn, *, jurisdiction_id: int) -> list[schemas.ChannelOut]:
    rows = await conn.fetch(LIST_CHANNELS, jurisdiction_id)
    return [schemas.ChannelOut(**schemas.channel_row(r)) for r in rows]


# a NULL argument keeps the column; alert_types: $3 says whether $4 is given ([] means all)
UPDATE_CHANNEL = """
UPDATE notification_channels SET name = coalesce($2, name), url = coalesce($5, url),
       alert_types = CASE WHEN $3 THEN $4 ELSE alert_types END,
       events = coalesce($6, events), enabled = coalesce($7, enabled), updated_at = now()
WHERE id = $1
"""


async def update_channel(conn: Conn, *, channel_id: int, patch: schemas.ChannelPatch) -> None:
    given = patch.model_fields_set
    await conn.execute(
        UPDATE_CHANNEL, channel_id, patch.name, "alert_types" in given,
        types_or_null(patch.alert_types or []), patch.url,
        None if patch.events is None else list(patch.events), patch.enabled,
    )  # fmt: skip


SET_SECRET = "UPDATE notification_channels SET secret = $2, updated_at = now() WHERE id = $1"


async def set_secret(conn: Conn, *, channel_id: int, secret: str) -> None:
    await conn.execute(SET_SECRET, channel_id, secret)


DELIVERY_SELECT = """
SELECT d.id, d.channel_id, c.name AS channel_name, d.event_id, d.event_type, d.alert_id,
       d.status, d.attempts, d.max_attempts,
       CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       d.delivered_at, d.created_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('at', a.at, 'status_code', a.status_code,
                                 'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.id)
                 FROM notification_attempts a WHERE a.delivery_id = d.id), '[]') AS receipts
FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
"""
CHANNEL_DELIVERIES = (
    DELIVERY_SELECT
    + """
WHERE d.channel_id = $1 AND ($2::text IS NULL OR d.status = $2)
ORDER BY d.id DESC LIMIT $3 OFFSET $4
"""
)
ALERT_DELIVERIES = DELIVERY_SELECT + " WHERE d.alert_id = $1 ORDER BY d.id"


def deliveries_out(rows: list[asyncpg.Record]) -> list[schemas.DeliveryOut]:
    return [schemas.DeliveryOut(**dict(r)) for r in rows]


async def channel_deliveries(
    conn: Conn, *, channel_id: int, status: str | None, limit: int, offset: int
) -> list[schemas.DeliveryOut]:
    return deliveries_out(await conn.fetch(CHANNEL_DELIVERIES, channel_id, status, limit, offset))


async def alert_deliveries(conn: Conn, *, alert_id: int) -> list[schemas.DeliveryOut]:
    return deliveries_out(await conn.fetch(ALERT_DELIVERIES, alert_id))


async def get_delivery(conn: Conn, *, delivery_id: int) -> schemas.DeliveryOut:
    rows = await conn.fetch(DELIVERY_SELECT + " WHERE d.id = $1", delivery_id)
    return deliveries_out(rows)[0]
