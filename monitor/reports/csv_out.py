"""Report rows as a CSV download: a header row, one line a row, a filename that says which
report and which dates."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

CSV_TYPE = "text/csv"
# a cell a spreadsheet would run as a formula (an office or person name typed by someone)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return CSV_TYPE in request.headers.get("accept", "")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # shown as text, as OWASP advises for CSV injection
    return str(value)


def rows_to_csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return out.getvalue()


def csv_response(filename: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Response:
    # UTF-8 with a BOM: Excel, which most offices open these in, then reads Chinese names right
    body = "\ufeff" + rows_to_csv(columns, rows)
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
