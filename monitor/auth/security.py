"""Officer passwords (argon2) and session-token hashes keyed by MONITOR_SECRET_KEY."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ingest.credentials import hash_token, new_token

__all__ = [
    "hash_password",
    "hash_session_token",
    "hash_token",
    "new_token",
    "verify_password",
    "verify_password_or_dummy",
]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    # same parameters as every real hash, so checking it costs what checking a real one does
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password_or_dummy(password_hash: str | None, password: str) -> bool:
    """An unknown or disabled account still pays for one Argon2 verification: the answer's
    time must not tell which usernames exist."""
    if password_hash is None:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


def hash_session_token(secret_key: str, token: str) -> bytes:
    """Officer sessions are stored as HMAC-SHA256 under the server's key: a copied sessions
    table can neither be matched against stolen tokens nor have rows forged into it without
    the key. Device tokens stay plain SHA-256 (`hash_token`): they outlive a key change."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).digest()
