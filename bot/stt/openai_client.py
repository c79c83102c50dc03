"""A thin client for an OpenAI-compatible `POST {base}/audio/transcriptions`.

OpenAI itself, Groq, vLLM, speaches and LocalAI all take OpenAI's multipart request: `file`,
`model`, `language`, `response_format` (`json`, or `verbose_json` with
`timestamp_granularities[]` for segments and words), and answer the transcript in the same
request. Errors come as `{"error": {"message", "type", "param", "code"}}` (FastAPI-based servers
send `{"detail": ...}`, vLLM `{"message", ...}`: all are read).

It makes exactly one HTTP request per call and turns every failure into a typed `SttError`;
retrying belongs to the backend on top of it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

import aiohttp

from bot.redaction import Redactor
from bot.stt.client import parse_retry_after
from bot.stt.errors import (
    AuthError,
    MalformedResponseError,
    NetworkError,
    OutOfCreditsError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    SttError,
    SttTimeoutError,
    UnsupportedModelError,
    ValidationError,
)
from bot.stt.types import AudioUpload

logger = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
TRANSCRIPTIONS_PATH = "/audio/transcriptions"
_MAX_MESSAGE = 500  # characters of an error body quoted in an exception
# OpenAI answers 429 both for "slow down" and for "your account has no credit left"; only the
# first passes by waiting.
_NO_CREDIT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


class OpenAiSttClient:
    """One request per call; raises typed `SttError`s. The API key never leaves the headers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str | None,
        *,
        request_timeout: float = 3600.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + TRANSCRIPTIONS_PATH
        self._api_key = api_key
        self._redactor = Redactor([api_key or ""])
        # The answer comes when the whole recording is transcribed, so a long silence after
        # the upload is normal: no read timeout, only the total (and the job's own limit).
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)

    def __repr__(self) -> str:
        return f"OpenAiSttClient(url={self._url!r})"

    async def transcribe(
        self, audio: AudioUpload, model: str, *, language: str | None, verbose: bool
    ) -> object:
        """The server's JSON answer for `audio`. `verbose`: ask for verbose_json with segment
        and word timestamps, else plain json."""
        form = aiohttp.FormData()
        form.add_field("model", model)
        if language:
            form.add_field("language", language)
        if verbose:
            form.add_field("response_format", "verbose_json")
            # Both, or OpenAI leaves out the segments (a word-only answer has none).
            form.add_field("timestamp_granularities[]", "word")
            form.add_field("timestamp_granularities[]", "segment")
        else:
            form.add_field("response_format", "json")
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        what = f"POST {TRANSCRIPTIONS_PATH}"
        started = time.monotonic()
        try:
            # A file is streamed from disk as it is sent (AudioUpload.open), never read whole.
            with audio.open() as file:
                form.add_field("file", file, filename=audio.filename, content_type=audio.mime_type)
                async with self._session.post(
                    self._url, data=form, headers=headers, timeout=self._timeout
                ) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:  # asyncio's and aiohttp's timeouts both subclass it
            raise SttTimeoutError(f"{what} timed out") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(self._redactor(f"{what} failed: {exc!r}")) from exc
        logger.debug(
            "%s %s -> %d in %.3fs (%d bytes)",
            what,
            model,
            status,
            time.monotonic() - started,
            len(body),
        )
        if not 200 <= status < 300:
            raise self._http_error(status, body, retry_after, what)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise MalformedResponseError(f"{what}: answer is not JSON") from exc

    def _http_error(self, status: int, body: bytes, retry_after: str | None, what: str) -> SttError:
        message, code = _error_details(body)
        text = self._redactor(f"{what}: HTTP {status}: {message}")
        if status == 413:
            return PayloadTooLargeError(text, status=status)
        if status in (400, 415, 422):
            return ValidationError(text, status=status)
        if status in (401, 403):
            return AuthError(text, status=status)
        if status == 404:
            # No job ids here: a 404 is an unknown model, or a base URL that is not the API's.
            return UnsupportedModelError(text, status=status)
        if status == 408:
            return SttTimeoutError(text, status=status)
        if status == 429:
            if code in _NO_CREDIT_CODES:
                return OutOfCreditsError(text, status=status)
            return RateLimitedError(text, retry_after=parse_retry_after(retry_after))
        if status >= 500:
            return ServerError(text, status=status)
        return SttError(text, status=status)


def _error_details(body: bytes) -> tuple[str, str | None]:
    """The server's message and error code, from whichever error shape it uses."""
    text = body.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE], None
    if not isinstance(decoded, Mapping):
        return text[:_MAX_MESSAGE], None
    error = decoded.get("error")
    source: Mapping[str, object] = error if isinstance(error, Mapping) else decoded
    message = source.get("message")
    if message is None:
        message = decoded.get("detail", error)  # FastAPI: {"detail": "..."} or a list
    if message is None:
        message = text
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False, default=str)
    code = source.get("code")
    return message[:_MAX_MESSAGE], code if isinstance(code, str) else None
