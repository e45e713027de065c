"""docs/operations.md lists every setting: a setting added without a line there fails here."""

from __future__ import annotations

from monitor.settings import Settings
from tests.conftest import REPO

OPERATIONS = REPO / "docs" / "operations.md"


def test_every_setting_has_a_line_in_the_operations_guide() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    missing = [
        f"MONITOR_{name.upper()}"
        for name in Settings.model_fields
        if f"`MONITOR_{name.upper()}`" not in text
    ]
    assert not missing, f"docs/operations.md does not describe {missing}"
