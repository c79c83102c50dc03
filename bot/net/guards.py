"""Keep URL jobs away from private networks (server-side request forgery).

A job's `url` is fetched by the server, so an unchecked URL could reach services that only the
server's own network can see. Every address a host resolves to is checked, and the same check
runs inside the HTTP client's resolver, so a host that re-resolves to a private address between
the check and the connection (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefusedError(ValueError):
    """The URL is not one the server may fetch."""


def is_public_address(address: str | IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def parse_fetch_url(raw: str) -> URL:
    """A URL with an http(s) scheme and a host, or `UrlRefusedError`."""
    try:
        url = URL(raw)
    except (TypeError, ValueError):
        raise UrlRefusedError("the url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UrlRefusedError("the url must be an http:// or https:// URL with a host")
    return url


async def check_public_host(host: str, port: int | None) -> None:
    """Resolve `host` and refuse it unless every address it has is public."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[str] = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
        except OSError as error:
            raise UrlRefusedError(f"cannot resolve the url's host {host!r}: {error}") from None
        addresses = [str(info[4][0]) for info in infos]
    _refuse_private(host, addresses)


def _refuse_private(host: str, addresses: list[str]) -> None:
    if not addresses:
        raise UrlRefusedError(f"the url's host {host!r} has no address")
    for address in addresses:
        if not is_public_address(address):
            logger.warning("refused a URL job: %s resolves to %s", host, address)
            raise UrlRefusedError(
                f"refusing to fetch from {host!r}: it resolves to a non-public address"
            )


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that fails for any host with a non-public address."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        _refuse_private(host, [result["host"] for result in results])
        return results

    async def close(self) -> None:
        await self._inner.close()
