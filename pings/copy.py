"""PostgreSQL's binary COPY data for a batch of plain pings, built a column at a time.

asyncpg's `copy_records_to_table` encodes COPY rows one field at a time from Python tuples,
a large part of what a batched upload costs (docs/decisions/0020-group-commit-by-copy.md).
Most pings are plain (position, fix time and accuracy, nothing else), so every row of a flush
has the same shape: fixed-width fields and NULLs, and one text field, the device id. Such rows
are a numpy structured array whose fields are the COPY row's bytes in order (field count; then
each field's length and big-endian value), filled a column at a time: the same bytes
PostgreSQL would get from asyncpg. A batch with any other ping goes through asyncpg
(ingest.store.copy_pings). The columns are the PingBatch's (pings.batch), which the stream
entries are built from too.

Format: https://www.postgresql.org/docs/current/sql-copy.html ("Binary Format").
"""

from __future__ import annotations

import struct
from functools import cache

import numpy as np

from pings.batch import PingBatch
from pings.clock import us_to_pg

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
TRAILER = struct.pack(">h", -1)
NULL = -1
# crs_in of every plain ping
WGS84 = b"wgs84"

# the fields of one row, in ingest.store.COLUMNS order: (name, PostgreSQL type, numpy type of
# the value, or None for a column that is NULL in every plain ping). Every field is preceded by
# its length.
ROW: tuple[tuple[str, str, str | None], ...] = (
    ("id", "bigint", ">i8"),
    ("device_id", "text", None),  # bytes of the device id's length: see row_template
    ("person_id", "bigint", ">i8"),
    ("ts", "timestamptz", ">i8"),
    ("lat", "float8", ">f8"),
    ("lon", "float8", ">f8"),
    ("accuracy_m", "real", ">f4"),
    ("speed_mps", "real", None),
    ("heading_deg", "real", None),
    ("battery_pct", "real", None),
    ("checkin", "bool", "u1"),
    ("tamper", "bool", "u1"),
    ("source", "text", None),
    ("seq", "bigint", None),
    ("crs_in", "text", f"S{len(WGS84)}"),
    ("attrs", "jsonb", None),
)


@cache
def row_template(device_id_bytes: int) -> np.ndarray:
    """One row whose constant fields (count, lengths, NULLs, false, 'wgs84') are set: the
    device id's length fixes the row's size, so rows are grouped by it."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for name, _, kind in ROW:
        fields.append((f"{name}_length", ">i4"))
        if name == "device_id":
            fields.append((name, f"S{device_id_bytes}"))
        elif kind is not None:
            fields.append((name, kind))
    row = np.zeros(1, dtype=np.dtype(fields))
    row["count"] = len(ROW)
    for name, _, kind in ROW:
        if name == "device_id":
            row[f"{name}_length"] = device_id_bytes
        else:
            row[f"{name}_length"] = NULL if kind is None else np.dtype(kind).itemsize
    row["crs_in"] = WGS84
    return row


def plain_copy(batch: PingBatch, first_id: int) -> bytes | None:
    """COPY ... (FORMAT binary) data for the batch's rows, numbered from `first_id` by their
    place; None unless every ping is plain and every device id ASCII."""
    if not batch.is_plain:
        return None
    devices = batch.device_ids
    distinct = set(devices)
    if not all(d.isascii() for d in distinct):
        return None  # rare enough to leave to asyncpg: a str's length is its ASCII bytes'
    columns = {
        "id": np.arange(first_id, first_id + len(devices), dtype=np.int64),
        "person_id": batch.person_ids,
        "ts": us_to_pg(batch.ts_us),
        "lat": batch.lat,
        "lon": batch.lon,
        "accuracy_m": batch.accuracy_m,
    }
    lengths = sorted({len(d) for d in distinct})
    if lengths and lengths[0] == 0:
        return None  # numpy has no zero-width bytes field
    of_row = None if len(lengths) == 1 else np.fromiter(map(len, devices), int, len(devices))
    parts = [HEADER]
    for length in lengths:
        chosen: slice | np.ndarray = slice(None)
        group = devices
        if of_row is not None:
            chosen = np.flatnonzero(of_row == length)
            group = [devices[i] for i in chosen]
        block = np.repeat(row_template(length), len(group))
        for name, column in columns.items():
            block[name] = column[chosen]
        block["device_id"] = group  # numpy encodes ASCII str
        parts.append(block.tobytes())
    parts.append(TRAILER)
    return b"".join(parts)
