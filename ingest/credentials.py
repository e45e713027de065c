"""Device credentials: 256-bit random tokens, stored and looked up as sha256."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """URL-safe, so it fits a path segment (OsmAnd) as well as a header."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    # at 256 bits of entropy a fast hash is as strong as a slow one, and ingest can afford it
    return hashlib.sha256(token.encode()).digest()
