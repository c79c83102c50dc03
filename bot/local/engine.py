"""The offline Whisper engine: faster-whisper in worker threads, behind a bounded queue.

Whisper is CPU-bound and holds the GIL only briefly (CTranslate2 releases it), so jobs run in
a `ThreadPoolExecutor` and the event loop never blocks. At most `workers` jobs run and at most
`queue_size` wait: `enqueue`/`transcribe` wait for a free place (the bot never drops work),
`try_enqueue` refuses at once with `QueueFullError` (the API server answers 429).

An engine is not tied to one event loop: its admission slots wake waiters through their own
loop, so one loaded model can serve several loops (for example a test session's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.local.weights import WeightsError, default_cache_dir, resolve_model_source
from bot.stt.errors import RateLimitedError, SttError, ValidationError
from bot.stt.types import Segment, Transcript, Word

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects

JobState = Literal["waiting", "active", "completed", "error"]
# Called from the worker thread with (seconds transcribed so far, audio duration in seconds).
ProgressCallback = Callable[[float, float], None]


class QueueFullError(RateLimitedError):
    """Every worker is busy and the waiting queue is full."""

    def __init__(self, message: str = "the local engine's queue is full") -> None:
        super().__init__(message)


class EngineClosedError(SttError):
    """The engine was closed; it takes no more jobs."""


class ModelLoadError(SttError):
    """faster-whisper could not load the model (missing weights, no hub access, ...)."""


class WhisperModelLike(Protocol):
    """The part of `faster_whisper.WhisperModel` the engine uses (a seam for fakes)."""

    @property
    def supported_languages(self) -> list[str]: ...

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterable[Any], Any]: ...


@dataclass(frozen=True, slots=True)
class EngineOptions:
    # beam 5 costs ~0.15 s more per note than beam 1 and is markedly more robust on Opus
    # (docs/local-stt.md: OGG WER 16.5 % -> 8.7 %); the VAD trims silence and the
    # hallucinations Whisper produces on it.
    beam_size: int = 5
    vad_filter: bool = True
    device: str = "auto"  # "auto": CUDA when CTranslate2 sees a GPU, else CPU
    compute_type: str | None = None  # None: int8 on CPU, float16 on CUDA
    cpu_threads: int | None = None  # None: os.cpu_count()


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """What a model loader is asked for."""

    size: str
    model_dir: Path | None
    cache_dir: Path
    options: EngineOptions


ModelLoader = Callable[[LoadRequest], WhisperModelLike]


def load_faster_whisper(request: LoadRequest) -> WhisperModelLike:
    """Load a `WhisperModel`: LOCAL_MODEL_DIR, the packaged base, or a hub model by name."""
    import ctranslate2

    source = resolve_model_source(request.size, request.model_dir, request.cache_dir)
    options = request.options
    if options.device == "auto" and ctranslate2.get_cuda_device_count() > 0:
        try:
            model = _whisper_model(source, "cuda", options)
            # CUDA libraries (cuBLAS, cuDNN) load lazily: a GPU without them must fail here,
            # at load time, rather than in the middle of every job.
            _warm_up(model)
            return model
        except (RuntimeError, OSError) as error:
            logger.warning("a GPU is visible but unusable (%s); using the CPU", error)
    return _whisper_model(source, "cpu" if options.device == "auto" else options.device, options)


def _whisper_model(source: str, device: str, options: EngineOptions) -> WhisperModelLike:
    from faster_whisper import WhisperModel

    compute_type = options.compute_type or ("int8" if device == "cpu" else "float16")
    # A directory never needs the hub; for a name, HF_HUB_OFFLINE=1 makes a missing model fail
    # fast instead of waiting on the network.
    hub_offline = os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false")
    offline = Path(source).is_dir() or hub_offline
    model: WhisperModelLike = WhisperModel(
        source,
        device=device,
        compute_type=compute_type,
        cpu_threads=options.cpu_threads or os.cpu_count() or 1,
        local_files_only=offline,
    )
    logger.info("loaded Whisper from %s on %s (%s)", source, device, compute_type)
    return model


def _warm_up(model: WhisperModelLike) -> None:
    import numpy

    segments, _ = model.transcribe(numpy.zeros(SAMPLE_RATE, dtype=numpy.float32), language="en")
    for _ in segments:
        pass


@dataclass(frozen=True, slots=True)
class _Signals:
    """Flags shared between a job's handle and the worker thread running it."""

    started: threading.Event
    cancelled: threading.Event


