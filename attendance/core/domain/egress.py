"""Where the service may send a tenant's data: the rules for a receiver's URL and address. Pure.

A webhook or connector URL is typed by a tenant admin, so it is an attacker's way into the
service's own network (server-side request forgery): the cloud metadata address, the database,
an admin port on loopback. Only public addresses are allowed, and only over ``https``, unless the
operator allows private networks for an on-premises receiver. The same check runs when a URL is
added and, on every address its name resolves to, when a connection is made (so DNS that changes
its answer after the URL was accepted gets nowhere).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from attendance.core.domain.model import DomainError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
USE_PUBLIC = (
    "Use the receiver's public https address (for a receiver on a private network, whoever runs this "
    "server sets ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS)."
)


class DestinationRefused(DomainError):
    """The URL or address is not one the service sends data to; the message says why."""


def is_public(address: IpAddress) -> bool:
    """A globally routed unicast address: not loopback, private, link-local (the metadata
    address 169.254.169.254 included), unique-local, multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("64:ff9b::/96"):
        return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))  # NAT64 of an IPv4 address
    return address.is_global and not address.is_multicast


def check_address(text: str, *, allow_private: bool) -> IpAddress:
    """The address, or ``DestinationRefused`` when it is not public (and private ones are not allowed)."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if not allow_private and not is_public(address):
        raise DestinationRefused(f"{address} is not a public internet address. {USE_PUBLIC}")
    return address


def check_destination(url: str, *, allow_private: bool) -> str:
    """The URL, stripped, if the service may send to it: ``https`` (``http`` only with private
    networks allowed), no credentials in it, and a host that is not a private address or name."""
    url = url.strip()
    if len(url) > 2048:
        raise DestinationRefused("that URL is longer than 2,048 characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise DestinationRefused(f"{url!r} is not a URL") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in ("https", "http") or not host:
        raise DestinationRefused(f"{url!r} is not an http(s) URL")
    if parts.scheme not in schemes:
        raise DestinationRefused(
            "receivers must use https (plain http only for an on-premises receiver, which whoever runs this server "
            "allows with ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS)"
        )
    if parts.username or parts.password:
        raise DestinationRefused("put credentials in the subscription's settings, not in its URL")
    try:
        check_address(host, allow_private=allow_private)
    except ValueError:  # a name, not an address literal
        name = host.rstrip(".").lower()
        if not allow_private and (name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES) or "." not in name):
            raise DestinationRefused(f"{host} is a local name, not a public internet host. {USE_PUBLIC}") from None
    return url
