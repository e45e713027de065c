"""Login throttle and lockout against the live server and its Redis (issue 18, item 7).

Each test comes from addresses of its own (X-Forwarded-For, trusted from 127.0.0.1 as
uvicorn's FORWARDED_ALLOW_IPS default has it), so its failures lock nobody else's logins."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from tests.e2e.conftest import Live, Officer


def new_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


async def login(
    client: httpx.AsyncClient, username: str, password: str, address: str
) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def second_officer(client: httpx.AsyncClient, admin: Officer) -> tuple[str, str]:
    username, password = f"second-{secrets.token_hex(4)}", "correct horse battery"
    made = await client.post(
        "/v1/officers",
        headers={"Authorization": f"Bearer {admin.token}"},
        json={
            "username": username,
            "password": password,
            "role": "officer",
            "jurisdiction_id": admin.jurisdiction_id,
        },
    )
    assert made.status_code == 201, made.text
    return username, password


def assert_locked(reply: httpx.Response, at_most_s: int) -> None:
    assert reply.status_code == 429, reply.text
    assert 0 < int(reply.headers["retry-after"]) <= at_most_s
    assert "try again in" in reply.json()["detail"]


async def test_wrong_passwords_lock_that_username_from_that_address(
    live: Live, officer: Officer
) -> None:
    attacker, elsewhere = new_address(), new_address()
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        other, other_password = await second_officer(client, officer)
        for _ in range(live.settings.login_user_failures):
            assert (await login(client, officer.username, "wrong", attacker)).status_code == 401
        locked = await login(client, officer.username, officer.password, attacker)
        assert_locked(locked, live.settings.login_user_window_s)
        # the officer at their own desk, and a colleague at the attacker's, are not locked out
        assert (await login(client, officer.username, officer.password, elsewhere)).is_success
        assert (await login(client, other, other_password, attacker)).is_success


async def test_failures_across_usernames_lock_the_address(live: Live, officer: Officer) -> None:
    sprayer = new_address()
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for n in range(live.settings.login_address_failures):
            # unknown usernames count like known ones, so a 429 tells no username apart
            assert (await login(client, f"nobody-{n}", "guess", sprayer)).status_code == 401
        locked = await login(client, officer.username, officer.password, sprayer)
        assert_locked(locked, live.settings.login_address_window_s)
        assert (await login(client, officer.username, officer.password, new_address())).is_success


async def test_failures_from_many_addresses_lock_the_username_everywhere(
    live: Live, officer: Officer
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for _ in range(live.settings.login_user_all_addresses_failures):
            assert (
                await login(client, officer.username, "wrong", new_address())
            ).status_code == 401
        locked = await login(client, officer.username, officer.password, new_address())
        assert_locked(locked, live.settings.login_user_window_s)


async def test_a_successful_login_forgives_the_username(live: Live, officer: Officer) -> None:
    desk = new_address()
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for _ in range(2):
            for _ in range(live.settings.login_user_failures - 1):
                assert (await login(client, officer.username, "typo", desk)).status_code == 401
            assert (await login(client, officer.username, officer.password, desk)).is_success


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every Argon2 verification the server makes, counted (a spy, not a fake: it verifies)."""
    made: list[str] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        made.append(str(password))
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    yield made


async def test_every_failed_login_costs_one_argon2_verification(
    live: Live, officer: Officer, pool: asyncpg.Pool, argon2_verifications: list[str]
) -> None:
    """Unknown, impossible and known usernames take the same work, so the same time."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        second, _ = await second_officer(client, officer)
        async with pool.acquire() as conn:
            await conn.execute("UPDATE officers SET disabled = true WHERE username = $1", second)
        cases = [f"nobody-{secrets.token_hex(4)}", "nul\x00name", "x" * 5000, second]
        for username in [officer.username, *cases]:
            reply = await login(client, username, "wrong password", new_address())
            assert reply.status_code == 401, (username, reply.text)
            assert reply.json()["detail"] == "wrong username or password"
    assert len(argon2_verifications) == 1 + len(cases)