class EngineJob:
    """One admitted job. Its state and result can be read from any thread or event loop."""

    def __init__(self, future: concurrent.futures.Future[Transcript], signals: _Signals):
        self._future = future
        self._signals = signals

    @property
    def state(self) -> JobState:
        if self._future.done():
            failed = self._future.cancelled() or self._future.exception() is not None
            return "error" if failed else "completed"
        return "active" if self._signals.started.is_set() else "waiting"

    def done(self) -> bool:
        return self._future.done()

    def error(self) -> BaseException | None:
        """The job's exception once it is done (None while running or on success)."""
        if not self._future.done():
            return None
        if self._future.cancelled():
            return EngineClosedError("the job was cancelled")
        return self._future.exception()

    def transcript(self) -> Transcript | None:
        """The result once completed, else None."""
        if self.state != "completed":
            return None
        return self._future.result()

    async def result(self) -> Transcript:
        """Wait for the transcript. Cancelling the waiter does not cancel the job."""
        try:
            return await asyncio.shield(asyncio.wrap_future(self._future))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            waiter_cancelled = task is not None and task.cancelling() > 0
            if self._future.cancelled() and not waiter_cancelled:
                raise EngineClosedError("the job was cancelled") from None
            raise

    def cancel(self) -> None:
        """Drop the job if it is waiting; stop it at its next segment if it is running."""
        self._signals.cancelled.set()
        self._future.cancel()


