"""The audit chain recomputed in Python: any change to any one field of any row is named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor.audit.chain import (
    Anchor,
    AuditRow,
    ChainCheck,
    check_anchors,
    check_head,
    json_string,
    row_hash,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# what a text column can hold: no NUL, and UTF-8 has no unpaired surrogates
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20)
contents = st.tuples(
    st.integers(0, 10**12),
    st.none() | st.integers(1, 2**63 - 1),
    texts,
    texts,
    st.sampled_from(["{}", '{"a": 1}', '{"start": "x", "end": [1, null]}']),
)


def chain_of(items: list[tuple[int, int | None, str, str, str]]) -> list[AuditRow]:
    rows, prev = [], b""
    for index, (micros, officer_id, action, subject, details) in enumerate(items, 1):
        at = T0 + timedelta(microseconds=micros)
        row = AuditRow(index * 2, at, officer_id, action, subject, details, prev, b"")
        row = dataclasses.replace(row, hash=row_hash(prev, row))
        rows.append(row)
        prev = row.hash
    return rows


def changed(row: AuditRow, name: str) -> AuditRow:
    """The same row with one field given another value."""
    value = getattr(row, name)
    if name == "officer_id":
        new: Any = 7 if value is None else (None if value % 2 else value + 1)
    elif isinstance(value, datetime):
        new = value + timedelta(microseconds=1)
    elif isinstance(value, bytes):
        new = value + b"\x00" if not value else bytes([value[0] ^ 1]) + value[1:]
    elif isinstance(value, int):
        new = value + 1
    else:
        new = value + " " if name != "details_text" else value.replace("}", ', "x": 1}')
    return dataclasses.replace(row, **{name: new})


FIELDS = [f.name for f in dataclasses.fields(AuditRow)]


@given(st.lists(contents, min_size=1, max_size=8), st.data())
def test_a_single_changed_field_is_named_at_its_row(
    items: list[tuple[int, int | None, str, str, str]], data: st.DataObject
) -> None:
    rows = chain_of(items)
    assert ChainCheck().feed(rows) is None
    at = data.draw(st.integers(0, len(rows) - 1))
    name = data.draw(st.sampled_from(FIELDS))
    tampered = [*rows[:at], changed(rows[at], name), *rows[at + 1 :]]
    broken = ChainCheck().feed(tampered)
    assert broken is not None and broken.id == tampered[at].id, (name, broken)


def test_a_removed_row_is_named_at_the_row_after_it() -> None:
    rows = chain_of([(i, None, "a", "s", "{}") for i in range(4)])
    broken = ChainCheck().feed([rows[0], rows[2], rows[3]])
    assert broken is not None and broken.id == rows[2].id and "removed" in broken.reason


def test_pages_fed_one_after_another_check_as_one_chain() -> None:
    rows = chain_of([(i, i, "a", "s", "{}") for i in range(6)])
    check = ChainCheck()
    assert check.feed(rows[:2]) is None and check.feed(rows[2:]) is None
    assert check_head(check, (rows[-1].id, rows[-1].hash)) is None
    cut = check_head(check, (rows[-1].id + 2, b"other"))
    assert cut is not None and "removed" in cut.reason


def test_a_rehashed_chain_fails_against_its_anchor() -> None:
    rows = chain_of([(i, None, "read_track", "person:1", "{}") for i in range(5)])
    anchors = [
        Anchor(rows[1].id, rows[1].hash, "t1", "file"),
        Anchor(rows[4].id, rows[4].hash, "t2", "file"),
    ]
    rewritten = chain_of([(i, None, "read_track", "person:2" if i == 3 else "person:1", "{}")
                          for i in range(5)])  # fmt: skip
    assert ChainCheck().feed(rewritten) is None, "re-hashed consistently, the chain holds"
    hashes = {r.id: r.hash for r in rewritten}
    broken = check_anchors(anchors, hashes)
    assert broken is not None and broken.id == rows[4].id
    assert f"after {rows[1].id}" in broken.reason
    assert check_anchors(anchors, {r.id: r.hash for r in rows}) is None
    missing = check_anchors(anchors, {rows[1].id: rows[1].hash})
    assert missing is not None and "missing" in missing.reason


def test_strings_are_escaped_as_postgresql_renders_jsonb() -> None:
    assert json_string('a"b\\c\n\t\x01é') == '"a\\"b\\\\c\\n\\t\\u0001é"'
