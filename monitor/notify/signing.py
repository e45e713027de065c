"""Webhook signatures and retry timing: pure functions, shared by the sender and receivers.

The signature is `sha256=` + hex HMAC-SHA256(secret, f"{timestamp}.{body}"), GitHub and
Stripe style: the timestamp inside the signed text lets a receiver refuse a replayed request.
"""

from __future__ import annotations

import hashlib
import hmac
import random

SCHEME = "sha256="
# a receiver refuses a delivery signed longer ago than this (or this far ahead)
REPLAY_WINDOW_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Monitor-Signature header of `body` sent at `timestamp` (epoch seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def is_valid(
    secret: str,
    *,
    signature: str,
    timestamp: str,
    body: bytes,
    now_s: float,
    window_s: int = REPLAY_WINDOW_S,
) -> bool:
    """What a receiver checks: a fresh timestamp and a signature made with its secret,
    compared in constant time."""
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > window_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def backoff_s(attempts: int, *, first_s: float, cap_s: float, rng: random.Random) -> float:
    """Wait before the next try after `attempts` failed ones: doubling from first_s, capped,
    with up to a quarter of jitter so receivers that came back are not hit all at once."""
    base: float = min(cap_s, first_s * 2.0 ** max(0, attempts - 1))
    return base * (1 + rng.random() / 4)
