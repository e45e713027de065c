"""The jurisdiction ladder: ranks, the parent rule, and the rung an alert climbs to next."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.levels import LEVELS, next_rung, rank, ranks_below
from monitor.settings import Settings


def test_the_ladder_runs_from_the_street_office_to_the_ministry() -> None:
    assert LEVELS == ("street", "district", "city", "province", "ministry")
    assert [rank(level) for level in LEVELS] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="level: 'county'"):
        rank("county")


def test_a_node_ranks_strictly_below_its_parent_and_may_skip_levels() -> None:
    assert ranks_below("district", "city")
    assert ranks_below("district", "province")  # Beijing's districts under a province-level city
    assert not ranks_below("city", "city")
    assert not ranks_below("province", "city")


def test_the_rung_follows_the_chain_that_exists() -> None:
    five = ("street", "district", "city", "province", "ministry")
    assert next_rung(at="street", chain=five, top="city") == "district"
    assert next_rung(at="city", chain=five, top="city") is None  # the top stays
    assert next_rung(at="city", chain=five, top="province") == "province"
    assert next_rung(at="province", chain=five, top="ministry") == "ministry"
    # a street office directly under a city: no district to pass through
    assert next_rung(at="street", chain=("street", "city"), top="province") == "city"
    # a root city: never past the root, whatever the top
    assert next_rung(at="city", chain=("street", "district", "city"), top="ministry") is None
    # a street office directly under a province, top city: the province is past the top
    assert next_rung(at="street", chain=("street", "province"), top="city") is None
    # a person held by a district office: an alert already at district goes to the city
    assert next_rung(at="district", chain=("district", "city"), top="city") == "city"


chains = st.lists(st.sampled_from(LEVELS), min_size=1, max_size=5, unique=True).map(
    lambda levels: tuple(sorted(levels, key=rank))
)


@given(chain=chains, start=st.sampled_from(LEVELS), top=st.sampled_from(LEVELS))
def test_the_rung_only_rises_never_skips_and_stops_at_the_top_or_the_root(
    chain: tuple[str, ...], start: str, top: str
) -> None:
    climbed = [start]
    while (rung := next_rung(at=climbed[-1], chain=chain, top=top)) is not None:
        assert rank(rung) > rank(climbed[-1]), "only rises"
        assert rank(rung) <= rank(top), "never past the top"
        assert rung in chain, "only to an office that exists"
        skipped = [c for c in chain if rank(climbed[-1]) < rank(c) < rank(rung)]
        assert skipped == [], "never skips an existing office"
        climbed.append(rung)
    assert len(climbed) <= len(LEVELS)
    # it stops at the top, or at the highest office of the chain at or below it
    reachable = [c for c in chain if rank(start) < rank(c) <= rank(top)]
    assert climbed[1:] == reachable


def test_the_escalation_top_is_a_level_and_city_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MONITOR_ESCALATION_TOP", raising=False)
    assert Settings().escalation_top == "city"
    monkeypatch.setenv("MONITOR_ESCALATION_TOP", "province")
    assert Settings().escalation_top == "province"
    monkeypatch.setenv("MONITOR_ESCALATION_TOP", "county")
    with pytest.raises(ValidationError, match="escalation_top"):
        Settings()
