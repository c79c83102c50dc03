"""What a transcription request is about: the media, who sent it, and where."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class MediaKind(StrEnum):
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO_NOTE = "video_note"
    VIDEO = "video"
    DOCUMENT = "document"


# Telegram does not always keep the name and type of a file, so we pick them from the message.
DEFAULT_FILES: dict[MediaKind, tuple[str, str]] = {
    MediaKind.VOICE: ("voice.ogg", "audio/ogg"),
    MediaKind.AUDIO: ("audio.mp3", "audio/mpeg"),
    MediaKind.VIDEO_NOTE: ("video_note.mp4", "video/mp4"),
    MediaKind.VIDEO: ("video.mp4", "video/mp4"),
    MediaKind.DOCUMENT: ("audio.bin", "application/octet-stream"),
}


@dataclass(frozen=True, slots=True)
class MediaRef:
    kind: MediaKind
    file_id: str
    file_unique_id: str
    duration: float | None  # seconds, as the sender's client declared it
    file_size: int | None
    mime_type: str | None
    file_name: str | None

    def upload_name_and_type(self) -> tuple[str, str]:
        """The name and type to upload under: the sender's, when they are safe in a header."""
        default_name, default_type = DEFAULT_FILES[self.kind]
        name = _safe_file_name(self.file_name) or default_name
        mime_type = self.mime_type if self.mime_type and _MIME.fullmatch(self.mime_type) else None
        return name, mime_type or default_type


# Anyone can name a document: a CR or LF in a multipart header is refused by aiohttp (and
# would be header injection if it were not), so such names and types are cleaned or dropped.
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]+')


def _safe_file_name(raw: str | None) -> str | None:
    if not raw:
        return None
    cleaned = _UNSAFE_IN_NAME.sub("_", raw).strip(" ._")[:128]
    return cleaned or None


@dataclass(frozen=True, slots=True)
class Origin:
    """The message a transcript answers."""

    chat_id: int
    chat_type: str
    message_id: int
