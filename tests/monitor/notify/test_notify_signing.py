"""Webhook signatures, replay window and retry timing: pure functions, table-tested."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from pydantic import ValidationError

from monitor.notify import schemas, signing

BODY = b'{"delivery_id": 1}'


def test_the_signature_is_an_hmac_of_timestamp_dot_body_as_documented() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.sign("s3cret", 1700000000, BODY) == "sha256=" + expected


@pytest.mark.parametrize(
    ("secret", "stamp", "body", "now_s", "valid"),
    [
        ("s3cret", "1700000000", BODY, 1700000100, True),
        ("other", "1700000000", BODY, 1700000100, False),  # another key
        ("s3cret", "1700000000", BODY + b" ", 1700000100, False),  # body changed
        ("s3cret", "1700000001", BODY, 1700000100, False),  # timestamp changed
        ("s3cret", "1700000000", BODY, 1700000301, False),  # replayed after the window
        ("s3cret", "1700000000", BODY, 1699999699, False),  # from the future
        ("s3cret", "-1", BODY, 1700000100, False),
    ],
)
def test_a_receiver_accepts_only_a_fresh_signature_of_its_secret(
    secret: str, stamp: str, body: bytes, now_s: float, valid: bool
) -> None:
    signature = signing.sign("s3cret", 1700000000, BODY)
    assert (
        signing.is_valid(secret, signature=signature, timestamp=stamp, body=body, now_s=now_s)
        is valid
    )


@pytest.mark.parametrize(("attempts", "base_s"), [(1, 10), (2, 20), (3, 40), (7, 640), (12, 3600)])
def test_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, base_s: float) -> None:
    rng = random.Random(7)
    for _ in range(50):
        wait = signing.backoff_s(attempts, first_s=10, cap_s=3600, rng=rng)
        assert base_s <= wait <= base_s * 1.25


@pytest.mark.parametrize(
    "url",
    ["ftp://gw.example/", "https:///nohost", "https://gw.example/a b", "https://gw.example:99999/",
     "gw.example/hook", "https://gw.example/\x07"],
)  # fmt: skip
def test_a_channel_url_must_be_one_a_request_can_be_sent_to(url: str) -> None:
    with pytest.raises(ValidationError, match="url"):
        schemas.ChannelIn(name="gw", url=url)


def test_a_channel_takes_http_and_https() -> None:
    for url in ("http://10.0.0.5:8080/hook", "https://sms-gw.internal/hooks/monitor?k=1"):
        assert schemas.ChannelIn(name="gw", url=url).url == url
