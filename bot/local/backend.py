"""The local engine behind the same job interface as the AIML API (`SttBackend`).

Jobs get a generated id and live in memory, like the API's, for at most an hour. An id this
process does not know (for instance after a restart) raises `NotFoundError`, so the pipeline
submits the audio again.

Each engine holds a model in memory (base: ~350 MB, large-v3: several GB), so at most
`max_engines` are alive at once, busy or not: a job for another size waits (`submit`) or is
refused (`submit_nowait`, the job API's 429) until an engine is idle and can make way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.local.config import LOCAL_SIZES, LocalConfig
from bot.local.engine import EngineClosedError, EngineJob, LocalWhisperEngine, Task
from bot.local.weights import default_cache_dir, packaged_weights_available
from bot.stt.errors import (
    JobFailedError,
    NotFoundError,
    RateLimitedError,
    SttError,
    UnsupportedModelError,
)
from bot.stt.types import AudioUpload, JobProgress, JobRequest, Transcript

logger = logging.getLogger(__name__)

RESULT_TTL_SECONDS = 3600.0  # the API keeps transcriptions for an hour; so do we
AIML_WHISPER_PREFIX = "#g1_whisper-"
LOCAL_PREFIX = "local/"
# AIML's Whisper sizes, and the local size each one names.
AIML_WHISPER_SIZES = {
    "tiny": "tiny",
    "base": "base",
    "small": "small",
    "medium": "medium",
    "large": "large-v3",
}

EngineFactory = Callable[[str], LocalWhisperEngine]


class EnginesBusyError(RateLimitedError):
    """Every engine alive is busy with another size, and no more may be loaded."""

    def __init__(self, size: str, limit: int) -> None:
        super().__init__(f"cannot load local/{size}: {limit} other model(s) are loaded and busy")


def local_size_for_model(model_id: str, *, default_size: str, available: Collection[str]) -> str:
    """The engine size that serves `model_id`.

    `local/<size>` asks for exactly that size (downloaded from the hub if need be).
    `#g1_whisper-<size>` is served by the nearest size in `available` (the larger one on a tie),
    or by `default_size` when none is; so AIML model ids work offline with the packaged base.
    """
    if model_id.startswith(LOCAL_PREFIX):
        size = model_id.removeprefix(LOCAL_PREFIX)
        if size not in LOCAL_SIZES:
            raise UnsupportedModelError(f"unknown local model: {model_id!r}", status=400)
        return size
    if model_id.startswith(AIML_WHISPER_PREFIX):
        wanted = AIML_WHISPER_SIZES.get(model_id.removeprefix(AIML_WHISPER_PREFIX))
        if wanted is None:
            raise UnsupportedModelError(f"unknown Whisper model: {model_id!r}", status=400)
        candidates = [size for size in LOCAL_SIZES if size in available]
        if not candidates:
            return default_size
        rank = LOCAL_SIZES.index(wanted)
        return min(
            candidates,
            key=lambda size: (abs(LOCAL_SIZES.index(size) - rank), -LOCAL_SIZES.index(size)),
        )
    raise UnsupportedModelError(
        f"the local engine does not offer {model_id!r}: use local/<size> or #g1_whisper-<size>",
        status=400,
    )


def offline_sizes(config: LocalConfig) -> frozenset[str]:
    """Sizes that load without a model hub: the configured one, and base when it is packaged."""
    sizes = {config.size}
    if packaged_weights_available():
        sizes.add("base")
    return frozenset(sizes)


@dataclass(frozen=True, slots=True)
class LocalJob:
    """A job as the job API reports it."""

    generation_id: str
    job: EngineJob
    created: float  # by the backend's clock: when the job expires
    created_at: datetime  # the wall-clock moment it was admitted, as the API reports it
    model: str  # the id the caller asked for
    size: str  # the engine size that serves it
    filename: str
    mime_type: str
    owner: str = ""  # who submitted it: the job API shows a job to its owner only


class LocalBackend:
    """`SttBackend` over one or more `LocalWhisperEngine`s (one per size, loaded lazily)."""

    name = "local"

    def __init__(
        self,
        config: LocalConfig | None = None,
        *,
        cache_dir: Path | None = None,
        max_engines: int = 2,
        result_ttl: float = RESULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        engine_factory: EngineFactory | None = None,
        available_sizes: Collection[str] | None = None,
    ) -> None:
        self.config = config or LocalConfig()
        self._cache_dir = cache_dir or default_cache_dir()
        self._max_engines = max(1, max_engines)
        self._ttl = result_ttl
        self._clock = clock
        self._factory = engine_factory or self._build_engine
        self._available = (
            frozenset(available_sizes)
            if available_sizes is not None
            else offline_sizes(self.config)
        )
        self._engines: OrderedDict[str, LocalWhisperEngine] = OrderedDict()
        self._jobs: dict[str, LocalJob] = {}
        self._closed = False

    @property
    def available_sizes(self) -> frozenset[str]:
        """Sizes that load without a model hub (AIML model ids map onto these)."""
        return self._available

    @property
    def capacity(self) -> int:
        """Jobs admitted at once, running or waiting, whatever their model."""
        return self.config.workers + self.config.queue_size

    @property
    def pending(self) -> int:
        """Jobs admitted and not yet finished, on every engine."""
        return sum(engine.pending for engine in self._engines.values())

    @property
    def engines_alive(self) -> tuple[str, ...]:
        """The sizes whose engine (and model) is alive, least recently used first."""
        return tuple(self._engines)

    def in_flight(self, owner: str) -> int:
        """Unfinished jobs submitted by `owner`."""
        return sum(1 for job in self._jobs.values() if job.owner == owner and not job.job.done())

    def size_for(self, model_id: str) -> str:
        return local_size_for_model(
            model_id, default_size=self.config.size, available=self._available
        )

    def engine(self, size: str) -> LocalWhisperEngine:
        """The engine for `size`, created on first use after closing the least recently used
        idle one if need be; `EnginesBusyError` when every engine alive is busy."""
        if self._closed:
            raise EngineClosedError("the local backend was closed")
        engine = self._engines.get(size)
        if engine is not None:
            self._engines.move_to_end(size)
            return engine
        if not self._make_room():
            raise EnginesBusyError(size, self._max_engines)
        engine = self._factory(size)
        self._engines[size] = engine
        return engine

    def default_engine(self) -> LocalWhisperEngine:
        return self.engine(self.config.size)

    async def submit(self, audio: AudioUpload, request: JobRequest) -> str:
        """Queue a job, waiting for an engine and for a place in its queue.

        A file (`audio.path`) is read while the job runs, not now: the caller keeps it until
        `wait_result` returns (see bot/stt/backend.py, `SendsAudioAtSubmit`)."""
        size = self.size_for(request.model)
        engine = await self._engine_when_free(size)
        job = await engine.enqueue(audio.data, _language(request), task=_task(request))
        return self._store(job, audio, request, size)

    def submit_nowait(self, audio: AudioUpload, request: JobRequest, *, owner: str = "") -> str:
        """Queue a job now, or raise `QueueFullError` or `EnginesBusyError` (the job API's
        429)."""
        size = self.size_for(request.model)
        job = self.engine(size).try_enqueue(audio.data, _language(request), task=_task(request))
        return self._store(job, audio, request, size, owner)

    def progress(self, generation_id: str) -> JobProgress | None:
        """How far a job has got (None until it starts, or when the id is unknown)."""
        stored = self._jobs.get(generation_id)
        return None if stored is None else stored.job.progress

    def job(self, generation_id: str) -> LocalJob:
        """The job with that id, or `NotFoundError` when unknown or older than the TTL."""
        self._expire()
        try:
            return self._jobs[generation_id]
        except KeyError:
            raise NotFoundError(
                f"generation {generation_id!r} is unknown or has expired", status=404
            ) from None

    async def wait_result(
        self,
        generation_id: str,
        request: JobRequest,
        audio_seconds: float | None,
        elapsed: float = 0.0,
    ) -> Transcript:
        # No polling here: the job's future tells us when it is done, however long it takes.
        stored = self.job(generation_id)
        try:
            return await stored.job.result()
        except SttError:
            raise
        except Exception as error:
            logger.exception("local job %s failed", generation_id)
            raise JobFailedError(f"local transcription failed: {error}") from error

    async def close(self) -> None:
        self._closed = True
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
        self._jobs.clear()

    def _store(
        self, job: EngineJob, audio: AudioUpload, request: JobRequest, size: str, owner: str = ""
    ) -> str:
        self._expire()
        generation_id = str(uuid.uuid4())
        self._jobs[generation_id] = LocalJob(
            generation_id=generation_id,
            job=job,
            created=self._clock(),
            created_at=datetime.now(UTC),
            model=request.model,
            size=size,
            filename=audio.filename,
            mime_type=audio.mime_type,
            owner=owner,
        )
        return generation_id

    def _expire(self) -> None:
        deadline = self._clock() - self._ttl
        for generation_id in [k for k, v in self._jobs.items() if v.created <= deadline]:
            expired = self._jobs.pop(generation_id)
            expired.job.cancel()  # frees its place if it never started

    def _make_room(self) -> bool:
        """Whether another engine may be created, after closing the least recently used idle
        one when the cap is reached. A busy engine is never closed under its jobs."""
        if len(self._engines) < self._max_engines:
            return True
        for size, engine in self._engines.items():
            if engine.pending == 0:
                logger.info("closing the idle local engine %s", size)
                engine.close()
                del self._engines[size]
                return True
        return False

    async def _engine_when_free(self, size: str) -> LocalWhisperEngine:
        while True:
            try:
                return self.engine(size)
            except EnginesBusyError:
                logger.info("local/%s waits for a loaded model to go idle", size)
            waiters = [asyncio.ensure_future(e.wait_idle()) for e in self._engines.values()]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    def _build_engine(self, size: str) -> LocalWhisperEngine:
        config = self.config
        return LocalWhisperEngine(
            size,
            # LOCAL_MODEL_DIR holds the configured size only; other sizes come from elsewhere.
            model_dir=config.model_dir if size == config.size else None,
            cache_dir=self._cache_dir,
            workers=config.workers,
            queue_size=config.queue_size,
        )


def _task(request: JobRequest) -> Task:
    """Whisper's translate task when the request asks for it ("task": "translate"): the words
    in English, whatever the language heard. Else a transcription."""
    return "translate" if request.params.get("task") == "translate" else "transcribe"


def _language(request: JobRequest) -> str | None:
    value = request.params.get("language")
    return value if isinstance(value, str) and value else None
