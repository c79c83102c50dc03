"""Read an audio file's duration from its headers, for the containers where that is cheap and exact.

Telegram's `duration` is declared by the sender's client, and documents often have none; the
quota must not rest on either alone. We read: OGG (Opus and Vorbis: the last page's granule
position), WAV (data size over byte rate), FLAC (STREAMINFO's sample count) and MP4/M4A
(the movie header). Anything else (MP3, WebM, ...) returns None: the caller keeps its estimate.

Only headers are read, never the whole file: the first OGG page and the pages that end it, the
chunk and box headers of WAV and MP4 (skipping their bodies). So a 2 GB file costs a few small
reads, from bytes in memory (`measure_duration`) or from a file on disk (`measure_file_duration`).

Every parser is strict: a file that does not parse exactly returns None rather than a guess.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

_OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, seq, crc, n
_OGG_BOS = 0x02
_OPUS_RATE = 48_000  # Opus granule positions always count 48 kHz samples
_OGG_MAX_PAGE = _OGG_HEADER.size + 255 + 255 * 255  # header, lacing table, body
# How far from the end the last pages are looked for: a few pages of the largest size.
_OGG_TAIL = 4 * _OGG_MAX_PAGE
# A file of more chunks or boxes than this is not one a recorder wrote; give up on it.
_MAX_ENTRIES = 4096
_HEAD = 64  # bytes enough to recognise every format


class _Source(Protocol):
    """Random access to the file's bytes: whole bytes, or an open file."""

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end)."""
        ...


class _BytesSource:
    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


class _FileSource:
    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file = file
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(length)


def measure_duration(data: bytes) -> float | None:
    """The duration in seconds of audio in memory, or None when it is not read exactly."""
    return _measure(_BytesSource(data))


def measure_file_duration(path: Path) -> float | None:
    """The duration in seconds of an audio file, or None when it is not read exactly.

    Blocking (a few small reads): in async code, call it from a worker thread unless the
    file is small enough to be in the page cache (see the pipeline).
    """
    try:
        with path.open("rb") as file:
            return _measure(_FileSource(file, path.stat().st_size))
    except OSError:
        return None


def _measure(source: _Source) -> float | None:
    head = source.read(0, _HEAD)
    readers: tuple[tuple[Callable[[bytes], bool], Callable[[_Source], float | None]], ...] = (
        (lambda d: d.startswith(b"OggS"), _ogg_duration),
        (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE", _wav_duration),
        (lambda d: d.startswith(b"fLaC"), _flac_duration),
        (lambda d: d[4:8] == b"ftyp", _mp4_duration),
    )
    for matches, read in readers:
        if matches(head):
            try:
                seconds = read(source)
            except (struct.error, IndexError, ValueError, ZeroDivisionError):
                return None
            return seconds if seconds is not None and seconds >= 0 else None
    return None


def _ogg_page_at(data: bytes, offset: int) -> tuple[int, int, int, int, int] | None:
    """(flags, granule, serial, body start, end) of the page starting at `offset` in `data`, or
    None when no page header of version 0 starts there."""
    if offset + _OGG_HEADER.size > len(data):
        return None
    capture, version, flags, granule, serial, _, _, segments = _OGG_HEADER.unpack_from(data, offset)
    if capture != b"OggS" or version != 0:
        return None
    table_start = offset + _OGG_HEADER.size
    body_start = table_start + segments
    if body_start > len(data):
        return None
    return flags, granule, serial, body_start, body_start + sum(data[table_start:body_start])


def _ogg_duration(source: _Source) -> float | None:
    # The first page names the codec (and its rate); the last granule position is the length.
    head = source.read(0, _OGG_MAX_PAGE)
    first = _ogg_page_at(head, 0)
    if first is None:
        return None
    flags, _, serial, body_start, first_end = first
    if not flags & _OGG_BOS or first_end > len(head):
        return None
    body = head[body_start:first_end]
    if body.startswith(b"OpusHead"):
        rate, pre_skip = _OPUS_RATE, int(struct.unpack_from("<H", body, 10)[0])
    elif body.startswith(b"\x01vorbis"):
        rate, pre_skip = int(struct.unpack_from("<I", body, 12)[0]), 0
    else:
        return None
    last_granule = _last_granule(source, serial, first_end)
    if rate == 0 or last_granule is None:
        return None
    return max(0, last_granule - pre_skip) / rate


def _last_granule(source: _Source, serial: int, first_end: int) -> int | None:
    """The granule position of the stream's last page that ends a packet.

    Pages are chained back from the end of the file: each must end exactly where the next one
    starts, the last exactly at the end, so an "OggS" inside audio data is never mistaken for a
    page, and a truncated file has no last page at all.
    """
    start = max(first_end, source.size - _OGG_TAIL)
    tail = source.read(start, source.size - start)
    end = len(tail)
    position = tail.rfind(b"OggS")
    while position >= 0:
        page = _ogg_page_at(tail, position)
        if page is not None and page[4] == end:
            _, granule, page_serial, _, _ = page
            if page_serial == serial and granule >= 0:
                return int(granule)
            end = position  # no packet ends here (-1), or another stream's page: look before
        position = tail.rfind(b"OggS", 0, position)
    return None  # truncated, trailing garbage, or no page after the first that ends a packet


def _wav_duration(source: _Source) -> float | None:
    offset = 12
    byte_rate: int | None = None
    for _ in range(_MAX_ENTRIES):
        header = source.read(offset, 8)
        if len(header) < 8:
            return None
        chunk, size = struct.unpack("<4sI", header)
        body = offset + 8
        if chunk == b"fmt ":
            byte_rate = struct.unpack("<I", source.read(body + 8, 4))[0]
        elif chunk == b"data":
            if not byte_rate:
                return None
            # Streamed WAVs write 0 or 0xFFFFFFFF before they know the size: count what is here.
            available = source.size - body
            length = available if size in (0, 0xFFFFFFFF) else min(size, available)
            return length / byte_rate
        offset = body + size + (size & 1)  # chunks are padded to even sizes
    return None


def _flac_duration(source: _Source) -> float | None:
    data = source.read(0, 26)
    block_type = data[4] & 0x7F
    if block_type != 0:  # STREAMINFO must come first
        return None
    info = int.from_bytes(data[18:26], "big")
    rate = info >> 44
    samples = info & ((1 << 36) - 1)
    if rate == 0 or samples == 0:
        return None
    return samples / rate


def _boxes(source: _Source, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, body start, body end) of each ISO-BMFF box between start and end."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end:
        if len(found) >= _MAX_ENTRIES:
            raise ValueError("too many boxes")
        header = source.read(offset, 16)
        size, kind = struct.unpack_from(">I4s", header)
        length = 8
        if size == 1:
            size = struct.unpack_from(">Q", header, 8)[0]
            length = 16
        elif size == 0:
            size = end - offset
        if size < length or offset + size > end:
            raise ValueError("malformed box")
        found.append((kind, offset + length, offset + size))
        offset += size
    return found


def _mp4_duration(source: _Source) -> float | None:
    for kind, start, end in _boxes(source, 0, source.size):
        if kind != b"moov":
            continue
        for inner, body, body_end in _boxes(source, start, end):
            if inner != b"mvhd":
                continue
            header = source.read(body, min(32, body_end - body))
            if header[0] == 1:
                timescale, duration = struct.unpack_from(">IQ", header, 20)
            else:
                timescale, duration = struct.unpack_from(">II", header, 12)
            if timescale == 0 or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                return None
            return float(duration / timescale)
    return None
