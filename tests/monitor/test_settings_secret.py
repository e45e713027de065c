"""MONITOR_SECRET_KEY keys the officer-session HMAC: outside development it must be real."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from monitor.settings import Settings


def test_outside_development_the_default_and_short_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="MONITOR_SECRET_KEY must be set"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 random characters"):
        Settings(environment="production", secret_key="hunter2")
    key = secrets.token_urlsafe(32)
    assert Settings(environment="production", secret_key=key).secret_key == key


def test_development_runs_with_the_default() -> None:
    assert Settings().secret_key == "change-me"
