"""The AIML backend: upload, then poll on a learnt schedule until the job ends.

Retries here cover single requests that fail transiently (5xx, 429, network, timeouts). Whole-job
concerns (resubmitting after a 404, giving up on a user's message) belong to the caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiohttp

from bot.stt.catalogue import ModelSpec, UnknownModelError, get_model
from bot.stt.client import AimlSttClient, PollResponse
from bot.stt.errors import (
    JobFailedError,
    RateLimitedError,
    SttError,
    SttTimeoutError,
    UnsupportedModelError,
)
from bot.stt.parsing import parse_result
from bot.stt.types import AudioUpload, JobRequest, Transcript

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class PollPlanner(Protocol):
    """When to poll a job, and what to learn once it completed (bot/stt/schedule.py)."""

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        """Yield the seconds to sleep before each next poll."""
        ...

    def observe(self, model: str, audio_seconds: float | None, completed_after: float) -> None:
        """Learn that a job completed about `completed_after` seconds after submission."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff for one request: base * factor**n, at most max_delay."""

    attempts: int = 4  # tries in all, the first included
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    # A Retry-After longer than this is not waited out: the error goes to the caller instead.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: SttError) -> float | None:
        """Seconds to wait before the next try after `attempt` (0-based) failed; None: give up."""
        if not error.transient or attempt + 1 >= self.attempts:
            return None
        backoff = min(self.max_delay, self.base_delay * self.factor**attempt)
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(backoff, error.retry_after)
        return backoff


class AimlBackend:
    """`SttBackend` over the AIML job API. Audio is always uploaded, never passed as a URL."""

    name = "aiml"

    def __init__(
        self,
        client: AimlSttClient,
        planner: PollPlanner,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        owned_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._client = client
        self._planner = planner
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._owned_session = owned_session

    @classmethod
    def open(
        cls,
        base_url: str,
        api_key: str,
        planner: PollPlanner,
        *,
        retry: RetryPolicy | None = None,
    ) -> AimlBackend:
        """A backend with its own HTTP session, closed by `close()`. Call inside a running loop."""
        session = aiohttp.ClientSession()
        client = AimlSttClient(session, base_url, api_key)
        return cls(client, planner, retry=retry, owned_session=session)

    def __repr__(self) -> str:
        return f"AimlBackend({self._client!r})"

    async def close(self) -> None:
        if self._owned_session is not None and not self._owned_session.closed:
            await self._owned_session.close()

    async def submit(self, audio: AudioUpload, request: JobRequest) -> str:
        self._spec(request.model)
        generation_id = await self._with_retries(
            "create",
            lambda: self._client.create_upload(audio, request.model, request.params),
        )
        logger.info("submitted %s (%d bytes) as %s", request.model, len(audio.data), generation_id)
        return generation_id

    async def wait_result(
        self,
        generation_id: str,
        request: JobRequest,
        audio_seconds: float | None,
        elapsed: float = 0.0,
    ) -> Transcript:
        spec = self._spec(request.model)
        # Everything below is measured in seconds since submission, on our clock.
        submitted_at = self._clock() - elapsed
        target = elapsed
        last_pending: float | None = 0.0 if elapsed == 0.0 else None
        for delay in self._planner.plan(request.model, audio_seconds, elapsed):
            # Sleep until the planned moment, so request latency does not drift the schedule.
            target += max(0.0, delay)
            await self._sleep(max(0.0, target - (self._clock() - submitted_at)))
            poll = await self._with_retries("fetch", lambda: self._client.fetch(generation_id))
            now = self._clock() - submitted_at
            if poll.state == "pending":
                last_pending = now
                continue
            if poll.state == "failure":
                logger.info("job %s ended with %s: %s", generation_id, poll.status, poll.error)
                raise JobFailedError(poll.error or f"job ended with status {poll.status!r}")
            self._learn(spec, audio_seconds, last_pending, now)
            return self._transcript(spec, poll, generation_id)
        raise SttTimeoutError(f"job {generation_id} did not complete within its poll schedule")

    def _learn(
        self,
        spec: ModelSpec,
        audio_seconds: float | None,
        last_pending: float | None,
        completed_seen: float,
    ) -> None:
        if last_pending is None:
            # Resumed, and the first poll found it done: the completion moment is unknowable.
            return
        completed_after = (last_pending + completed_seen) / 2
        logger.debug("job on %s completed after about %.2fs", spec.id, completed_after)
        self._planner.observe(spec.id, audio_seconds, completed_after)

    @staticmethod
    def _transcript(spec: ModelSpec, poll: PollResponse, generation_id: str) -> Transcript:
        transcript = parse_result(spec.family, poll.result)
        logger.info("job %s completed: %d characters", generation_id, len(transcript.text))
        if transcript.model is None:
            # OpenAI results name no model; the one we asked for is the best we know.
            transcript = dataclasses.replace(transcript, model=spec.id)
        return transcript

    @staticmethod
    def _spec(model: str) -> ModelSpec:
        try:
            spec = get_model(model)
        except UnknownModelError:
            raise UnsupportedModelError(f"no AIML model {model!r}") from None
        if spec.is_local:
            raise UnsupportedModelError(f"{model!r} is a local model, not an AIML one")
        return spec

    async def _with_retries(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except SttError as error:
                delay = self._retry.delay(attempt, error)
                if delay is None:
                    raise
                logger.warning(
                    "%s failed (%s: %s); retry %d in %.2fs",
                    what,
                    type(error).__name__,
                    error,
                    attempt + 1,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1
