"""Read an audio file's duration from its bytes, for the containers where that is cheap and exact.

Telegram's `duration` is declared by the sender's client, and documents often have none; the
quota must not rest on either alone. We read: OGG (Opus and Vorbis: the last page's granule
position), WAV (data size over byte rate), FLAC (STREAMINFO's sample count) and MP4/M4A
(the movie header). Anything else (MP3, WebM, ...) returns None: the caller keeps its estimate.

Every parser is strict: a file that does not parse exactly returns None rather than a guess.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

_OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, seq, crc, n
_OGG_BOS = 0x02
_OPUS_RATE = 48_000  # Opus granule positions always count 48 kHz samples


def measure_duration(data: bytes) -> float | None:
    """The duration in seconds, or None when the format is not one we read exactly."""
    readers: tuple[tuple[Callable[[bytes], bool], Callable[[bytes], float | None]], ...] = (
        (lambda d: d.startswith(b"OggS"), _ogg_duration),
        (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE", _wav_duration),
        (lambda d: d.startswith(b"fLaC"), _flac_duration),
        (lambda d: d[4:8] == b"ftyp", _mp4_duration),
    )
    for matches, read in readers:
        if matches(data):
            try:
                seconds = read(data)
            except (struct.error, IndexError, ValueError, ZeroDivisionError):
                return None
            return seconds if seconds is not None and seconds >= 0 else None
    return None


def _ogg_duration(data: bytes) -> float | None:
    offset = 0
    serial: int | None = None
    rate: int | None = None
    pre_skip = 0
    last_granule = -1
    while offset < len(data):
        capture, version, flags, granule, page_serial, _, _, segments = _OGG_HEADER.unpack_from(
            data, offset
        )
        if capture != b"OggS" or version != 0:
            return None
        table_start = offset + _OGG_HEADER.size
        body_start = table_start + segments
        body_end = body_start + sum(data[table_start:body_start])
        if body_start > len(data) or body_end > len(data):
            return None  # truncated
        if serial is None:
            if not flags & _OGG_BOS:
                return None
            serial = page_serial
            body = data[body_start:body_end]
            if body.startswith(b"OpusHead"):
                rate = _OPUS_RATE
                pre_skip = struct.unpack_from("<H", body, 10)[0]
            elif body.startswith(b"\x01vorbis"):
                rate = struct.unpack_from("<I", body, 12)[0]
            else:
                return None
        elif page_serial == serial and granule >= 0:
            last_granule = granule  # -1: no packet ends on this page
        offset = body_end
    if rate is None or last_granule < 0:
        return None
    return max(0, last_granule - pre_skip) / rate


def _wav_duration(data: bytes) -> float | None:
    offset = 12
    byte_rate: int | None = None
    while offset + 8 <= len(data):
        chunk, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if chunk == b"fmt ":
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif chunk == b"data":
            if not byte_rate:
                return None
            # Streamed WAVs write 0 or 0xFFFFFFFF before they know the size: count what is here.
            available = len(data) - body
            length = available if size in (0, 0xFFFFFFFF) else min(size, available)
            return length / byte_rate
        offset = body + size + (size & 1)  # chunks are padded to even sizes
    return None


def _flac_duration(data: bytes) -> float | None:
    block_type = data[4] & 0x7F
    if block_type != 0:  # STREAMINFO must come first
        return None
    info = int.from_bytes(data[18:26], "big")
    rate = info >> 44
    samples = info & ((1 << 36) - 1)
    if rate == 0 or samples == 0:
        return None
    return samples / rate


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, body start, body end) of each ISO-BMFF box between start and end."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise ValueError("malformed box")
        found.append((kind, offset + header, offset + size))
        offset += size
    return found


def _mp4_duration(data: bytes) -> float | None:
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, body, _ in _boxes(data, start, end):
            if inner != b"mvhd":
                continue
            if data[body] == 1:
                timescale, duration = struct.unpack_from(">IQ", data, body + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, body + 12)
            if timescale == 0 or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                return None
            return float(duration / timescale)
    return None
