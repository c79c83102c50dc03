"""A thin client for AIML's STT job API: create a job, fetch its state (docs/aiml-stt-api.md).

It makes exactly one HTTP request per call and turns every failure into a typed `SttError`;
retrying and polling belong to the backend on top of it.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

import aiohttp

from bot.redaction import Redactor
from bot.stt.errors import (
    AuthError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    OutOfCreditsError,
    RateLimitedError,
    ServerError,
    SttError,
    SttTimeoutError,
    ValidationError,
)
from bot.stt.reports import ApiCost, cost_from_headers
from bot.stt.types import AudioUpload

logger = logging.getLogger(__name__)

PollState = Literal["pending", "success", "failure"]

# The docs disagree on status names (§5.2); this is the union of everything seen or inferred.
PENDING_STATUSES = frozenset({"queued", "generating", "waiting", "active", "processing", "pending"})
SUCCESS_STATUSES = frozenset({"completed"})
FAILURE_STATUSES = frozenset({"error", "failed", "cancelled", "canceled", "timeout"})

_MAX_MESSAGE = 500  # characters of an error body quoted in an exception


@dataclass(frozen=True, slots=True)
class PollResponse:
    state: PollState
    status: str  # as the API sent it
    result: object | None
    error: str | None


def classify_status(status: str, result: object | None) -> PollState:
    """Pending, success or failure. An unknown status ends polling: success if it has a result."""
    normalised = status.strip().lower()
    if normalised in PENDING_STATUSES:
        return "pending"
    if normalised in SUCCESS_STATUSES:
        return "success"
    if normalised in FAILURE_STATUSES:
        return "failure"
    return "success" if result is not None else "failure"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _form_value(value: object) -> str:
    # Multipart fields are text; the gateway coerces "true"/"false" and numbers (docs §3.1).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _error_message(body: bytes) -> str:
    """The API's own message (§6: `{"message": ...}`), else the start of the raw body."""
    text = body.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE]
    if isinstance(decoded, Mapping):
        message = decoded.get("message")
        if isinstance(message, list):  # NestJS validation pipes send a list of messages
            message = "; ".join(str(m) for m in message)
        if message is not None:
            return str(message)[:_MAX_MESSAGE]
    return text[:_MAX_MESSAGE]


