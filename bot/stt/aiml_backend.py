"""The AIML backend: upload, then poll on a learnt schedule until the job ends.

Retries here cover single requests that fail transiently (5xx, 429, network, timeouts). Whole-job
concerns (resubmitting after a 404, giving up on a user's message) belong to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

import aiohttp

from bot.retry import RetryPolicy
from bot.stt.catalogue import ModelSpec, UnknownModelError, get_model
from bot.stt.client import AimlSttClient, PollResponse
from bot.stt.errors import (
    JobFailedError,
    MalformedResponseError,
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

    def observe(
        self,
        model: str,
        audio_seconds: float | None,
        completed_after: float,
        uncertainty: float = 0.0,
    ) -> None:
        """Learn that a job completed `completed_after` +- `uncertainty` seconds after
        submission."""
        ...


def _retry_after(error: SttError) -> float | None:
    return error.retry_after if isinstance(error, RateLimitedError) else None


def _retryable(error: SttError) -> bool:
    # A garbled answer is worth another try too: the API may well have done the work.
    return error.transient or isinstance(error, MalformedResponseError)


class AimlBackend:
    """`SttBackend` over the AIML job API. Audio is always uploaded, never passed as a URL."""

    name = "aiml"
    # The upload is the create request: the caller may delete its file once submit returns.
    sends_audio_at_submit = True

    def __init__(
        self,
        client: AimlSttClient,
        planner: PollPlanner,
        *,
        retry: RetryPolicy | None = None,
        transfer_slots: asyncio.Semaphore | None = None,
        on_resubmit: Callable[[], None] | None = None,
        on_polled: Callable[[str, int, bool, float | None], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        owned_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._client = client
        self._planner = planner
        self._retry = retry or RetryPolicy()
        # A poll is a read: whatever may pass is retried until the job's own time limit, which
        # the caller enforces, not after a few seconds.
        self._poll_retry = dataclasses.replace(self._retry, attempts=None)
        # Held only while bytes move: a hung upload gives its slot back when its attempt ends,
        # and waits for the next attempt without holding it.
        self._transfer_slots = transfer_slots
        # Told when a create request is retried after it may have reached the API: the price
        # of never losing a note is, rarely, a second billed job.
        self._on_resubmit = on_resubmit
        # For the operator's metrics: told (generation id, polls, completed, detection lag)
        # when a job's polling ends (bot/stt/reports.py), and the kind of each failed request.
        self._on_polled = on_polled
        self._on_error = on_error
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

        async def create() -> str:
            slot = self._transfer_slots or contextlib.nullcontext()
            async with slot:
                return await self._client.create_upload(audio, request.model, request.params)

        generation_id = await self._with_retries("create", create, bounded=True)
        logger.info("submitted %s (%d bytes) as %s", request.model, audio.size, generation_id)
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
        polls = 0

        async def poll_once() -> tuple[PollResponse, Transcript | None]:
            nonlocal polls
            polls += 1
            return await self._poll_once(spec, generation_id)

        for delay in self._planner.plan(request.model, audio_seconds, elapsed):
            # Sleep until the planned moment, so request latency does not drift the schedule.
            target += max(0.0, delay)
            await self._sleep(max(0.0, target - (self._clock() - submitted_at)))
            poll, transcript = await self._with_retries("fetch", poll_once, bounded=False)
            now = self._clock() - submitted_at
            if poll.state == "pending":
                last_pending = now
                continue
            if poll.state == "failure":
                logger.info("job %s ended with %s: %s", generation_id, poll.status, poll.error)
                self._report_polls(generation_id, polls, False, None)
                raise JobFailedError(poll.error or f"job ended with status {poll.status!r}")
            assert transcript is not None
            self._learn(spec, audio_seconds, last_pending, now)
            # The completion is estimated midway between the last pending poll and this one,
            # as for learning: half the last interval is the lag of seeing it.
            lag = None if last_pending is None else (now - last_pending) / 2
            self._report_polls(generation_id, polls, True, lag)
            return transcript
        self._report_polls(generation_id, polls, False, None)
        raise SttTimeoutError(f"job {generation_id} did not complete within its poll schedule")

    def _report_polls(
        self, generation_id: str, polls: int, completed: bool, lag: float | None
    ) -> None:
        if self._on_polled is not None:
            self._on_polled(generation_id, polls, completed, lag)

    async def _poll_once(
        self, spec: ModelSpec, generation_id: str
    ) -> tuple[PollResponse, Transcript | None]:
        """One poll, its result parsed: a completed job whose result cannot be read is a
        garbled answer like any other, retried rather than lost."""
        poll = await self._client.fetch(generation_id)
        if poll.state != "success":
            return poll, None
        return poll, self._transcript(spec, poll, generation_id)

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
        uncertainty = (completed_seen - last_pending) / 2
        logger.debug(
            "job on %s completed after %.2f +- %.2fs", spec.id, completed_after, uncertainty
        )
        self._planner.observe(spec.id, audio_seconds, completed_after, uncertainty=uncertainty)

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

    async def _with_retries(
        self, what: str, call: Callable[[], Awaitable[T]], *, bounded: bool
    ) -> T:
        """Run one request, retrying what may pass. `bounded`: stop after the policy's tries
        (a create); otherwise keep going (a poll), and the job's time limit ends it."""
        attempt = 0
        started = self._clock()
        while True:
            try:
                return await call()
            except SttError as error:
                if self._on_error is not None:
                    self._on_error(type(error).__name__)
                policy = self._retry if bounded else self._poll_retry
                delay = (
                    policy.next_delay(
                        attempt, self._clock() - started, retry_after=_retry_after(error)
                    )
                    if _retryable(error)
                    else None
                )
                if delay is None:
                    raise
                if bounded and _may_have_arrived(error) and self._on_resubmit is not None:
                    self._on_resubmit()
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


def _may_have_arrived(error: SttError) -> bool:
    """Whether a failed create may still have started a (billed) job."""
    return not isinstance(error, RateLimitedError) and (
        error.status is None or error.status >= 500
    )
