"""The bounded wire types: what PostgreSQL cannot store is refused with the field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from alerts.bounds import INT64_MAX, DbId, Instant, JsonObject, Text


class Shape(BaseModel):
    id: DbId | None = None
    name: Text = ""
    data: JsonObject = {}
    at: Instant | None = None


def problem(**fields: object) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate(fields)
    error = caught.value.errors()[0]
    return ".".join(str(p) for p in error["loc"]), error["msg"]


@pytest.mark.parametrize("value", [0, -1, INT64_MAX + 1, 2**70])
def test_an_id_is_a_positive_bigint(value: int) -> None:
    assert problem(id=value)[0] == "id"
    assert Shape(id=INT64_MAX).id == INT64_MAX


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "half \ud800 pair"])
def test_text_holds_no_nul_and_no_unpaired_surrogate(value: str) -> None:
    where, message = problem(name=value)
    assert where == "name" and "NUL" in message
    assert Shape(name="上海 ok\t\n").name == "上海 ok\t\n"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"a": "x\x00"}, "a"),
        ({"a\x00": 1}, "a\x00"),
        ({"a": [1, {"b": 2**64}]}, "a[1].b"),
        ({"a": -(2**63) - 1}, "a"),
        ({"a": float("inf")}, "a"),
        ({"a": [float("nan")]}, "a[0]"),
    ],
)
def test_json_fits_jsonb_and_the_error_names_the_path_inside(
    data: dict[str, object], path: str
) -> None:
    where, message = problem(data=data)
    assert where == "data"
    assert f"{path}: " in message


def test_json_within_bounds_is_kept_as_is() -> None:
    data = {"a": [1, 2.5, None, True, "文字"], "b": {"c": 2**63 - 1, "d": -(2**63)}}
    assert Shape(data=data).data == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0001-01-01T00:00:00+14:00", "years 1 and 9999"),
        ("0001-01-01T00:00:00+08:00", "years 1 and 9999"),
        ("9999-12-31T23:59:59-14:00", "years 1 and 9999"),
        ("2026-01-01T00:00:00", "time zone offset"),
    ],
)
def test_an_instant_has_an_offset_and_converts_to_utc(text: str, message: str) -> None:
    where, said = problem(at=text)
    assert where == "at" and message in said


def test_the_extreme_instants_that_convert_are_accepted() -> None:
    earliest = datetime(1, 1, 1, tzinfo=UTC)
    latest = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=0)))
    assert Shape(at=earliest).at == earliest
    assert Shape(at=latest).at == latest
