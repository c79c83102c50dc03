"""How long a recording lasts, read by PyAV without decoding it: for the formats
bot/audio/duration.py cannot read exactly (MP3, WebM, ...).

The container's own duration comes first. A stream that declares none (browsers' WebM, for
one) is demuxed, and its packets' durations are summed: memory stays flat, and no sample is
decoded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def probe_duration(audio: bytes | Path) -> float | None:
    """Seconds of audio in the first audio stream, or None when PyAV cannot tell (or is not
    installed: the engine then reports the audio as it finds it)."""
    try:
        import av
    except ImportError:
        return None

    source: str | io.BytesIO = io.BytesIO(audio) if isinstance(audio, bytes) else str(audio)
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
            return _packet_seconds(container.demux(stream), stream.time_base)
    except (av.error.FFmpegError, ValueError, EOFError, IndexError):
        logger.debug("could not probe the duration", exc_info=True)
        return None


def _packet_seconds(packets: Iterable[Any], time_base: Fraction | None) -> float | None:
    if time_base is None:
        return None
    ticks = 0
    for packet in packets:
        if packet.duration:
            ticks += packet.duration
    return float(ticks * time_base) if ticks else None
