"""The AIML speech-to-text job API (docs/aiml-stt-api.md §1, §4-§6), served by the local engine.

`POST /v1/stt/create` takes JSON with a `url`, or multipart with an `audio` (or `file`) part,
and answers 201 `{"generation_id"}`. `GET /v1/stt/{generation_id}` answers
`{"generation_id", "status", "result", "error"}` with status waiting, active, completed or
error, and a Deepgram-shaped result once completed. Errors carry the API's body:
`{"message", "path", "requestId", "statusCode", "timestamp"}`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import BodyPartReader, web

from bot.audio.sniff import sniff_audio
from bot.local.backend import AIML_WHISPER_PREFIX, AIML_WHISPER_SIZES, LOCAL_PREFIX, LocalBackend
from bot.local.config import LOCAL_SIZES
from bot.local.engine import EngineClosedError, QueueFullError
from bot.net.fetch import FetchError, TooLargeError, UrlFetcher
from bot.net.guards import UrlRefusedError
from bot.server.rendering import transcript_to_deepgram
from bot.stt.errors import NotFoundError, UnsupportedModelError
from bot.stt.types import AudioUpload, JobRequest

logger = logging.getLogger(__name__)

MODEL_IDS: tuple[str, ...] = (
    *(f"{AIML_WHISPER_PREFIX}{size}" for size in AIML_WHISPER_SIZES),
    *(f"{LOCAL_PREFIX}{size}" for size in LOCAL_SIZES),
)
AUTH_MESSAGE = (
    "This request requires a valid API key. "
    "You can create a new API key on the Billing page: https://aimlapi.com/app/keys"
)
VALIDATION_MESSAGE = "Body validation error!"
STATUS_MESSAGES: Mapping[int, str] = {
    400: VALIDATION_MESSAGE,
    401: AUTH_MESSAGE,
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_FORM_FIELD_LIMIT = 64 * 1024  # bytes of a text field in a multipart form
# The fields we use; Deepgram options the bot's client also sends (punctuate, ...) are ignored.
_FORM_FIELDS = frozenset({"model", "url", "language"})
_JSON_LIMIT = 1024 * 1024  # JSON bodies only carry a URL and a few options
_MULTIPART_SLACK = 1024 * 1024  # form overhead allowed on top of --max-upload-bytes
_RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    keys: frozenset[str] = frozenset()  # bearer keys; empty means no authentication
    allow_private_urls: bool = False
    max_upload_bytes: int = 25_000_000
    # A poll of an unfinished job waits up to this long for it to finish before answering.
    # Clients that poll on a fixed period (the docs' examples: 10 s) then get the result on
    # their first poll instead of one period late.
    poll_hold_seconds: float = 0.0
    fetch_timeout: float = 60.0


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class _CreateForm:
    model: str | None = None
    url: str | None = None
    language: str | None = None
    audio: bytes | None = None
    filename: str | None = None
    content_type: str | None = None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class JobApi:
    """The routes' logic, over a `LocalBackend` the caller owns (and closes)."""

    def __init__(
        self, backend: LocalBackend, config: ServerConfig, fetcher: UrlFetcher | None = None
    ) -> None:
        self.backend = backend
        self.config = config
        self.fetcher = fetcher or UrlFetcher(
            max_bytes=config.max_upload_bytes,
            allow_private=config.allow_private_urls,
            timeout=config.fetch_timeout,
        )

    async def create(self, request: web.Request) -> web.Response:
        form = await self._read_form(request)
        model = _validate_model(form.model)
        if form.url is not None and form.audio is not None:
            raise ApiError(400, f"{VALIDATION_MESSAGE} Send either url or audio, not both")
        if form.audio is not None:
            data = form.audio
        elif form.url is not None:
            data = await self._download(form.url)
        else:
            raise ApiError(400, f"{VALIDATION_MESSAGE} url or audio is required")
        if not data:
            raise ApiError(400, f"{VALIDATION_MESSAGE} audio is empty")

        sniffed = sniff_audio(data)
        upload = AudioUpload(
            data=data,
            filename=f"audio.{sniffed.extension}" if sniffed else (form.filename or "audio"),
            mime_type=sniffed.mime_type
            if sniffed
            else (form.content_type or "application/octet-stream"),
        )
        params = {"language": form.language} if form.language else {}
        try:
            generation_id = self.backend.submit_nowait(upload, JobRequest(model, params))
        except QueueFullError:
            raise ApiError(
                429, "Too Many Requests", {"Retry-After": _RETRY_AFTER_SECONDS}
            ) from None
        except UnsupportedModelError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} {error}") from None
        except EngineClosedError:
            raise ApiError(503, "Service unavailable") from None
        logger.info(
            "job %s: %s, %d bytes of %s (sent as %r, %s)",
            generation_id,
            model,
            len(data),
            sniffed.name if sniffed else "unrecognised audio",
            form.filename,
            form.content_type,
        )
        return web.json_response(
            {"generation_id": generation_id},
            status=201,
            headers={"x-inference-id": generation_id},
        )

    async def fetch(self, request: web.Request) -> web.Response:
        generation_id = request.match_info["generation_id"]
        try:
            stored = self.backend.job(generation_id)
        except NotFoundError:
            raise ApiError(404, f"Generation {generation_id} not found or expired") from None
        job = stored.job
        if self.config.poll_hold_seconds > 0 and not job.done():
            await _wait_done(job.result(), self.config.poll_hold_seconds)
        body: dict[str, object] = {
            "generation_id": generation_id,
            "status": job.state,
            "result": None,
            "error": None,
        }
        transcript = job.transcript()
        if transcript is not None:
            model_name = transcript.model or f"{LOCAL_PREFIX}{stored.size}"
            body["result"] = transcript_to_deepgram(transcript, model_name, generation_id)
        error = job.error()
        if error is not None:
            body["error"] = {"name": type(error).__name__, "message": str(error)}
        return web.json_response(body, headers={"x-inference-id": generation_id})

    async def close(self, _app: web.Application) -> None:
        await self.fetcher.close()

    def authorised(self, request: web.Request) -> bool:
        if not self.config.keys:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        offered = token.strip().encode()
        # Compare against every key in constant time, so timing reveals neither key nor match.
        matches = [hmac.compare_digest(offered, key.encode()) for key in self.config.keys]
        return any(matches)

    async def _download(self, url: str) -> bytes:
        try:
            return await self.fetcher.fetch(url)
        except UrlRefusedError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} url: {error}") from None
        except TooLargeError as error:
            raise ApiError(413, str(error)) from None
        except FetchError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} url: {error}") from None

    async def _read_form(self, request: web.Request) -> _CreateForm:
        content_type = request.content_type
        if content_type == "multipart/form-data":
            return await self._read_multipart(request)
        if content_type == "application/json":
            return await _read_json(request)
        if content_type == "application/x-www-form-urlencoded":
            fields = await request.post()
            return _CreateForm(
                model=_text(fields.get("model")),
                url=_text(fields.get("url")),
                language=_text(fields.get("language")),
            )
        raise ApiError(
            400, f"{VALIDATION_MESSAGE} Expected application/json or multipart/form-data"
        )

    async def _read_multipart(self, request: web.Request) -> _CreateForm:
        limit = self.config.max_upload_bytes
        if request.content_length is not None and request.content_length > limit + _MULTIPART_SLACK:
            raise ApiError(413, f"the upload is larger than {limit} bytes")
        fields: dict[str, str] = {}
        audio: bytes | None = None
        filename: str | None = None
        content_type: str | None = None
        field_bytes = 0
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, f"{VALIDATION_MESSAGE} nested multipart is not supported")
            if part.name in ("audio", "file"):
                if audio is not None:
                    raise ApiError(400, f"{VALIDATION_MESSAGE} send one audio file")
                audio = await _read_part(
                    part, limit, 413, f"the upload is larger than {limit} bytes"
                )
                filename = part.filename
                content_type = part.headers.get("Content-Type")
            elif part.name:
                raw = await _read_part(part, _FORM_FIELD_LIMIT, 400, f"{part.name} is too long")
                field_bytes += len(raw)
                if field_bytes > _MULTIPART_SLACK:  # many small fields add up too
                    raise ApiError(413, "the form fields are too large")
                if part.name in _FORM_FIELDS:
                    fields[part.name] = raw.decode("utf-8", "replace")
            else:
                await part.release()
        return _CreateForm(
            model=fields.get("model"),
            url=fields.get("url") or None,
            language=fields.get("language") or None,
            audio=audio,
            filename=filename,
            content_type=content_type,
        )


