"""Traceable voice notes for the chaos harness: each note's bytes and transcript name the note.

A note is a small, valid Ogg Opus file whose duration (the last granule position) equals the
duration declared to the bot, with a marker such as ``chaosnote00042``, its length in seconds and
its transcript's word length in the audio packet. The fake STT API reads them back from the
uploaded bytes and answers ``chaosnote00042x0 chaosnote00042x1 ...``: two words per second, so
the fake's reported duration (0.5 s per word) equals the declared one too. Every word names the
note and its place, so each part of a transcript split over several messages is traced, and a
part shown twice is seen. A long note pads its words (``chaosnote00042x7zzzz...``) so that its
transcript fills several messages, or a file.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Final

MARKER_PREFIX: Final = "chaosnote"
_HEADER_RE: Final = re.compile(rb"(chaosnote\d{5});seconds=(\d+);chars=(\d+);")
_WORD_RE: Final = re.compile(r"(chaosnote\d{5})x(\d+)")
_OPUS_RATE: Final = 48_000
_PRE_SKIP: Final = 312
_SERIAL: Final = 0x5EED


@dataclass(frozen=True, slots=True)
class Note:
    """One pushed voice note, as the harness and the fakes process describe it."""

    marker: str
    user_id: int
    chat_id: int  # a private chat: the user's id
    message_id: int
    seconds: int  # declared, measured and reported alike
    stt_delay: float  # seconds the fake API takes to transcribe it
    word_chars: int = 0  # each transcript word padded to this length (0: not padded)

    @property
    def words(self) -> int:
        return word_count(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Note:
        return cls(**data)


def marker_for(index: int) -> str:
    return f"{MARKER_PREFIX}{index:05d}"


def word_count(seconds: int) -> int:
    return max(1, 2 * seconds)


def transcript_words(marker: str, seconds: int, word_chars: int = 0) -> list[str]:
    """The words the fake API hears in a note: 2 a second, each naming the note and its place,
    padded with "z" to `word_chars` characters."""
    return [f"{marker}x{i}".ljust(word_chars, "z") for i in range(word_count(seconds))]


def parse_note(data: bytes) -> tuple[str, int, int] | None:
    """(marker, seconds, word_chars) of a note's file bytes, or None for any other file."""
    match = _HEADER_RE.search(data)
    if match is None:
        return None
    return match.group(1).decode(), int(match.group(2)), int(match.group(3))


def transcript_for(data: bytes) -> str | None:
    """What the fake STT API answers for these bytes, or None when they are not a note."""
    parsed = parse_note(data)
    return None if parsed is None else " ".join(transcript_words(*parsed))


def carries(text: str | None, marker: str) -> bool:
    """Whether a message text (or a sent file's text) shows any of the note's transcript."""
    return text is not None and marker in text


def words_shown(text: str | None, marker: str) -> Counter[int]:
    """How often each word (by its place) of the note's transcript appears in a text."""
    if text is None:
        return Counter()
    return Counter(int(place) for name, place in _WORD_RE.findall(text) if name == marker)


def note_bytes(marker: str, seconds: int, word_chars: int = 0, size: int = 0) -> bytes:
    """A valid Ogg Opus stream lasting `seconds`, with the note's header in its audio packet.

    size: pad it to at least this many bytes (a 20 MB note for the memory benchmark) with
    pages of zeros before the last one, whose granule position still gives the duration.
    """
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, _PRE_SKIP, _OPUS_RATE, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 5) + b"chaos" + struct.pack("<I", 0)
    packet = f"{marker};seconds={seconds};chars={word_chars};".encode().ljust(200, b"\0")
    granule = _PRE_SKIP + seconds * _OPUS_RATE
    padding = _padding_pages(size - 600, first_sequence=2) if size > 600 else []
    return b"".join(
        (
            _ogg_page(head, granule=0, sequence=0, flags=0x02),
            _ogg_page(tags, granule=0, sequence=1, flags=0x00),
            *padding,
            _ogg_page(packet, granule=granule, sequence=2 + len(padding), flags=0x04),
        )
    )


_PAD_BODY = 255 * 255  # the most one page holds: 255 segments of 255 bytes


def _padding_pages(size: int, *, first_sequence: int) -> list[bytes]:
    """Pages of zeros, about `size` bytes in all. No packet ends on them (granule -1), and
    their CRC is left 0: computing it in Python for megabytes would take seconds, and no
    reader of these notes checks it (the bot reads the first and the last page only)."""
    table = bytes([255] * 255)
    body = bytes(_PAD_BODY)
    pages: list[bytes] = []
    for index in range(max(1, size // (_PAD_BODY + 282))):
        header = struct.pack(
            "<4sBBqIIIB", b"OggS", 0, 0, -1, _SERIAL, first_sequence + index, 0, 255
        )
        pages.append(header + table + body)
    return pages


def _ogg_page(body: bytes, *, granule: int, sequence: int, flags: int) -> bytes:
    if len(body) >= 255:
        raise ValueError("one segment per page: keep the packet under 255 bytes")
    # One segment: the lacing table is the body's length. The CRC field is 0 while computed.
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, _SERIAL, sequence, 0, 1)
    page = header + bytes([len(body)]) + body
    checksum = _ogg_crc(page)
    return page[:22] + struct.pack("<I", checksum) + page[26:]


def _ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, initial value and final XOR 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc
