"""The roster's pure pieces: the search pattern, the status order, unknown-parameter issues."""

from __future__ import annotations

from alerts.known_query import unknown_issues
from monitor.registry.roster_store import LIST_PERSON_ROWS, PersonSort, like_pattern


def test_the_search_matches_its_text_literally_anywhere() -> None:
    assert like_pattern("C-12") == "%C-12%"
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
    assert like_pattern("") is None and like_pattern(None) is None


def test_the_status_order_puts_the_urgent_first_and_unknown_before_inside() -> None:
    sql = LIST_PERSON_ROWS[PersonSort.STATUS]
    order = [sql.index(f"WHEN '{s}'") for s in ("tamper", "outside", "silent", "unknown")]
    assert order == sorted(order)
    assert "WHEN 'inside'" not in sql.split("ORDER BY")[1]  # inside sorts last, by ELSE


def test_each_unknown_name_is_one_issue_in_the_order_sent() -> None:
    issues = unknown_issues(["q", "satus", "x", "satus", "limit"], frozenset({"q", "limit"}))
    assert [i["loc"] for i in issues] == [("query", "satus"), ("query", "x")]
    assert "limit, q" in issues[0]["msg"]
    assert unknown_issues(["q"], frozenset({"q"})) == []
