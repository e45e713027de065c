"""MONITOR_TIME_ZONE (the console's times, the reports' days): an IANA name checked when
settings are built, so a typo stops the server at start instead of showing every officer times
in a zone nobody meant."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.settings import Settings


def test_shanghai_by_default() -> None:
    assert Settings().time_zone == "Asia/Shanghai"


@pytest.mark.parametrize("name", ["Asia/Urumqi", "America/New_York", "UTC", "Etc/GMT-8"])
def test_an_iana_zone_is_kept(name: str) -> None:
    assert Settings(time_zone=name).time_zone == name


@pytest.mark.parametrize(
    "name",
    [
        "Asia/Beijing",  # not a zone (China's is Asia/Shanghai)
        "asia/shanghai",  # browsers would take it, the server's zone files may not
        "CST",
        "UTC+8",
        "localtime",  # a file in /usr/share/zoneinfo, not a zone a browser knows
        "../../etc/passwd",
        "",
    ],
)
def test_an_unknown_zone_is_refused_naming_the_setting(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="MONITOR_TIME_ZONE"):
        Settings(time_zone=name)
    monkeypatch.setenv("MONITOR_TIME_ZONE", name)
    with pytest.raises(ValidationError, match="MONITOR_TIME_ZONE"):
        Settings()
