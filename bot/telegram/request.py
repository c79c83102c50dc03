"""python-telegram-bot's transport over aiohttp (a `telegram.request.BaseRequest`).

PTB's own transport, `HTTPXRequest`, spends most of the bot's CPU per Bot API call in httpx,
httpcore, anyio and h11 (httpcore's pool scans every connection on each request); aiohttp, which
the rest of the bot already uses, does the same work for a fraction of the CPU
(benchmarks/transport.py measures both). A request without files goes up as one JSON object, which
the Bot API takes as it takes form fields: one `json.dumps` of the whole, where a urlencoded form
JSON-encodes each field and then quotes it in Python. A request with files goes up as
HTTPXRequest's multipart form of JSON-encoded fields.

Failures keep the contract of bot/telegram/outcomes.py: a timeout raises `TimedOut`, any other
transport failure `NetworkError`, each `from` a `RequestNotSentError` when the request never left
whole (no connection, or its body not fully written: Telegram cannot have acted on it), else from
a `RequestMaybeSentError`. aiohttp's upload tracker tells the two apart. Neither message carries
the URL, which holds the bot token.

Timeouts map onto aiohttp's as closely as it allows:

- connect: `sock_connect`, opening one connection;
- pool: waiting for a free connection; aiohttp bounds that wait and the connect together
  (`connect`), so the bound is their sum;
- read: `sock_read`, the longest silence while the answer comes in; it starts once the request is
  written whole;
- write: aiohttp has none of its own. A request carrying files is bounded as a whole by the sum
  of all four, so a peer that stops reading an upload cannot hang it; other requests are a few
  kilobytes, which the socket buffer takes at once.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput, UploadFileDict
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = "application/json"
# How long a failed request's body writer may take to say whether it wrote everything.
WRITER_SETTLE_SECONDS = 1.0


class RequestNotSentError(Exception):
    """The request never left whole: no connection, or its body was not fully written."""


class RequestMaybeSentError(Exception):
    """The request was written whole and no full answer came back: it may have been acted on."""


def _pick(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*parts: float | None) -> float | None:
    """The sum of the bounds; None (no bound) when any of them is unbounded."""
    total = 0.0
    for part in parts:
        if part is None:
            return None
        total += part
    return total


async def _written_whole(tracker: aiohttp.UploadTracker) -> bool:
    """Whether the request left whole. A body writer still running when the answer failed is
    being torn down: its verdict comes within a moment; without one, assume the worst."""
    settled = tracker.upload_complete
    if not settled.done():
        await asyncio.wait([settled], timeout=WRITER_SETTLE_SECONDS)
    return not settled.done() or settled.exception() is None


async def _transport_failure(error: BaseException, tracker: aiohttp.UploadTracker) -> Exception:
    """The exception to raise the TelegramError from: its type says whether Telegram may have
    the request (see outcomes.py)."""
    name = type(error).__name__
    cause: Exception
    if not await _written_whole(tracker):
        cause = RequestNotSentError(f"aiohttp.{name}: the request never left whole")
    else:
        cause = RequestMaybeSentError(f"aiohttp.{name}: no full answer to a request sent whole")
    cause.__cause__ = error
    return cause


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a pool of `connection_pool_size` connections."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                # Telegram sets no cookies worth keeping; a jar would be parsed on every answer.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _pick(read_timeout, self._read_timeout)
        connect = _pick(connect_timeout, self._connect_timeout)
        pool = _pick(pool_timeout, self._pool_timeout)
        write = _pick(write_timeout, self._media_write_timeout if files else self._write_timeout)
        options: dict[str, Any] = {
            "timeout": aiohttp.ClientTimeout(
                total=_sum(connect, pool, write, read) if files else None,
                connect=_sum(connect, pool),
                sock_connect=connect,
                sock_read=read,
            )
        }
        if request_data is not None:
            if files:
                options["data"] = _multipart(request_data, files)
            else:
                options["data"] = json.dumps(
                    request_data.parameters, ensure_ascii=False, separators=(",", ":")
                ).encode()
                options["headers"] = {"Content-Type": _JSON}
        tracker = aiohttp.UploadTracker()
        try:
            async with session.request(method, url, upload_tracker=tracker, **options) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            # aiohttp's timeouts (ServerTimeoutError and its kinds) are TimeoutErrors too.
            raise TimedOut from await _transport_failure(error, tracker)
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}") from await _transport_failure(
                error, tracker
            )


def _multipart(request_data: RequestData, files: UploadFileDict) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
