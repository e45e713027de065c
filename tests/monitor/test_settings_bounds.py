"""Settings that the storage depends on are refused outside what it can do, by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.settings import Settings


def test_a_request_may_hold_at_most_one_block_of_ping_ids() -> None:
    """A request's pings are stored together, numbered from one reserved block of 65,536
    ids (migrations/0013): a larger limit would fail at the first such request, not at start."""
    assert Settings(max_pings_per_request=65_536).max_pings_per_request == 65_536
    with pytest.raises(ValidationError, match="max_pings_per_request"):
        Settings(max_pings_per_request=65_537)
