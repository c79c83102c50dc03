"""The offline Whisper engine: faster-whisper in worker threads, behind a bounded queue.

Whisper is CPU-bound and holds the GIL only briefly (CTranslate2 releases it), so jobs run in
a `ThreadPoolExecutor` and the event loop never blocks. At most `workers` jobs run and at most
`queue_size` wait: `enqueue`/`transcribe` wait for a free place (the bot never drops work),
`try_enqueue` refuses at once with `QueueFullError` (the API server answers 429).

An engine serves the one event loop that first admits a job to it. Loading the model is what
is expensive, and a `ModelLoader` may hand several engines the same loaded model (the tests
make one engine per test, over one model per session).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.local.weights import WeightsError, default_cache_dir, resolve_model_source
from bot.local.windows import SAMPLE_RATE, DecodedAudio, Window
from bot.stt.errors import RateLimitedError, SttError, ValidationError
from bot.stt.languages import AUTO, primary_code
from bot.stt.types import JobProgress, Segment, Transcript, Word

logger = logging.getLogger(__name__)

# Whisper hears 30 s at a time anyway; what grows with a window is faster-whisper's feature
# extraction over it (STFT frames and spectra: about 0.7 MB a second of window). Measured on two
# cores over a 330 MB model: peak RSS 400 MB with 30 s windows, 480 MB with 120 s, 600 MB with
# 300 s; two minutes keep it well under 600 MB at any length, with few cuts.
DEFAULT_WINDOW_SECONDS = 120.0

JobState = Literal["waiting", "active", "completed", "error"]
# Called from the worker thread with (seconds transcribed so far, audio duration in seconds).
ProgressCallback = Callable[[float, float], None]
# Whisper's two tasks: the words as spoken, or their translation into English.
Task = Literal["transcribe", "translate"]


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
    cpu_threads: int | None = None  # None: the cores shared out among the workers
    # CTranslate2 workers: one per engine worker thread, or concurrent jobs queue up inside the
    # model one after another however many threads call it (the engine sets it).
    num_workers: int = 1
    # Audio is decoded and transcribed this many seconds at a time (bot/local/windows.py), so
    # memory stays flat at any length; a two-hour recording whole would be 460 MB of samples,
    # twice over while decoded, and its features several times that.
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def threads_per_worker(self) -> int:
        """CPU threads for each model worker: `cpu_threads`, else the cores split among them."""
        if self.cpu_threads:
            return self.cpu_threads
        return max(1, (os.cpu_count() or 1) // max(1, self.num_workers))


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
        cpu_threads=options.threads_per_worker(),
        num_workers=options.num_workers,
        local_files_only=offline,
    )
    logger.info(
        "loaded Whisper from %s on %s (%s, %d worker(s) of %d thread(s))",
        source,
        device,
        compute_type,
        options.num_workers,
        options.threads_per_worker(),
    )
    return model


def _warm_up(model: WhisperModelLike) -> None:
    import numpy

    segments, _ = model.transcribe(numpy.zeros(SAMPLE_RATE, dtype=numpy.float32), language="en")
    for _ in segments:
        pass


@dataclass(slots=True)
class JobTimes:
    """When a worker thread started and finished a job (time.monotonic), recorded by the
    engine: how the tests see that jobs really overlap, whatever the machine's speed."""

    started: float | None = None
    finished: float | None = None


@dataclass(frozen=True, slots=True)
class _Signals:
    """Flags shared between a job's handle and the worker thread running it."""

    started: threading.Event
    cancelled: threading.Event
    times: JobTimes = field(default_factory=JobTimes)
    progress: _LatestProgress = field(default_factory=lambda: _LatestProgress())


