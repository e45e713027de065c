"""Every datetime becomes epoch milliseconds the one way pings.clock counts a fix time (floored,
in integers): a `moment.timestamp() * 1000` elsewhere rounds or truncates a float its own way,
and a suspension or a timer can then end a millisecond away from the fixes it is judged with."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("alerts", "evaluator", "geofence", "ingest", "monitor", "pings", "simulators")


def is_timestamp_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "timestamp"
    )


def float_conversions(source: str) -> list[int]:
    """Lines multiplying a datetime's float `timestamp()` (by 1000, or anything)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and (is_timestamp_call(node.left) or is_timestamp_call(node.right))
    )


def test_the_walk_finds_a_float_conversion() -> None:
    assert float_conversions("ms = round(now.timestamp() * 1000)\nx = 1000 * t.timestamp()") == [
        1,
        2,
    ]
    assert float_conversions("ms = dt_to_ms(now)\nseconds = now.timestamp()") == []


def test_no_module_converts_a_datetime_to_milliseconds_through_a_float() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in float_conversions(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use pings.clock.dt_to_ms (geofence: its own integer floor)"