class AimlSttClient:
    """One request per call; raises typed `SttError`s. The API key never leaves the headers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        request_timeout: float = 30.0,
        upload_timeout: float = 180.0,
        connect_timeout: float = 10.0,
        answer_timeout: float = 15.0,
        on_cost: Callable[[str, ApiCost], None] | None = None,
    ) -> None:
        self._session = session
        # Told (generation id, cost) for each answer that carries the API's cost headers.
        self._on_cost = on_cost
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._redactor = Redactor([api_key])
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)
        # An upload of a long voice message on a slow link needs far longer than a poll; but
        # once the body is sent, the API answers with an id at once. Silence past `sock_read`
        # (timed from the end of the upload) means the request hangs: give up the attempt,
        # and with it the transfer slot, rather than wait out `total`.
        self._upload_timeout = aiohttp.ClientTimeout(
            total=upload_timeout, connect=connect_timeout, sock_read=answer_timeout
        )

    def __repr__(self) -> str:
        return f"AimlSttClient(base_url={self._base_url!r})"

    async def create_upload(
        self, audio: AudioUpload, model: str, params: Mapping[str, object]
    ) -> str:
        """Start a job on uploaded audio (multipart, file part `audio`); return its id.

        A file is streamed from disk in small chunks (aiohttp reads a file object as it sends),
        so memory stays flat whatever its size; each call reads it afresh from the start.
        """
        form = aiohttp.FormData()
        form.add_field("model", model)
        for name, value in params.items():
            if value is None or name == "model":
                continue
            form.add_field(name, _form_value(value))
        with audio.open() as body:
            form.add_field("audio", body, filename=audio.filename, content_type=audio.mime_type)
            data: aiohttp.FormData | aiohttp.BytesPayload = form
            if isinstance(body, io.BytesIO):
                # In memory already (a small file: AudioUpload.open), so it goes out whole, in
                # one write. Part by part, the form costs a socket write per piece (some
                # twenty for a voice note), and CPU with each.
                multipart = form()
                data = aiohttp.BytesPayload(
                    await multipart.as_bytes(), content_type=multipart.content_type
                )
            payload, cost = await self._request(
                "POST", "/stt/create", limits=self._upload_timeout, data=data
            )
        return self._reported(self._generation_id(payload), cost)

    async def create_from_url(self, url: str, model: str, params: Mapping[str, object]) -> str:
        """Start a job on audio the API downloads itself (JSON body); return its id."""
        body = {name: value for name, value in params.items() if value is not None}
        body.update(model=model, url=url)
        payload, cost = await self._request(
            "POST", "/stt/create", limits=self._timeout, json_body=body
        )
        return self._reported(self._generation_id(payload), cost)

    async def fetch(self, generation_id: str) -> PollResponse:
        """One poll of a job. Raises `NotFoundError` when the id is unknown or expired."""
        path = f"/stt/{quote(generation_id, safe='')}"
        payload, cost = await self._request("GET", path, limits=self._timeout)
        self._reported(generation_id, cost)
        if not isinstance(payload, Mapping):
            raise MalformedResponseError("poll answer is not a JSON object")
        status = payload.get("status")
        if not isinstance(status, str):
            raise MalformedResponseError("poll answer has no status")
        # The documented envelope says `result`; one schema says `output` (docs §5.1).
        result = payload.get("result")
        if result is None:
            result = payload.get("output")
        state = classify_status(status, result)
        return PollResponse(
            state=state,
            status=status,
            result=result,
            error=self._job_error(payload.get("error"), state, status),
        )

    @staticmethod
    def _job_error(raw: object, state: PollState, status: str) -> str | None:
        if isinstance(raw, Mapping):
            name, message = raw.get("name"), raw.get("message")
            parts = [str(p) for p in (name, message) if p not in (None, "")]
            text = ": ".join(parts) if parts else json.dumps(raw, default=str)
        elif raw in (None, ""):
            text = None
        else:
            text = str(raw)
        if text is None and state == "failure":
            text = f"job ended with status {status!r}"
        return None if text is None else text[:_MAX_MESSAGE]

    @staticmethod
    def _generation_id(payload: object) -> str:
        if isinstance(payload, Mapping):
            gid = payload.get("generation_id", payload.get("id"))
            if isinstance(gid, int) and not isinstance(gid, bool):
                gid = str(gid)
            if isinstance(gid, str) and gid:
                return gid
        raise MalformedResponseError("create answer has no generation_id")

    def _reported(self, generation_id: str, cost: ApiCost) -> str:
        if cost.known and self._on_cost is not None:
            self._on_cost(generation_id, cost)
        return generation_id

    def _redact(self, text: str) -> str:
        # An error page might echo the request back; the key must not reach logs via exceptions.
        return self._redactor(text)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        limits: aiohttp.ClientTimeout,
        data: aiohttp.FormData | aiohttp.BytesPayload | None = None,
        json_body: Mapping[str, object] | None = None,
    ) -> tuple[object, ApiCost]:
        """The decoded JSON answer, and the cost its headers report."""
        url = self._base_url + path
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        started = time.monotonic()
        try:
            async with self._session.request(
                method, url, headers=headers, timeout=limits, data=data, json=json_body
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
                cost = cost_from_headers(response.headers)
        except TimeoutError as exc:  # asyncio's and aiohttp's timeouts both subclass it
            raise SttTimeoutError(f"{method} {path} timed out") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(self._redact(f"{method} {path} failed: {exc!r}")) from exc
        logger.debug(
            "%s %s -> %d in %.3fs (%d bytes)",
            method,
            path,
            status,
            time.monotonic() - started,
            len(body),
        )
        if not 200 <= status < 300:
            raise self._http_error(status, body, retry_after, f"{method} {path}")
        try:
            return json.loads(body), cost
        except ValueError as exc:
            raise MalformedResponseError(f"{method} {path}: answer is not JSON") from exc

    def _http_error(self, status: int, body: bytes, retry_after: str | None, what: str) -> SttError:
        message = self._redact(f"{what}: HTTP {status}: {_error_message(body)}")
        if status == 400 or status in (413, 415, 422):
            return ValidationError(message, status=status)
        if status == 401:
            return AuthError(message, status=status)
        if status == 403:
            return OutOfCreditsError(message, status=status)
        if status == 404:
            return NotFoundError(message, status=status)
        if status == 408:
            return SttTimeoutError(message, status=status)
        if status == 429:
            return RateLimitedError(message, retry_after=parse_retry_after(retry_after))
        if status >= 500:
            return ServerError(message, status=status)
        return SttError(message, status=status)
