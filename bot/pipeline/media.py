"""What a transcription request is about: the media, who sent it, and where."""

from __future__ import annotations

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
        default_name, default_type = DEFAULT_FILES[self.kind]
        return self.file_name or default_name, self.mime_type or default_type


@dataclass(frozen=True, slots=True)
class Origin:
    """The message a transcript answers."""

    chat_id: int
    chat_type: str
    message_id: int
