"""Where a webhook may point: http or https to a public address, unless DID_FAILOVER_WEBHOOK_ALLOW
names the (private) network. Checked when a subscription is made and again, on the address actually
connected to, at every delivery (a name that later resolves inside the network is refused then)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastagi.server import IPNetwork

MAX_URL = 2000
"""The longest webhook URL taken (characters)."""


class UrlRefused(ValueError):
    """A webhook URL or address that is not allowed; the message says why, in one line."""


def check_url(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of a webhook URL; UrlRefused naming what is wrong with it."""
    if len(url) > MAX_URL:
        raise UrlRefused(f"longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UrlRefused("must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"must start with http:// or https://, got {url[:40]!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not hold a user name or password (the signature authenticates us)")
    if parts.fragment:
        raise UrlRefused("must not have a #fragment")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UrlRefused(f"has a port that is not a number 1..65535: {parts.netloc[:60]!r}") from None
    if not host:
        raise UrlRefused("has no host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def address_problem(address: str, allow: Sequence[IPNetwork]) -> str | None:
    """Why a webhook may not connect to `address`, None when it may: only public addresses, and those
    of the networks `allow` names."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allow):
        return None
    if ip.is_global:
        return None
    kind = (
        "a loopback"
        if ip.is_loopback
        else "a link-local"
        if ip.is_link_local
        else "a private"
        if ip.is_private
        else "a non-public"
    )
    return (
        f"{ip} is {kind} address; webhooks reach only public addresses unless "
        "DID_FAILOVER_WEBHOOK_ALLOW names its network"
    )


async def resolve(host: str, port: int, allow: Sequence[IPNetwork]) -> str:
    """An address of `host` a webhook may connect to; UrlRefused when it resolves to none, or only to
    addresses that are not allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused(f"host {host[:60]} does not resolve") from None
    problems = []
    for info in infos:
        address = str(info[4][0])
        problem = address_problem(address, allow)
        if problem is None:
            return address
        problems.append(problem)
    raise UrlRefused(problems[0] if problems else f"host {host[:60]} does not resolve")
