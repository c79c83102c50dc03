"""A stand-in for faster-whisper's model, for queue and backend tests that need no weights."""

from __future__ import annotations

import io
import math
import struct
import threading
import wave
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.local.engine import LoadRequest, LocalWhisperEngine


def tone_wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    """A short sine tone as WAV bytes: real audio that PyAV decodes, made without any tool."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@dataclass
class _Word:
    word: str
    start: float
    end: float
    probability: float


@dataclass
class _Segment:
    text: str
    start: float
    end: float
    words: list[_Word]


@dataclass
class _Info:
    language: str
    duration: float


@dataclass
class FakeWhisper:
    """Answers "hello world"; `gate` (when given) holds every job until it is set."""

    gate: threading.Event | None = None
    fail_with: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    running: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def supported_languages(self) -> list[str]:
        return ["en", "de"]

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterable[Any], Any]:
        self.calls.append(options)
        self.running.release()
        if self.gate is not None and not self.gate.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")
        if self.fail_with is not None:
            raise self.fail_with
        duration = len(audio) / 16_000
        words = [_Word(" hello", 0.0, 0.2, 0.9), _Word(" world", 0.2, 0.4, 0.8)]
        segments = [_Segment(" hello world", 0.0, 0.4, words)]
        return iter(segments), _Info(language=options.get("language") or "en", duration=duration)


def fake_engine(
    model: FakeWhisper, *, size: str = "base", workers: int = 1, queue: int = 1
) -> LocalWhisperEngine:
    def load(request: LoadRequest) -> FakeWhisper:
        return model

    return LocalWhisperEngine(size, workers=workers, queue_size=queue, loader=load)
