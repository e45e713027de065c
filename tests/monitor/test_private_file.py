"""demo-credentials.json is owner-only from its creation (issue 18, item 9)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.demo import write_private


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would let everyone read a file created with the usual 0666."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_is_created_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "demo-credentials.json"
    write_private(path, '{"officer": {}}')
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8") == '{"officer": {}}'


def test_a_leftover_partial_file_lends_it_no_wider_mode(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "demo-credentials.json"
    leftover = tmp_path / ".demo-credentials.json.partial"
    leftover.write_text("old")
    leftover.chmod(0o666)
    write_private(path, "{}")
    assert mode(path) == 0o600 and not leftover.exists()
