"""Who is asking and from where: the acting context passed from boundaries into services.

The client's address is decided here and only here (:func:`client_address`), for every use of
it: the audit trail (``RequestInfo``), allauth's sign-in rate limits and its sessions page (the
account adapter's ``get_client_ip``), an API token's last use, and a websocket's token
(:func:`scope_client_ip`). ``X-Forwarded-For`` is believed only when the connection comes from a
proxy named in ``COMMONROOM_TRUSTED_PROXIES`` (addresses or networks; empty by default: nobody is
trusted, the connection's own address is the client). The list is then read from its right-hand
end, where the nearest proxy wrote, skipping the trusted proxies: the first address that is not
one of them is the client. What a client writes into the header itself can only stand to the
left of that, so a forged header changes nothing. uvicorn does not rewrite addresses (``serve``
runs it with ``proxy_headers=False``): see decision 23
(docs/decisions/0023-sign-in-throttling-and-trusted-proxies.md).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RequestInfo:
    """Where an action came from, for the audit trail. Empty for commands and tasks."""

    ip: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> RequestInfo:
        return cls(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:500])


SYSTEM = RequestInfo()


def client_ip(request: HttpRequest) -> str:
    """The client's address as this installation trusts it (see the module's docstring)."""
    return client_address(
        str(request.META.get("REMOTE_ADDR", "")), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def scope_client_ip(scope: dict[str, Any]) -> str:
    """The same for an ASGI connection (a websocket): its peer and its headers."""
    peer = (scope.get("client") or ("",))[0] or ""
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.lower() == b"x-forwarded-for"
    ]
    return client_address(str(peer), ", ".join(forwarded))


def client_network(ip: str, *, ipv6_prefix: int = 64) -> str:
    """A client as rate limits count it: an IPv6 address by its network (``ipv6_prefix``, /64:
    one subscriber holds a whole one, so counting single addresses counts nothing), anything
    else as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/{ipv6_prefix}", strict=False).network_address)
    return ip


def client_address(peer: str, forwarded_for: str) -> str:
    """The client of a connection from ``peer`` that carried ``forwarded_for`` (the
    ``X-Forwarded-For`` values, comma-separated). When every address in the list is a trusted
    proxy too, the leftmost is the client; an entry that is not an address ends the walk at
    the last address read, which is the one that wrote it."""
    peer_address = _address(peer)
    if peer_address is None:
        return peer[:64]
    trusted = trusted_networks(tuple(settings.COMMONROOM_TRUSTED_PROXIES))
    if not _is_trusted(peer_address, trusted):
        if forwarded_for and _looks_like_a_proxy(peer_address):
            _warn_untrusted_proxy(peer_address)
        return str(peer_address)
    client = peer_address
    for entry in reversed(forwarded_for.split(",")):
        if not entry.strip():
            continue
        address = _address(entry)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``COMMONROOM_TRUSTED_PROXIES`` as networks (an address is a network of one); settings.py
    has already refused an entry that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def _address(text: str) -> Address | None:
    """An address as written in REMOTE_ADDR or X-Forwarded-For: bare, ``a.b.c.d:port`` or
    ``[v6]:port`` (some proxies add the port); an IPv4 address mapped into IPv6 is the IPv4
    one. None for anything else (``unknown``, a Unix socket, an obfuscated name)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _looks_like_a_proxy(address: Address) -> bool:
    return address.is_loopback or address.is_private


_warned: set[str] = set()


def _warn_untrusted_proxy(address: Address) -> None:
    """Once per process and address: a proxy on this machine or the local network that nobody
    named makes every client behind it one client, for the sign-in limits and the trail."""
    if str(address) in _warned:
        return
    _warned.add(str(address))
    log.warning(
        "Requests from %s carry X-Forwarded-For, but COMMONROOM_TRUSTED_PROXIES does not name "
        "it: every client behind it counts as %s for the sign-in limits and the audit trail. If "
        "it is your reverse proxy, name it there.",
        address,
        address,
    )
