"""Who the client of an HTTP request is: for login lockouts and for loopback-only endpoints.

The peer of the TCP connection is the client, unless that peer is a reverse proxy we were told
to trust (``TRUSTED_PROXIES``; by default only this machine, where an nginx or Caddy in front of
the web service runs). Only then does ``X-Forwarded-For`` count, and it is read from the right:
each trusted proxy appends the address it received the request from, so the rightmost address
that is not a trusted proxy is the client, and everything left of it was written by that client
and may be forged. Believing the header from anyone else would let an attacker choose the address
his failed logins count against, or claim to be 127.0.0.1 to read ``/metrics`` (issue 18); not
reading it behind a proxy would make every visitor one address, so one guesser would lock every
officer out.

Lockouts count an IPv6 client by its /64: one host usually holds a whole /64 and could otherwise
take a fresh address for every guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from bot.settings import DEFAULT_TRUSTED_PROXIES

__all__ = [
    "DEFAULT_TRUSTED_PROXIES",
    "Network",
    "client_address",
    "forwarded_for",
    "is_loopback",
    "lockout_address",
    "parse_trusted",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: This machine only: a reverse proxy on the same host (the profile's HAProxy).
#: IPv6 clients are counted by this prefix (see the module docstring).
IPV6_LOCKOUT_PREFIX = 64


@lru_cache(maxsize=32)
def parse_trusted(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` as networks; ``"none"`` (or nothing) trusts no proxy.

    A malformed entry raises ``ValueError`` so a typo stops the process at start-up instead of
    silently trusting, or distrusting, a proxy.
    """
    entries = [part.strip() for part in spec.replace(";", ",").split(",") if part.strip()]
    if [e.lower() for e in entries] == ["none"]:
        return ()
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _ip(text: str | None) -> IPAddress | None:
    """An address as a proxy or socket reports it (``[::1]``, ``fe80::1%eth0``), else None."""
    if not text:
        return None
    raw = text.strip()
    if raw.startswith("[") and "]" in raw:
        raw = raw[1 : raw.index("]")]
    try:
        ip = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:203.0.113.7 is 203.0.113.7 (dual-stack sockets)
    return ip


def _trusted(ip: IPAddress, trusted: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in trusted)


def forwarded_for(headers: Any) -> list[str]:
    """Every ``X-Forwarded-For`` value of an aiohttp or Sanic header multidict, in order."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [str(v) for v in getall("X-Forwarded-For", [])]
    value = headers.get("X-Forwarded-For")
    return [str(value)] if value else []


def client_address(
    peer: str | None, forwarded: Iterable[str] | None, trusted: Sequence[Network]
) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy (module docstring)."""
    peer_ip = _ip(peer)
    if peer_ip is None:
        return peer or "unknown"  # a Unix socket: nothing to read the header against
    client = peer_ip
    if not _trusted(peer_ip, trusted):
        return str(client)
    hops = [hop.strip() for value in forwarded or () for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # not written by a proxy we trust: the last trusted hop is all we know
        client = ip
        if not _trusted(ip, trusted):
            break
    return str(client)


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine (127.0.0.0/8, ::1)."""
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def lockout_address(address: str) -> str:
    """What failed logins are counted against: the address, or an IPv6 address's /64."""
    ip = _ip(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and not ip.is_loopback:
        net = ipaddress.IPv6Network((int(ip), IPV6_LOCKOUT_PREFIX), strict=False)
        return str(net)
    return str(ip)