@dataclass(slots=True)
class _LatestProgress:
    """How far the worker thread has got; read from the event loop (one attribute swap)."""

    latest: JobProgress | None = None


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

    @property
    def times(self) -> JobTimes:
        return self._signals.times

    @property
    def progress(self) -> JobProgress | None:
        """Seconds of audio transcribed and the total, once the job has started."""
        return self._signals.progress.latest

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
        # As many model workers as threads calling it, so `workers` jobs really run at once.
        self.options = replace(options or EngineOptions(), num_workers=workers)
        self._model_dir = model_dir
        self._cache_dir = cache_dir or default_cache_dir()
        self._loader = loader or load_faster_whisper
        self._model: WhisperModelLike | None = None
        self._model_lock = threading.Lock()
        self._closing = threading.Event()
        self._capacity = workers + queue_size
        # One token per place, running or waiting: a semaphore with a non-blocking take for
        # try_enqueue. Like every asyncio queue, it belongs to the loop that first waits on it.
        self._places: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(self._capacity):
            self._places.put_nowait(None)
        self._pending = 0  # admitted and not finished; changed on the loop only
        self._idle = asyncio.Event()  # set while nothing is pending
        self._idle.set()
        self._waiting = 0  # enqueue calls waiting for a place, which try_enqueue must not overtake
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"whisper-{size}"
        )

    @property
    def capacity(self) -> int:
        """Running plus waiting jobs the engine admits."""
        return self._capacity

    @property
    def pending(self) -> int:
        """Jobs admitted and not yet finished."""
        return self._pending

    async def wait_idle(self) -> None:
        """Return once no job is admitted and unfinished (at once if none is)."""
        await self._idle.wait()

    async def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first job)."""
        await asyncio.get_running_loop().run_in_executor(None, self._ensure_model)

    def try_enqueue(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
        *,
        task: Task = "transcribe",
    ) -> EngineJob:
        """Admit a job now or raise `QueueFullError`."""
        self._admitting()
        if self._waiting or self._places.empty():
            raise QueueFullError()
        self._places.get_nowait()
        return self._start(audio, language, word_timestamps, on_progress, task)

    async def enqueue(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
        *,
        task: Task = "transcribe",
    ) -> EngineJob:
        """Admit a job, waiting for a place in the queue if it is full."""
        self._admitting()
        self._waiting += 1
        try:
            await self._places.get()
        finally:
            self._waiting -= 1
        if self._closing.is_set():  # woken by close()
            raise EngineClosedError("the local engine was closed")
        return self._start(audio, language, word_timestamps, on_progress, task)

    async def transcribe(
        self,
        audio: bytes | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressCallback | None = None,
        *,
        task: Task = "transcribe",
    ) -> Transcript:
        """Transcribe audio bytes or a file (or translate it into English: `task`); waits for a
        place in the queue when it is full."""
        job = await self.enqueue(audio, language, word_timestamps, on_progress, task=task)
        return await job.result()

    def close(self) -> None:
        """Refuse new jobs, drop queued ones, stop running ones at their next segment."""
        self._closing.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None
        self._on_loop(self._wake_waiters)

    def _admitting(self) -> None:
        if self._closing.is_set():
            raise EngineClosedError("the local engine was closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("a LocalWhisperEngine serves one event loop; make one per loop")

    def _on_loop(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the engine's loop, from that loop or from a worker thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no loop ever waited, or it is gone with its waiters
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            callback()
        else:
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                loop.call_soon_threadsafe(callback)

    def _wake_waiters(self) -> None:
        # A place for each waiter: each finds the engine closing and leaves with an error.
        for _ in range(self._waiting):
            self._places.put_nowait(None)

    def _free_place(self) -> None:
        self._pending -= 1
        self._places.put_nowait(None)
        if self._pending == 0:
            self._idle.set()

    def _start(
        self,
        audio: bytes | Path,
        language: str | None,
        word_timestamps: bool,
        on_progress: ProgressCallback | None,
        task: Task = "transcribe",
    ) -> EngineJob:
        signals = _Signals(started=threading.Event(), cancelled=threading.Event())
        self._pending += 1
        self._idle.clear()
        try:
            future = self._executor.submit(
                self._run, audio, language, word_timestamps, on_progress, signals, task
            )
        except RuntimeError:  # the executor was shut down between admission and submission
            self._free_place()
            raise EngineClosedError("the local engine was closed") from None
        # Runs in the worker thread (or here, if already done): the place is freed on the loop.
        future.add_done_callback(lambda _: self._on_loop(self._free_place))
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
        task: Task = "transcribe",
    ) -> Transcript:
        signals.times.started = time.monotonic()
        signals.started.set()
        try:
            return self._transcribe(audio, language, word_timestamps, on_progress, signals, task)
        finally:
            signals.times.finished = time.monotonic()

    def _transcribe(
        self,
        audio: bytes | Path,
        language: str | None,
        word_timestamps: bool,
        on_progress: ProgressCallback | None,
        signals: _Signals,
        task: Task = "transcribe",
    ) -> Transcript:
        with open_audio(audio, self.options.window_seconds) as decoded:
            windows = _decoding(decoded.windows())
            # First: a corrupt file fails fast, before any model load.
            first = next(windows, None)
            if first is None:
                raise ValidationError("could not decode the audio: it holds no sound", status=400)
            model = self._ensure_model()
            language = _whisper_language(language, model.supported_languages)
            # The container's own figure until the decoding is done; then what was decoded.
            total = decoded.duration or first.seconds
            words: list[Word] = []
            parts: list[Segment] = []
            done = 0.0

            def report(seconds: float) -> None:
                progress = JobProgress(min(seconds, total), total)
                signals.progress.latest = progress
                if on_progress is not None:
                    on_progress(progress.done, progress.total)

            for window in itertools.chain([first], windows):
                segments, info = model.transcribe(
                    window.samples,
                    language=language,
                    task=task,  # "translate": English words, whatever the language heard
                    beam_size=self.options.beam_size,
                    vad_filter=self.options.vad_filter,
                    word_timestamps=word_timestamps,
                )
                # The language heard in the first window holds for the rest: one recording,
                # one language, and no detection pass per window.
                language = language or info.language
                for segment in segments:  # lazy: the decoding happens while we iterate
                    # A thread cannot be interrupted; checking between segments bounds how
                    # long a cancelled job (or a closing engine, e.g. on Ctrl-C) keeps a CPU.
                    if signals.cancelled.is_set() or self._closing.is_set():
                        raise EngineClosedError("the job was cancelled")
                    _collect(segment, window.start, parts, words)
                    report(window.start + float(segment.end))
                done = window.start + window.seconds
                total = max(total, done)
                report(done)
        total = done
        report(done)
        return Transcript(
            text=" ".join(part.text for part in parts),
            language=language,
            duration=round(total, 3),
            words=tuple(words),
            segments=tuple(parts),
            model=self.model_name,
        )


def open_audio(audio: bytes | Path, window_seconds: float) -> DecodedAudio:
    """Open any container/codec PyAV knows for decoding in windows of 16 kHz mono float32."""
    try:
        return DecodedAudio(
            audio, window_seconds=window_seconds, search_seconds=_search(window_seconds)
        )
    except FileNotFoundError:
        raise ValidationError("audio file not found", status=400) from None
    except _decode_errors() as error:
        raise ValidationError("could not decode the audio", status=400) from error


def _search(window_seconds: float) -> float:
    # Where a window may end early to cut at a pause: its last 20 s, or a third of a short one.
    return min(20.0, window_seconds / 3)


def _decoding(windows: Iterator[Window]) -> Iterator[Window]:
    """The windows, with decoding errors met on the way raised as the job API's 400."""
    while True:
        try:
            window = next(windows)
        except StopIteration:
            return
        except _decode_errors() as error:
            raise ValidationError("could not decode the audio", status=400) from error
        yield window


