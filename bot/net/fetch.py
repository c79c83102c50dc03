"""Download audio from a URL with aiohttp: bounded in size and time, redirects re-checked."""

from __future__ import annotations

import logging

import aiohttp
from yarl import URL

from bot.net.guards import (
    PublicOnlyResolver,
    UrlRefusedError,
    check_public_host,
    parse_fetch_url,
)

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """The audio could not be downloaded."""


class TooLargeError(FetchError):
    """The audio is larger than the limit."""


class UrlFetcher:
    """Downloads audio into memory. Create and use it inside a running event loop."""

    def __init__(
        self,
        *,
        max_bytes: int,
        allow_private: bool = False,
        timeout: float = 60.0,
        max_redirects: int = 5,
    ) -> None:
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, raw_url: str) -> bytes:
        """The body of `raw_url`; `UrlRefusedError`, `TooLargeError` or `FetchError` otherwise."""
        url = parse_fetch_url(raw_url)
        session = self._get_session()
        # Redirects are followed by hand so that every hop's host goes through the guard.
        for _ in range(self._max_redirects + 1):
            await self._check(url)
            try:
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = response.url.join(URL(response.headers["Location"]))
                        parse_fetch_url(str(url))
                        continue
                    if response.status != 200:
                        raise FetchError(f"fetching the url failed with HTTP {response.status}")
                    return await self._read(response)
            except UrlRefusedError:
                raise
            except (aiohttp.ClientError, TimeoutError) as error:
                raise FetchError(
                    f"could not fetch the url: {error or type(error).__name__}"
                ) from None
        raise FetchError("fetching the url: too many redirects")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _check(self, url: URL) -> None:
        if not self.allow_private:
            assert url.host is not None  # parse_fetch_url guarantees a host
            await check_public_host(url.host, url.port)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise TooLargeError(f"the audio is larger than {self.max_bytes} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.max_bytes:
                raise TooLargeError(f"the audio is larger than {self.max_bytes} bytes")
        return bytes(body)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=None if self.allow_private else PublicOnlyResolver()
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session
