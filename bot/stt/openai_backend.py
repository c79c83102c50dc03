"""`SttBackend` over an OpenAI-compatible transcription server (bot/stt/openai_client.py).

The server transcribes within the request, so there is no job to poll: `submit` starts the
request in a task and returns a local id at once, and `wait_result` waits for that task. Ids
live in this process only: after a restart `wait_result` raises `NotFoundError` and the
pipeline submits the audio again, as it does for an expired AIML job. Cancelling the wait
cancels the request.

A model with word timings is asked for `verbose_json` with segment and word timestamps. A
server that refuses it (some self-hosted ones do) is asked again for plain `json`, and that
model is asked for `json` from then on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot.retry import RetryPolicy
from bot.stt.catalogue import ModelSpec, UnknownModelError, get_model
from bot.stt.errors import (
    MalformedResponseError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    SttError,
    UnsupportedModelError,
    ValidationError,
)
from bot.stt.openai_client import OpenAiSttClient
from bot.stt.parsing import parse_result
from bot.stt.types import AudioUpload, JobRequest, Transcript

logger = logging.getLogger(__name__)

RESULT_TTL_SECONDS = 3600.0  # a result nobody collects is dropped after this long
# How servers word a refusal of verbose_json or of timestamp granularities.
_VERBOSE_REFUSALS = ("response_format", "verbose_json", "timestamp_granularit")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Request:
    task: asyncio.Task[Transcript]
    started: float  # by the backend's clock


class OpenAiBackend:
    """`SttBackend` over `POST /audio/transcriptions`, for the `oai/<name>` models."""

    name = "openai"

    def __init__(
        self,
        client: OpenAiSttClient,
        *,
        retry: RetryPolicy | None = None,
        result_ttl: float = RESULT_TTL_SECONDS,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        owned_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._ttl = result_ttl
        self._sleep = sleep
        self._clock = clock
        self._owned_session = owned_session
        self._requests: dict[str, _Request] = {}
        self._plain_json: set[str] = set()  # models whose server refused verbose_json

    @classmethod
    def open(
        cls, base_url: str, api_key: str | None, *, retry: RetryPolicy | None = None
    ) -> OpenAiBackend:
        """A backend with its own HTTP session, closed by `close()`. Call inside a running loop."""
        session = aiohttp.ClientSession()
        return cls(OpenAiSttClient(session, base_url, api_key), retry=retry, owned_session=session)

    def __repr__(self) -> str:
        return f"OpenAiBackend({self._client!r})"

    async def submit(self, audio: AudioUpload, request: JobRequest) -> str:
        spec = _spec(request.model)
        self._expire()
        generation_id = f"oai-{uuid.uuid4()}"
        task = asyncio.create_task(
            self._transcribe(spec, audio, request), name=f"transcribe-{generation_id}"
        )
        # Read the outcome even when nobody collects it, so asyncio has nothing to complain of.
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._requests[generation_id] = _Request(task, self._clock())
        logger.info("submitted %s (%d bytes) as %s", spec.id, audio.size, generation_id)
        return generation_id

    async def wait_result(
        self,
        generation_id: str,
        request: JobRequest,
        audio_seconds: float | None,
        elapsed: float = 0.0,
    ) -> Transcript:
        pending = self._requests.pop(generation_id, None)
        if pending is None:
            raise NotFoundError(f"no request {generation_id!r} in this process", status=404)
        return await pending.task

    async def close(self) -> None:
        tasks = [pending.task for pending in self._requests.values()]
        self._requests.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owned_session is not None and not self._owned_session.closed:
            await self._owned_session.close()

    async def _transcribe(
        self, spec: ModelSpec, audio: AudioUpload, request: JobRequest
    ) -> Transcript:
        name = spec.id.removeprefix("oai/")
        language = request.params.get("language")
        verbose = spec.capabilities.word_timings and spec.id not in self._plain_json
        attempt = 0
        started = self._clock()
        while True:
            try:
                payload = await self._client.transcribe(
                    audio,
                    name,
                    language=language if isinstance(language, str) else None,
                    verbose=verbose,
                )
                break
            except ValidationError as error:
                if not (verbose and _refuses_verbose(error)):
                    raise
                logger.warning(
                    "%s refused verbose_json (%s); asking it for json from now on", spec.id, error
                )
                self._plain_json.add(spec.id)
                verbose = False
            except SttError as error:
                delay = self._retry_delay(error, attempt, started)
                if delay is None:
                    raise
                logger.warning(
                    "transcription on %s failed (%s: %s); retry %d in %.2fs",
                    spec.id,
                    type(error).__name__,
                    error,
                    attempt + 1,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1
        transcript = parse_result("oai", payload)
        logger.info("%s answered %d characters", spec.id, len(transcript.text))
        return dataclasses.replace(transcript, model=transcript.model or spec.id)

    def _retry_delay(self, error: SttError, attempt: int, started: float) -> float | None:
        # A garbled answer is worth another try too: a proxy may have mangled a good one.
        if not (error.transient or isinstance(error, MalformedResponseError)):
            return None
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        return self._retry.next_delay(attempt, self._clock() - started, retry_after=retry_after)

    def _expire(self) -> None:
        deadline = self._clock() - self._ttl
        for generation_id in [k for k, v in self._requests.items() if v.started <= deadline]:
            self._requests.pop(generation_id).task.cancel()


def _refuses_verbose(error: ValidationError) -> bool:
    if isinstance(error, PayloadTooLargeError):
        return False
    message = str(error).lower()
    return any(marker in message for marker in _VERBOSE_REFUSALS)


def _spec(model: str) -> ModelSpec:
    try:
        spec = get_model(model)
    except UnknownModelError:
        raise UnsupportedModelError(f"no model {model!r}") from None
    if spec.backend != "openai":
        raise UnsupportedModelError(
            f"{model!r} is not a model of an OpenAI-compatible server: use oai/<name>"
        )
    return spec