def _decode_errors() -> tuple[type[Exception], ...]:
    """What PyAV raises on audio it cannot read (IndexError: a container without an audio
    stream, e.g. a silent video)."""
    import av

    return (av.error.FFmpegError, IndexError, ValueError, EOFError)


def _collect(segment: Any, offset: float, parts: list[Segment], words: list[Word]) -> None:
    """One of faster-whisper's segments as ours, its times moved by its window's start."""
    for word in segment.words or ():
        if word.word.strip():
            words.append(
                Word(
                    text=word.word.strip(),
                    start=round(offset + float(word.start), 3),
                    end=round(offset + float(word.end), 3),
                    confidence=round(float(word.probability), 4),
                )
            )
    if segment.text.strip():
        parts.append(
            Segment(
                text=segment.text.strip(),
                start=round(offset + float(segment.start), 3),
                end=round(offset + float(segment.end), 3),
            )
        )


def _whisper_language(language: str | None, supported: list[str]) -> str | None:
    """The code Whisper takes ("de-AT" -> "de"), or None to detect ("auto" or nothing)."""
    if language is None or language.strip().lower() in ("", AUTO):
        return None
    code = primary_code(language)
    if code not in supported:
        raise ValidationError(f"unsupported language: {language!r}", status=400)
    return code
