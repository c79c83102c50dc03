"""`stt-bot transcribe PATH_OR_URL`: one recording through the configured backend.

The transcript goes to stdout (text, JSON, SRT or WebVTT); progress and errors go to stderr, so
the output can be piped. It reads the bot's settings (environment, then `.env`) but needs no
TELEGRAM_BOT_TOKEN: the backend is chosen as for the bot, an OpenAI-compatible server when
OPENAI_BASE_URL is set, the AIML API when AIMLAPI_KEY is set (or STT_BACKEND says which),
otherwise the local engine. Exit status: 0 done, 1 the transcription
failed (unreadable file, API error, undecodable audio), 2 a usage or configuration problem.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from bot.config.settings import Settings
from bot.local.config import LocalConfig
from bot.presentation.file_formats import render
from bot.stt.catalogue import UnknownModelError, build_params, get_model
from bot.stt.errors import SttError, UnsupportedModelError, ValidationError
from bot.stt.types import AudioUpload, JobRequest, Transcript

MAX_DOWNLOAD_BYTES = 500_000_000  # a URL's audio is held in memory
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_BAR_WIDTH = 24


class CliError(Exception):
    """A failure to report as one line, with the exit status to return."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def transcribe_command(
    args: argparse.Namespace,
    settings: Settings | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Raises SettingsError for a bad configuration (the CLI's exit status 2)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if settings is None:
        settings = Settings.from_env()
    try:
        transcript = asyncio.run(_transcribe(args, settings, Progress(err)))
    except CliError as error:
        print(f"stt-bot: {' '.join(str(error).split())}", file=err)
        return error.exit_code
    except KeyboardInterrupt:
        print("stt-bot: interrupted", file=err)
        return 130
    out.write(render(transcript, args.output_format))
    out.flush()
    if transcript.is_empty:
        print("stt-bot: no speech was recognised", file=err)
    return 0


async def _transcribe(
    args: argparse.Namespace, settings: Settings, progress: Progress
) -> Transcript:
    model: str = args.model or settings.default_model
    language = None if args.language in (None, "", "auto") else args.language
    source: str = args.source
    try:
        if settings.backend == "local":
            # Only the model matters: one file needs one worker and no queue (see below).
            config = LocalConfig(size=settings.local_model, model_dir=settings.local_model_dir)
            return await _transcribe_locally(source, model, language, config, progress)
        return await _transcribe_remotely(source, model, language, settings, progress)
    except ValidationError as error:
        raise CliError(f"{_display(source)}: {error}") from None
    except SttError as error:
        raise CliError(f"transcription failed: {error}") from None
    finally:
        progress.stop()


async def _transcribe_locally(
    source: str, model: str, language: str | None, config: LocalConfig, progress: Progress
) -> Transcript:
    from bot.local.backend import local_size_for_model, offline_sizes
    from bot.local.engine import LocalWhisperEngine

    try:
        get_model(model)
    except UnknownModelError:
        raise CliError(f"unknown model: {model!r}", 2) from None
    try:
        size = local_size_for_model(
            model, default_size=config.size, available=offline_sizes(config)
        )
    except UnsupportedModelError as error:
        raise CliError(f"{error}", 2) from None
    # Files are decoded from disk; only a URL's audio is held in memory.
    audio: bytes | Path = await _download(source, progress) if _is_url(source) else _path(source)
    engine = LocalWhisperEngine(
        size,
        model_dir=config.model_dir if size == config.size else None,
        workers=1,
        queue_size=0,
    )
    try:
        async with progress.running(f"loading local/{size}"):
            await engine.load()
        async with progress.running(f"transcribing with local/{size}"):
            return await engine.transcribe(audio, language, on_progress=progress.advance)
    finally:
        engine.close()


async def _transcribe_remotely(
    source: str, model: str, language: str | None, settings: Settings, progress: Progress
) -> Transcript:
    """Through the AIML API, or an OpenAI-compatible server (OPENAI_BASE_URL)."""
    from bot.audio.sniff import sniff_audio
    from bot.stt.aiml_backend import AimlBackend
    from bot.stt.backend import SttBackend
    from bot.stt.openai_backend import OpenAiBackend
    from bot.stt.schedule import PollSchedule

    try:
        spec = get_model(model)
    except UnknownModelError:
        raise CliError(f"unknown model: {model!r}", 2) from None
    if spec.is_local:
        raise CliError(f"{model} is a local model: unset AIMLAPI_KEY or set STT_BACKEND=local", 2)
    data = await _download(source, progress) if _is_url(source) else _read(_path(source))
    sniffed = sniff_audio(data)
    upload = AudioUpload(
        data=data,
        filename=f"audio.{sniffed.extension}" if sniffed else Path(source).name or "audio",
        mime_type=sniffed.mime_type if sniffed else "application/octet-stream",
    )
    request = JobRequest(model=model, params=build_params(spec, language=language, diarize=False))
    backend: SttBackend
    if settings.backend == "openai":
        backend = OpenAiBackend.open(settings.openai_url, settings.openai_api_key)
    elif settings.aimlapi_key is None:
        raise CliError("the AIML backend needs AIMLAPI_KEY", 2)
    else:
        backend = AimlBackend.open(settings.aimlapi_base_url, settings.aimlapi_key, PollSchedule())
    try:
        async with progress.running(f"uploading to {model}"):
            generation_id = await backend.submit(upload, request)
        async with progress.running(f"waiting for {model}"):
            return await backend.wait_result(generation_id, request, audio_seconds=None)
    finally:
        await backend.close()


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _display(source: str) -> str:
    return source if _is_url(source) else str(Path(source))


def _path(source: str) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise CliError(f"no such file: {source}")
    if path.is_dir():
        raise CliError(f"{source} is a directory, not an audio file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise CliError(f"cannot read {source}: {error.strerror or error}") from None
    return path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None


async def _download(url: str, progress: Progress) -> bytes:
    from bot.net.fetch import FetchError, UrlFetcher
    from bot.net.guards import UrlRefusedError

    # The user runs this on their own machine: their private addresses are theirs to fetch.
    fetcher = UrlFetcher(max_bytes=MAX_DOWNLOAD_BYTES, allow_private=True, timeout=300.0)
    try:
        async with progress.running("downloading"):
            return await fetcher.fetch(url)
    except (FetchError, UrlRefusedError) as error:
        raise CliError(f"{url}: {error}") from None
    finally:
        await fetcher.close()


class Progress:
    """Progress on stderr: a redrawn status line on a terminal, plain lines otherwise.

    `advance` is called from the engine's worker thread, so state is guarded by a lock.
    """

    def __init__(self, stream: TextIO, *, interactive: bool | None = None) -> None:
        self._stream = stream
        self._interactive = stream.isatty() if interactive is None else interactive
        self._lock = threading.Lock()
        self._label = ""
        self._started = time.monotonic()
        self._done = 0.0
        self._total = 0.0
        self._ticker: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self, label: str) -> AsyncIterator[None]:
        with self._lock:
            self._label, self._started, self._done, self._total = label, time.monotonic(), 0, 0
        if self._interactive:
            self._ticker = asyncio.create_task(self._tick())
        else:
            self._line(f"{label}...")
        try:
            yield
        finally:
            self.stop()
            self._line(f"{label}: {time.monotonic() - self._started:.1f}s")

    def advance(self, done: float, total: float) -> None:
        with self._lock:
            self._done, self._total = done, total
        if not self._interactive and total > 0:
            self._line(f"  {done:.1f} of {total:.1f}s of audio ({100 * done / total:.0f}%)")

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
            self._write("\r\x1b[2K")

    async def _tick(self) -> None:
        frame = 0
        while True:
            self._write("\r\x1b[2K" + self._status(_SPINNER[frame % len(_SPINNER)]))
            frame += 1
            await asyncio.sleep(0.1)

    def _status(self, spinner: str) -> str:
        with self._lock:
            label, done, total = self._label, self._done, self._total
            elapsed = time.monotonic() - self._started
        status = f"{spinner} {label} {elapsed:5.1f}s"
        if total > 0:
            filled = round(_BAR_WIDTH * min(1.0, done / total))
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            status += f" [{bar}] {done:.0f}/{total:.0f}s"
        return status

    def _line(self, text: str) -> None:
        self._write(f"stt-bot: {text}\n")

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(text)
            self._stream.flush()
