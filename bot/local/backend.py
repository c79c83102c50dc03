"""The local engine behind the same job interface as the AIML API (`SttBackend`).

Jobs get a generated id and live in memory, like the API's, for at most an hour. An id this
process does not know (for instance after a restart) raises `NotFoundError`, so the pipeline
submits the audio again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from bot.local.config import LOCAL_SIZES, LocalConfig
from bot.local.engine import EngineJob, LocalWhisperEngine
from bot.local.weights import default_cache_dir, packaged_weights_available
from bot.stt.errors import JobFailedError, NotFoundError, SttError, UnsupportedModelError
from bot.stt.types import AudioUpload, JobRequest, Transcript

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
    created: float  # by the backend's clock
    model: str  # the id the caller asked for
    size: str  # the engine size that serves it
    filename: str
    mime_type: str


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

    def size_for(self, model_id: str) -> str:
        return local_size_for_model(
            model_id, default_size=self.config.size, available=self._available
        )

    def engine(self, size: str) -> LocalWhisperEngine:
        """The engine for `size`, created on first use; idle engines beyond the cap are closed."""
        engine = self._engines.get(size)
        if engine is not None:
            self._engines.move_to_end(size)
            return engine
        engine = self._factory(size)
        self._engines[size] = engine
        self._evict_idle()
        return engine

    def default_engine(self) -> LocalWhisperEngine:
        return self.engine(self.config.size)

    async def submit(self, audio: AudioUpload, request: JobRequest) -> str:
        """Queue a job, waiting for a place when the engine's queue is full."""
        size = self.size_for(request.model)
        job = await self.engine(size).enqueue(audio.data, _language(request))
        return self._store(job, audio, request, size)

    def submit_nowait(self, audio: AudioUpload, request: JobRequest) -> str:
        """Queue a job now, or raise `QueueFullError` (the job API's 429)."""
        size = self.size_for(request.model)
        job = self.engine(size).try_enqueue(audio.data, _language(request))
        return self._store(job, audio, request, size)

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
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
        self._jobs.clear()

    def _store(self, job: EngineJob, audio: AudioUpload, request: JobRequest, size: str) -> str:
        self._expire()
        generation_id = str(uuid.uuid4())
        self._jobs[generation_id] = LocalJob(
            generation_id=generation_id,
            job=job,
            created=self._clock(),
            model=request.model,
            size=size,
            filename=audio.filename,
            mime_type=audio.mime_type,
        )
        return generation_id

    def _expire(self) -> None:
        deadline = self._clock() - self._ttl
        for generation_id in [k for k, v in self._jobs.items() if v.created <= deadline]:
            expired = self._jobs.pop(generation_id)
            expired.job.cancel()  # frees its place if it never started

    def _evict_idle(self) -> None:
        # Each engine holds a model in memory (base: ~350 MB, large-v3: several GB), so keep
        # only a few; a busy engine is never closed under its jobs.
        for size in list(self._engines)[:-1]:  # never the one just asked for
            if len(self._engines) <= self._max_engines:
                return
            engine = self._engines[size]
            if engine.pending == 0:
                logger.info("closing the idle local engine %s", size)
                engine.close()
                del self._engines[size]

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


def _language(request: JobRequest) -> str | None:
    value = request.params.get("language")
    return value if isinstance(value, str) and value else None