async def _wait_done(result: Awaitable[object], seconds: float) -> None:
    """Wait up to `seconds` for `result`, ignoring its outcome (the job's state reports it)."""
    waiter = asyncio.ensure_future(result)
    try:
        await asyncio.wait([waiter], timeout=seconds)
    finally:
        if waiter.done():
            if not waiter.cancelled():
                waiter.exception()  # retrieved, so asyncio does not log it as unhandled
        else:
            waiter.cancel()  # stops waiting only: the job itself is shielded and goes on


async def _read_json(request: web.Request) -> _CreateForm:
    if request.content_length is not None and request.content_length > _JSON_LIMIT:
        raise ApiError(413, "the request body is too large")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, f"{VALIDATION_MESSAGE} the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"{VALIDATION_MESSAGE} Expected object")
    values: dict[str, str | None] = {}
    for name in ("model", "url", "language"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(
                400, f"{VALIDATION_MESSAGE} {name}: Expected string, received {_json_type(value)}"
            )
        values[name] = value or None
    return _CreateForm(model=values["model"], url=values["url"], language=values["language"])


async def _read_part(part: BodyPartReader, limit: int, status: int, message: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise ApiError(status, message)
    return bytes(data)


def _validate_model(model: str | None) -> str:
    if not model:
        raise ApiError(400, f"{VALIDATION_MESSAGE} model: Required")
    if model not in MODEL_IDS:
        expected = " | ".join(f"'{model_id}'" for model_id in MODEL_IDS)
        raise ApiError(
            400,
            f"{VALIDATION_MESSAGE} model: Invalid enum value. Expected {expected}, "
            f"received '{model}'",
        )
    return model


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def error_body(request: web.Request, status: int, message: str) -> dict[str, object]:
    return {
        "message": message,
        "path": request.path,
        "requestId": str(uuid.uuid4()),
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


API_KEY = web.AppKey("job_api", JobApi)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        status, message, headers = error.status, error.message, error.headers
    except web.HTTPException as error:
        if error.status < 400:
            raise
        status, message, headers = error.status, STATUS_MESSAGES.get(error.status, error.reason), {}
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        status, message, headers = 500, STATUS_MESSAGES[500], {}
    return web.json_response(error_body(request, status, message), status=status, headers=headers)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.app[API_KEY].authorised(request):
        raise ApiError(401, AUTH_MESSAGE)
    return await handler(request)


def create_app(
    backend: LocalBackend,
    config: ServerConfig | None = None,
    *,
    fetcher: UrlFetcher | None = None,
) -> web.Application:
    """The job API over `backend`. The caller owns the backend: the app never closes it."""
    api = JobApi(backend, config or ServerConfig(), fetcher)
    # client_max_size bounds bodies read whole (JSON, url-encoded forms); uploads are streamed
    # and bounded by max_upload_bytes in the handler.
    app = web.Application(middlewares=[_errors, _auth], client_max_size=_JSON_LIMIT)
    app[API_KEY] = api
    app.router.add_post("/v1/stt/create", api.create)
    app.router.add_get("/v1/stt/{generation_id}", api.fetch)
    app.on_cleanup.append(api.close)
    return app
