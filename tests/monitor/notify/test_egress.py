"""Where a webhook may be sent (monitor.notify.egress): public addresses, and only the
non-public networks the operator lists; a name is sent to the address it was checked at."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from pydantic import ValidationError

from monitor.notify import egress
from monitor.settings import Settings

OFFICE_LAN = egress.networks("10.20.0.0/16")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # the service's own host
        "::1",
        "10.0.0.5",  # private networks
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # a cloud's metadata address
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # loopback written as IPv6
        "::ffff:10.0.0.5",
    ],
)
def test_a_non_public_address_is_refused_by_default(address: str) -> None:
    assert not egress.is_allowed(ipaddress.ip_address(address), ())


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_a_public_address_is_allowed(address: str) -> None:
    assert egress.is_allowed(ipaddress.ip_address(address), ())


def test_the_listed_networks_and_only_they_are_allowed() -> None:
    assert egress.is_allowed(ipaddress.ip_address("10.20.7.1"), OFFICE_LAN)
    assert egress.is_allowed(ipaddress.ip_address("::ffff:10.20.7.1"), OFFICE_LAN)
    assert not egress.is_allowed(ipaddress.ip_address("10.21.0.1"), OFFICE_LAN)
    assert not egress.is_allowed(ipaddress.ip_address("127.0.0.1"), OFFICE_LAN)


def test_the_setting_reads_networks_and_names_a_bad_one() -> None:
    assert Settings(
        webhook_allowed_networks="10.20.0.0/16, 10.30.1.5 fd00::/8"
    ).webhook_networks == (
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("10.30.1.5/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert Settings().webhook_networks == ()
    with pytest.raises(ValidationError, match=r"'10\.300\.0\.0/16' is not a network"):
        Settings(webhook_allowed_networks="10.20.0.0/16,10.300.0.0/16")


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data", True),
        ("http://[::1]:8080/hook", True),
        ("https://LOCALHOST./hook", True),
        ("http://10.20.0.9/sms", False),  # the office LAN, allowed
        ("https://gw.example.com/hook", False),  # a name: checked when sent
    ],
)
def test_a_url_is_checked_as_written_when_saved(url: str, refused: bool) -> None:
    reason = egress.check_saved(url, OFFICE_LAN)
    assert (reason is not None) is refused
    if reason:
        assert "MONITOR_WEBHOOK_ALLOWED_NETWORKS" in reason


async def test_a_name_is_sent_to_the_address_it_resolved_to_with_its_own_host_header() -> None:
    loopback = egress.networks("127.0.0.0/8 ::1")
    targets, headers, extensions = await egress.pinned("https://localhost:8443/hook?x=1", loopback)
    assert targets[0] in ("https://127.0.0.1:8443/hook?x=1", "https://[::1]:8443/hook?x=1")
    assert headers == {"Host": "localhost:8443"}
    assert extensions == {"sni_hostname": "localhost"}  # the certificate is checked for the name
    with pytest.raises(egress.RefusedAddress, match="localhost resolves to"):
        await egress.pinned("http://localhost/hook", OFFICE_LAN)


async def test_an_address_is_sent_to_as_written() -> None:
    assert await egress.pinned("http://10.20.0.9:8080/sms", OFFICE_LAN) == (
        ["http://10.20.0.9:8080/sms"],
        {},
        {},
    )
    with pytest.raises(egress.RefusedAddress, match=r"^10\.21\.0\.9 is not a public address"):
        await egress.pinned("http://10.21.0.9/sms", OFFICE_LAN)


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """The running loop's resolver answering these addresses; the names asked are listed."""
    asked: list[str] = []

    async def getaddrinfo(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        asked.append(host)
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    return asked


async def test_an_internationalised_name_is_looked_up_and_named_as_dns_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = resolving_to(monkeypatch, "93.184.216.34")
    targets, headers, extensions = await egress.pinned("https://bücher.example/hook", ())
    assert asked == ["xn--bcher-kva.example"]
    assert targets == ["https://93.184.216.34/hook"]
    assert headers == {"Host": "xn--bcher-kva.example"}
    assert extensions == {"sni_hostname": "xn--bcher-kva.example"}


async def test_a_name_with_any_non_public_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolving_to(monkeypatch, "93.184.216.34", "10.0.0.7")  # one answer public, one not
    with pytest.raises(egress.RefusedAddress, match=r"gw\.example\.com resolves to 10\.0\.0\.7"):
        await egress.pinned("https://gw.example.com/hook", ())
