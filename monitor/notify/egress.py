"""Where a webhook may be sent: public addresses, and the private networks an operator allows.

An office manager types a channel's URL; without this check the notifier would POST signed
alert bodies wherever it points, the service's own host and network included (PostgreSQL,
Redis, a cloud's metadata address at 169.254.169.254). So a URL is refused when its host is,
or resolves to, an address that is not globally routable (loopback, private, link-local,
shared, reserved, multicast) unless it lies in `MONITOR_WEBHOOK_ALLOWED_NETWORKS`, where an
operator lists the networks of their own gateways (an SMS gateway on the office LAN, say).

Checked twice: when a channel is saved (an address literal, or `localhost`, is refused with a
422 naming `url`) and before every attempt, on what the host resolves to then (a name can be
repointed after it was saved). Redirects are never followed. See docs/decisions/0034.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# the URLs to try in turn (one per address), the extra headers (Host) and the httpx request
# extensions (sni_hostname) that make each a request to the host as written
Pinned = tuple[list[str], dict[str, str], dict[str, Any]]
SETTING = "MONITOR_WEBHOOK_ALLOWED_NETWORKS"
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


class RefusedAddress(Exception):
    """The URL's host is, or resolves to, an address a webhook may not be sent to."""


def networks(text: str) -> tuple[Network, ...]:
    """The setting's value: networks (or single addresses) separated by commas or spaces."""
    found: list[Network] = []
    for item in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network, e.g. 10.20.0.0/16") from None
    return tuple(found)


def is_allowed(address: Address, allowed: Sequence[Network]) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    address = mapped or address  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address.version == net.version and address in net for net in allowed):
        return True
    return address.is_global and not address.is_multicast


def refusal(host: str, addresses: Iterable[Address], allowed: Sequence[Network]) -> str | None:
    """Why this host may not be sent to (its first refused address), or None."""
    refused = sorted((a for a in addresses if not is_allowed(a, allowed)), key=str)
    if not refused:
        return None
    what = host if literal(host) == refused[0] else f"{host} resolves to {refused[0]}, which"
    return (
        f"{what} is not a public address and is outside {SETTING}; "
        "a webhook may not be sent into the service's own host or network"
    )


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_saved(url: str, allowed: Sequence[Network]) -> str | None:
    """At save time: the host as written (an address literal or a local name), no lookup."""
    host = httpx.URL(url).host
    address = literal(host)
    if address is not None:
        return refusal(host, [address], allowed)
    if host.lower().rstrip(".") in LOCAL_NAMES:
        return refusal(host, [ipaddress.ip_address("127.0.0.1")], allowed)
    return None


async def pinned(url: str, allowed: Sequence[Network]) -> Pinned:
    """Before an attempt: every address the host resolves to now must be allowed. Answers the
    URL with its host replaced by each of them, in the resolver's order (tried in turn, as a
    connection to a name would be), and the `Host` header and TLS server name of the URL as
    written: the request goes to an address checked, not to whatever a second lookup answers.
    Raises RefusedAddress, or OSError when the name does not resolve (either way the attempt
    fails, and is retried)."""
    parsed = httpx.URL(url)
    host = parsed.host
    address = literal(host)
    if address is not None:  # nothing to look up, nothing to pin
        reason = refusal(host, [address], allowed)
        if reason is not None:
            raise RefusedAddress(reason)
        return [url], {}, {}
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    name = parsed.raw_host.decode("ascii")  # an internationalised name as DNS has it
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    reason = refusal(host, addresses, allowed)
    if reason is not None:
        raise RefusedAddress(reason)
    targets = [str(parsed.copy_with(host=str(address))) for address in addresses]
    extensions = {"sni_hostname": name} if parsed.scheme == "https" else {}
    return targets, {"Host": parsed.netloc.decode("ascii")}, extensions
