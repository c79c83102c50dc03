"""Durations read from file bytes: exact for the containers we parse, None for anything else."""

from __future__ import annotations

import io
import struct
import wave

import pytest

from bot.audio.duration import measure_duration

OPUS_PRE_SKIP = 312


def ogg_page(body: bytes, *, granule: int, flags: int = 0, serial: int = 7, seq: int = 0) -> bytes:
    segments = [255] * (len(body) // 255) + [len(body) % 255]
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seq, 0, len(segments))
    return header + bytes(segments) + body


def ogg_opus(seconds: float, *, pages: int = 4) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, OPUS_PRE_SKIP, 48_000, 0, 0)
    data = ogg_page(head, granule=0, flags=0x02)
    data += ogg_page(b"OpusTags" + bytes(20), granule=0, seq=1)
    final = OPUS_PRE_SKIP + round(seconds * 48_000)
    for index in range(1, pages + 1):
        data += ogg_page(bytes(300), granule=final * index // pages, seq=index + 1)
    return data


def ogg_vorbis(seconds: float, rate: int = 44_100) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, rate, 0, 128_000, 0, 0xB8, 1)
    data = ogg_page(ident, granule=0, flags=0x02)
    data += ogg_page(bytes(100), granule=-1, seq=1)  # no packet ends here
    return data + ogg_page(bytes(100), granule=round(seconds * rate), seq=2)


def wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(2 * round(seconds * rate)))
    return buffer.getvalue()


def flac(seconds: float, rate: int = 44_100) -> bytes:
    packed = (rate << 44) | (1 << 41) | (15 << 36) | round(seconds * rate)
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info + bytes(64)


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def mp4(timescale: int, duration: int, *, version: int = 0) -> bytes:
    if version == 1:
        mvhd = bytes([1, 0, 0, 0]) + bytes(16) + struct.pack(">IQ", timescale, duration)
    else:
        mvhd = bytes(4) + bytes(8) + struct.pack(">II", timescale, duration)
    mvhd += bytes(80)
    ftyp = box(b"ftyp", b"M4A " + bytes(4) + b"isomM4A ")
    # The movie header often comes after the media data: the parser must walk past mdat.
    return ftyp + box(b"mdat", bytes(500)) + box(b"moov", box(b"mvhd", mvhd))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ogg_opus(60.0), 60.0),
        (ogg_opus(1.5, pages=1), 1.5),
        (ogg_vorbis(5.0), 5.0),
        (wav(2.5), 2.5),
        (flac(3.0), 3.0),
        (mp4(1000, 12_345), 12.345),
        (mp4(44_100, 44_100 * 7, version=1), 7.0),
    ],
    ids=["opus", "opus-one-page", "vorbis", "wav", "flac", "mp4", "mp4-v1"],
)
def test_durations_are_read_exactly(data: bytes, expected: float) -> None:
    assert measure_duration(data) == pytest.approx(expected)


@pytest.mark.parametrize(
    "data",
    [
        b"OggS" + bytes(range(256)) * 8,  # the tests' stand-in "audio": an OggS prefix only
        ogg_opus(10.0)[:-50],  # truncated in its last page
        ogg_page(b"OpusHead" + bytes(11), granule=0),  # no beginning-of-stream flag
        ogg_page(b"Speex   " + bytes(72), granule=0, flags=0x02) + ogg_page(b"x", granule=9),
        b"ID3\x04\x00" + bytes(100),  # MP3: no cheap exact duration, so none
        wav(1.0)[:40],  # header cut before the data chunk
        flac(0.0),  # unknown sample count
        box(b"ftyp", b"isom") + box(b"moov", bytes(3)),  # malformed box
        b"",
    ],
    ids=[
        "fake-ogg",
        "truncated-ogg",
        "no-bos",
        "speex",
        "mp3",
        "short-wav",
        "flac-unknown",
        "bad-mp4",
        "empty",
    ],
)
def test_anything_not_read_exactly_is_none(data: bytes) -> None:
    assert measure_duration(data) is None
