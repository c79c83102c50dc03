"""Decode audio as it is read, in windows of two minutes, so memory stays flat at any length.

faster-whisper's own `decode_audio` holds the whole recording as 16 kHz float32 samples
(230 MB an hour, twice over while it converts), and its `transcribe` expects them whole. Here
PyAV decodes the file frame by frame and hands on one window at a time: at most a window and one
decoded frame group are alive, whatever the recording's length.

A window ends at the quietest moment (the lowest 100 ms energy) in the last `search_seconds`
before its nominal length, so a cut seldom falls inside a word; the next window starts exactly
there, so timestamps carry on: a window's `start` is added to every time in it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# PyAV and numpy come with the [local] extra; they are imported when a recording is opened, so
# this module (and the engine that names it) imports without them.

SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects
_FRAME_GROUP = 500_000  # source samples resampled at once, as faster-whisper's decode_audio does
_ENERGY_FRAME = SAMPLE_RATE // 10  # 100 ms


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # seconds from the start of the recording
    samples: Any  # numpy float32, mono, SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


class DecodedAudio:
    """A recording opened for decoding. Iterate `windows()` once; close when done (or use
    `with`). `duration` is the container's figure, when it states one."""

    def __init__(
        self, source: bytes | Path, *, window_seconds: float, search_seconds: float
    ) -> None:
        import av

        if window_seconds <= 0 or not 0 <= search_seconds < window_seconds:
            raise ValueError("need window_seconds > 0 and 0 <= search_seconds < window_seconds")
        self._window = round(window_seconds * SAMPLE_RATE)
        self._search = round(search_seconds * SAMPLE_RATE)
        opened: str | io.BytesIO = io.BytesIO(source) if isinstance(source, bytes) else str(source)
        self._container = av.open(opened, mode="r", metadata_errors="ignore")
        try:
            self._stream = self._container.streams.audio[0]  # IndexError: no audio in it
        except BaseException:
            self._container.close()
            raise
        microseconds = self._container.duration
        self.duration: float | None = microseconds / 1_000_000 if microseconds else None

    def __enter__(self) -> DecodedAudio:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def windows(self) -> Iterator[Window]:
        """The recording in consecutive windows, cut at quiet moments; the last may be short."""
        import numpy

        pending: list[Any] = []  # int16 chunks not yet handed on
        held = 0
        start = 0  # samples handed on so far
        for chunk in self._chunks():
            pending.append(chunk)
            held += len(chunk)
            while held >= self._window + self._search:
                buffer = numpy.concatenate(pending)
                cut = _quiet_cut(buffer, self._window, self._search)
                yield Window(start / SAMPLE_RATE, _as_float(buffer[:cut]))
                start += cut
                rest = buffer[cut:]
                pending, held = [rest], len(rest)
        if held:
            yield Window(start / SAMPLE_RATE, _as_float(numpy.concatenate(pending)))

    def _chunks(self) -> Iterator[Any]:
        """int16 mono samples at SAMPLE_RATE, a group of frames at a time."""
        from av.audio.fifo import AudioFifo
        from av.audio.resampler import AudioResampler

        resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        fifo = AudioFifo()
        for frame in _valid_frames(self._container.decode(self._stream)):
            frame.pts = None  # a stream's odd timestamps must not stop the FIFO
            fifo.write(frame)
            if fifo.samples >= _FRAME_GROUP:
                yield from _resampled(resampler, fifo.read())
        if fifo.samples:
            yield from _resampled(resampler, fifo.read())
        yield from _resampled(resampler, None)  # None flushes what the resampler holds


def _resampled(resampler: Any, frame: Any) -> Iterator[Any]:
    for resampled in resampler.resample(frame):
        yield resampled.to_ndarray().reshape(-1)


def _valid_frames(frames: Iterator[Any]) -> Iterator[Any]:
    """Skip frames FFmpeg cannot decode (as faster-whisper does), keep the rest."""
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _quiet_cut(samples: Any, window: int, search: int) -> int:
    """Where to end a window: the middle of the quietest 100 ms in [window - search, window]."""
    import numpy

    if search < _ENERGY_FRAME:
        return window
    region = samples[window - search : window].astype(numpy.float32)
    frames = len(region) // _ENERGY_FRAME
    energy = numpy.square(region[: frames * _ENERGY_FRAME]).reshape(frames, -1).sum(axis=1)
    quietest = int(numpy.argmin(energy))
    return window - search + quietest * _ENERGY_FRAME + _ENERGY_FRAME // 2


def _as_float(samples: Any) -> Any:
    return samples.astype("float32") / 32768.0
