"""Tell an audio file's real format from its first bytes.

File names and declared types lie: Telegram voice notes are OGG/Opus, and clients happily
upload them as "sample.mp3" with audio/mpeg (the AIML docs' own example does).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AudioFormat:
    name: str  # short, e.g. "ogg/opus"
    mime_type: str
    extension: str  # without the dot


OGG_OPUS = AudioFormat("ogg/opus", "audio/ogg", "ogg")
OGG_VORBIS = AudioFormat("ogg/vorbis", "audio/ogg", "ogg")
OGG = AudioFormat("ogg", "audio/ogg", "ogg")
MP3 = AudioFormat("mp3", "audio/mpeg", "mp3")
WAV = AudioFormat("wav", "audio/wav", "wav")
FLAC = AudioFormat("flac", "audio/flac", "flac")
AAC = AudioFormat("aac", "audio/aac", "aac")
M4A = AudioFormat("m4a", "audio/mp4", "m4a")
MP4 = AudioFormat("mp4", "video/mp4", "mp4")
WEBM = AudioFormat("webm", "audio/webm", "webm")
AMR = AudioFormat("amr", "audio/amr", "amr")
AIFF = AudioFormat("aiff", "audio/aiff", "aiff")

_OGG_CODECS = ((b"OpusHead", OGG_OPUS), (b"\x01vorbis", OGG_VORBIS))
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


def sniff_audio(data: bytes) -> AudioFormat | None:
    """The format of `data` by its magic bytes, or None when it is not one we recognise."""
    if data.startswith(b"OggS"):
        # The first page carries the codec's identification header.
        head = data[:64]
        return next((fmt for magic, fmt in _OGG_CODECS if magic in head), OGG)
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return WAV
    if data.startswith(b"fLaC"):
        return FLAC
    if data.startswith(b"ID3"):
        return MP3  # an ID3v2 tag; MP3 is by far its most common payload
    if data[4:8] == b"ftyp":
        return M4A if data[8:12] in _AUDIO_BRANDS else MP4
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM  # EBML: WebM or Matroska
    if data.startswith(b"#!AMR"):
        return AMR
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        # An MPEG frame sync. Layer bits 00 mean ADTS AAC; anything else is MPEG audio.
        return AAC if data[1] & 0x06 == 0 else MP3
    return None
