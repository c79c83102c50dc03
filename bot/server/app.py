"""The AIML speech-to-text job API (docs/aiml-stt-api.md §1, §4-§6), served by the local engine.

`POST /v1/stt/create` takes JSON with a `url`, or multipart with an `audio` (or `file`) part,
and answers 201 `{"generation_id"}`. `GET /v1/stt/{generation_id}` answers
`{"generation_id", "status", "result", "error"}` with status waiting, active, completed or
error, and a Deepgram-shaped result once completed. Errors carry the API's body
(bot/server/errors.py).

Under load and abuse: a create is admitted (its key's rate and jobs in flight, then room on
the server) before a byte of its body is read or its URL fetched, and refused with 429 and
Retry-After otherwise; a job is seen by the key that created it only (404 to any other, so ids
reveal nothing); only the models the operator offers can be loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass

from aiohttp import HttpVersion11, hdrs, web

from bot.audio.duration import measure_duration
from bot.audio.sniff import sniff_audio
from bot.local.backend import (
    AIML_WHISPER_PREFIX,
    AIML_WHISPER_SIZES,
    LOCAL_PREFIX,
    EnginesBusyError,
    LocalBackend,
)
from bot.local.config import LOCAL_SIZES
from bot.local.engine import EngineClosedError
from bot.local.probe import probe_duration
from bot.net.fetch import FetchError, TooLargeError, UrlFetcher
from bot.net.guards import UrlRefusedError
from bot.server.errors import (
    STATUS_MESSAGES,
    VALIDATION_MESSAGE,
    ApiError,
    error_response,
    unauthorised,
)
from bot.server.forms import JSON_LIMIT, read_create_form
from bot.server.limits import IN_FLIGHT_RETRY_SECONDS, KeyLimits
from bot.server.rendering import transcript_to_deepgram
from bot.stt.errors import NotFoundError, RateLimitedError, UnsupportedModelError
from bot.stt.types import AudioUpload, JobRequest

logger = logging.getLogger(__name__)

# Every id the server knows. AIML's Whisper ids are served by the nearest size loaded without a
# hub; `local/<size>` loads exactly that size, so only the operator's list offers the big ones.
MODEL_IDS: tuple[str, ...] = (
    *(f"{AIML_WHISPER_PREFIX}{size}" for size in AIML_WHISPER_SIZES),
    *(f"{LOCAL_PREFIX}{size}" for size in LOCAL_SIZES),
)
ANONYMOUS = "anonymous"  # everybody's identity when the server runs without keys
DEFAULT_MAX_AUDIO_SECONDS = 3 * 3600.0


def default_models(available_sizes: Collection[str]) -> tuple[str, ...]:
    """The ids offered when the operator names none: all that never reach a model hub."""
    return (
        *(f"{AIML_WHISPER_PREFIX}{size}" for size in AIML_WHISPER_SIZES),
        *(f"{LOCAL_PREFIX}{size}" for size in LOCAL_SIZES if size in available_sizes),
    )


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
    # The model ids clients may ask for (SERVER_MODELS); empty: `default_models`.
    models: frozenset[str] = frozenset()
    max_audio_seconds: float | None = DEFAULT_MAX_AUDIO_SECONDS  # None: any length
    key_jobs_per_minute: int = 60
    key_jobs_in_flight: int = 8


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IDENTITY = web.RequestKey("identity", str)


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
        unknown = sorted(config.models - set(MODEL_IDS))
        if unknown:
            raise ValueError(f"the server does not know these models: {', '.join(unknown)}")
        self.models = tuple(
            model_id
            for model_id in MODEL_IDS
            if model_id in (config.models or default_models(backend.available_sizes))
        )
        self.limits = KeyLimits(
            per_minute=config.key_jobs_per_minute, in_flight=config.key_jobs_in_flight
        )
        # Creates admitted whose audio is still arriving (read or fetched): they hold a place
        # as a queued job does, so a crowd of them cannot all download at once.
        self._arriving: Counter[str] = Counter()
        # A key is known by a digest, never by itself, in memory maps and logs alike.
        self._identities = {key.encode(): _key_identity(key) for key in config.keys}

    # --- routes ------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        identity = request[IDENTITY]
        refusal = self._admission_refusal(identity)
        if refusal is not None:
            raise refusal
        self.limits.record(identity)
        with self._arriving_place(identity):
            return await self._create(request, identity)

    async def fetch(self, request: web.Request) -> web.Response:
        generation_id = request.match_info["generation_id"]
        not_found = ApiError(404, f"Generation {generation_id} not found or expired")
        try:
            stored = self.backend.job(generation_id)
        except NotFoundError:
            raise not_found from None
        if stored.owner != request[IDENTITY]:
            raise not_found  # the same answer as for an unknown id: ids reveal nothing
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
            body["result"] = transcript_to_deepgram(
                transcript, model_name, generation_id, created=stored.created_at
            )
        error = job.error()
        if error is not None:
            body["error"] = {"name": type(error).__name__, "message": str(error)}
        return web.json_response(body, headers={"x-inference-id": generation_id})

    async def expect_continue(self, request: web.Request) -> web.StreamResponse | None:
        """Answer `Expect: 100-continue` with the refusal the create would get, so a client
        that asks first never sends a body the server would not read."""
        if request.version != HttpVersion11:
            return None
        if request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
            raise web.HTTPExpectationFailed()
        identity = self.identity(request)
        refusal = unauthorised() if identity is None else self._admission_refusal(identity)
        if refusal is not None:
            response = error_response(request, refusal)
            response.force_close()  # the body never comes: nothing to wait for
            return response
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None

    async def close(self, _app: web.Application) -> None:
        await self.fetcher.close()

    @property
    def arriving(self) -> int:
        """Creates admitted whose audio is still being read or fetched."""
        return self._arriving.total()

    def identity(self, request: web.Request) -> str | None:
        """Who sends the request (a digest of its key), or None when it is not authorised."""
        if not self._identities:
            return ANONYMOUS
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        offered = token.strip().encode()
        # Compare against every key in constant time, so timing reveals neither key nor match.
        matches = [
            identity
            for key, identity in self._identities.items()
            if hmac.compare_digest(offered, key)
        ]
        return matches[0] if matches else None

    # --- admission ---------------------------------------------------------------------------

    def _admission_refusal(self, identity: str) -> ApiError | None:
        in_flight = self.backend.in_flight(identity) + self._arriving[identity]
        refusal = self.limits.refusal(identity, in_flight)
        if refusal is not None:
            return ApiError(
                429,
                f"Too Many Requests: {refusal.reason}",
                {"Retry-After": str(refusal.retry_after)},
            )
        if self.backend.pending + self.arriving >= self.backend.capacity:
            return _server_full()
        return None

    @contextlib.contextmanager
    def _arriving_place(self, identity: str) -> Iterator[None]:
        self._arriving[identity] += 1
        try:
            yield
        finally:
            self._arriving[identity] -= 1
            if self._arriving[identity] <= 0:
                del self._arriving[identity]

    # --- the create itself -------------------------------------------------------------------

    async def _create(self, request: web.Request, identity: str) -> web.Response:
        form = await read_create_form(request, self.config.max_upload_bytes)
        model = self._validate_model(form.model)
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
        await self._check_duration(data)

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
            generation_id = self.backend.submit_nowait(
                upload, JobRequest(model, params), owner=identity
            )
        except EnginesBusyError:
            raise ApiError(
                429,
                "Too Many Requests: every loaded model is busy; this one cannot load yet",
                {"Retry-After": str(IN_FLIGHT_RETRY_SECONDS)},
            ) from None
        except RateLimitedError:  # the engine's own queue is full
            raise _server_full() from None
        except UnsupportedModelError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} {error}") from None
        except EngineClosedError:
            raise ApiError(503, "Service unavailable") from None
        logger.info(
            "job %s for %s: %s, %d bytes of %s (sent as %r, %s)",
            generation_id,
            identity,
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

    def _validate_model(self, model: str | None) -> str:
        if not model:
            raise ApiError(400, f"{VALIDATION_MESSAGE} model: Required")
        if model not in self.models:
            expected = " | ".join(f"'{model_id}'" for model_id in self.models)
            raise ApiError(
                400,
                f"{VALIDATION_MESSAGE} model: Invalid enum value. Expected {expected}, "
                f"received '{model}'",
            )
        return model

    async def _check_duration(self, data: bytes) -> None:
        limit = self.config.max_audio_seconds
        if limit is None:
            return
        seconds = measure_duration(data)
        if seconds is None:  # not a format read exactly from its bytes: ask the demuxer
            seconds = await asyncio.to_thread(probe_duration, data)
        # Unknown here means undecodable: the job reports it as its error.
        if seconds is not None and seconds > limit:
            raise ApiError(
                400,
                f"{VALIDATION_MESSAGE} the audio lasts {_clock_time(seconds)}, longer than "
                f"the {_clock_time(limit)} this server accepts",
            )

    async def _download(self, url: str) -> bytes:
        try:
            return await self.fetcher.fetch(url)
        except UrlRefusedError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} url: {error}") from None
        except TooLargeError as error:
            raise ApiError(413, str(error)) from None
        except FetchError as error:
            raise ApiError(400, f"{VALIDATION_MESSAGE} url: {error}") from None


def _server_full() -> ApiError:
    return ApiError(
        429,
        "Too Many Requests: the server's queue is full",
        {"Retry-After": str(IN_FLIGHT_RETRY_SECONDS)},
    )


def _key_identity(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _clock_time(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


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


API_KEY = web.AppKey("job_api", JobApi)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(request, error)
    except ConnectionError:
        raise  # the client left mid-body: nobody to answer, nothing to log
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = STATUS_MESSAGES.get(error.status, error.reason)
        return error_response(request, ApiError(error.status, message))
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(request, ApiError(500, STATUS_MESSAGES[500]))


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    identity = request.app[API_KEY].identity(request)
    if identity is None:
        raise unauthorised()
    request[IDENTITY] = identity
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
    app = web.Application(middlewares=[_errors, _auth], client_max_size=JSON_LIMIT)
    app[API_KEY] = api
    app.router.add_post("/v1/stt/create", api.create, expect_handler=api.expect_continue)
    app.router.add_get("/v1/stt/{generation_id}", api.fetch)
    app.on_cleanup.append(api.close)
    return app