class _Slots:
    """A counting semaphore that threads release and tasks of any event loop wait on."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._used = 0
        self._closed = False
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def used(self) -> int:
        return self._used

    def try_acquire(self) -> bool:
        with self._lock:
            self._check_open()
            # Waiters were here first: a non-blocking caller must not overtake them.
            if self._used < self.capacity and not self._waiters:
                self._used += 1
                return True
            return False

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._check_open()
            if self._used < self.capacity and not self._waiters:
                self._used += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except BaseException:
            with self._lock:
                entry = (loop, waiter)
                if entry in self._waiters:
                    self._waiters.remove(entry)
                    raise
                handed_over = not self._closed
            # release() had already handed us the slot when we were cancelled: pass it on.
            if handed_over:
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                # The slot passes straight to the waiter, so `_used` stays the same.
                if _wake(loop, waiter, None):
                    return
            self._used -= 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, deque()
        for loop, waiter in waiters:
            _wake(loop, waiter, EngineClosedError("the local engine was closed"))

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError("the local engine was closed")


def _wake(
    loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], error: BaseException | None
) -> bool:
    def settle() -> None:
        if waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # that loop is closed; its waiter is gone
        return False
    return True


class LocalWhisperEngine:
    """One Whisper model (loaded lazily, once) serving jobs from a bounded queue."""

    def __init__(
        self,
        size: str = "base",
        *,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        workers: int = 1,
        queue_size: int = 32,
        options: EngineOptions | None = None,
        loader: ModelLoader | None = None,
    ) -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError("workers must be >= 1 and queue_size >= 0")
        self.size = size
        self.model_name = f"local/{size}"
        self.options = options or EngineOptions()
        self._model_dir = model_dir
        self._cache_dir = cache_dir or default_cache_dir()
        self._loader = loader or load_faster_whisper
        self._model: WhisperModelLike | None = None
        self._model_lock = threading.Lock()
        self._closing = threading.Event()
        self._slots = _Slots(workers + queue_size)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"whisper-{size}"
        )

    @property
    def capacity(self) -> int:
        """Running plus waiting jobs the engine admits."""
        return self._slots.capacity

    @property
    def pending(self) -> int:
        """Jobs admitted and not yet finished."""
        return self._slots.used

    @property
    def loaded(self) -> bool:
        return self._model is not None

    async def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first job)."""
        await asyncio.get_running_loop().run_in_executor(None, self._ensure_model)

    def try_enqueue(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> EngineJob:
        """Admit a job now or raise `QueueFullError`."""
        if not self._slots.try_acquire():
            raise QueueFullError()
        return self._start(audio, language, word_timestamps, on_progress)

    async def enqueue(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> EngineJob:
        """Admit a job, waiting for a place in the queue if it is full."""
        await self._slots.acquire()
        return self._start(audio, language, word_timestamps, on_progress)

    async def transcribe(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Transcribe audio bytes or a file; waits for a place in the queue when it is full."""
        job = await self.enqueue(audio, language, word_timestamps, on_progress)
        return await job.result()

    def close(self) -> None:
        """Refuse new jobs, drop queued ones, stop running ones at their next segment."""
        self._closing.set()
        self._slots.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None

    def _start(
        self,
        audio: bytes | Path,
        language: str | None,
        word_timestamps: bool,
        on_progress: ProgressCallback | None,
    ) -> EngineJob:
        signals = _Signals(started=threading.Event(), cancelled=threading.Event())
        try:
            future = self._executor.submit(
                self._run, audio, language, word_timestamps, on_progress, signals
            )
        except RuntimeError:  # the executor was shut down between admission and submission
            self._slots.release()
            raise EngineClosedError("the local engine was closed") from None
        # Runs in the worker thread (or here, if already done); _Slots is thread-safe.
        future.add_done_callback(lambda _: self._slots.release())
        return EngineJob(future, signals)

    def _ensure_model(self) -> WhisperModelLike:
        with self._model_lock:
            if self._model is None:
                request = LoadRequest(self.size, self._model_dir, self._cache_dir, self.options)
                try:
                    self._model = self._loader(request)
                except WeightsError as error:
                    raise ModelLoadError(str(error)) from error
                except Exception as error:  # faster-whisper, CTranslate2 or the hub
                    # Hub errors span several lines; callers print one.
                    reason = " ".join(str(error).split()) or type(error).__name__
                    raise ModelLoadError(
                        f"could not load the local Whisper model {self.size!r}: {reason}"
                    ) from error
            return self._model

    def _run(
        self,
        audio: bytes | Path,
        language: str | None,
        word_timestamps: bool,
        on_progress: ProgressCallback | None,
        signals: _Signals,
    ) -> Transcript:
        signals.started.set()
        samples = decode(audio)  # first: a corrupt file fails fast, before any model load
        model = self._ensure_model()
        language = _normalise_language(language, model.supported_languages)
        segments, info = model.transcribe(
            samples,
            language=language,
            beam_size=self.options.beam_size,
            vad_filter=self.options.vad_filter,
            word_timestamps=word_timestamps,
        )
        duration = float(info.duration)
        collected = []
        for segment in segments:  # lazy: the decoding happens while we iterate
            # A thread cannot be interrupted; checking between segments bounds how long a
            # cancelled job (or a closing engine, e.g. on Ctrl-C) keeps a CPU busy.
            if signals.cancelled.is_set() or self._closing.is_set():
                raise EngineClosedError("the job was cancelled")
            collected.append(segment)
            if on_progress is not None:
                on_progress(min(float(segment.end), duration), duration)
        if on_progress is not None:
            on_progress(duration, duration)
        return _to_transcript(collected, info, self.model_name)


def decode(audio: bytes | Path) -> Any:
    """Decode any container/codec PyAV knows into 16 kHz mono float32 samples."""
    import av
    from faster_whisper import decode_audio

    source: str | io.BytesIO = io.BytesIO(audio) if isinstance(audio, bytes) else str(audio)
    try:
        samples = decode_audio(source, sampling_rate=SAMPLE_RATE)
    except FileNotFoundError:
        raise ValidationError(f"audio file not found: {source}", status=400) from None
    except (av.error.FFmpegError, IndexError, ValueError, EOFError) as error:
        # IndexError: a container without an audio stream (e.g. a silent video).
        raise ValidationError("could not decode the audio", status=400) from error
    if len(samples) == 0:
        raise ValidationError("could not decode the audio: it holds no sound", status=400)
    return samples


def _normalise_language(language: str | None, supported: list[str]) -> str | None:
    if language is None or language.strip().lower() in ("", "auto"):
        return None
    code = language.replace("_", "-").split("-")[0].strip().lower()
    if code not in supported:
        raise ValidationError(f"unsupported language: {language!r}", status=400)
    return code


def _to_transcript(segments: list[Any], info: Any, model_name: str) -> Transcript:
    words = tuple(
        Word(
            text=word.word.strip(),
            start=round(float(word.start), 3),
            end=round(float(word.end), 3),
            confidence=round(float(word.probability), 4),
        )
        for segment in segments
        for word in (segment.words or ())
        if word.word.strip()
    )
    parts = tuple(
        Segment(
            text=segment.text.strip(),
            start=round(float(segment.start), 3),
            end=round(float(segment.end), 3),
        )
        for segment in segments
        if segment.text.strip()
    )
    return Transcript(
        text=" ".join(part.text for part in parts),
        language=info.language,
        duration=round(float(info.duration), 3),
        words=words,
        segments=parts,
        model=model_name,
    )
