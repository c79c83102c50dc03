"""The one transcript type every backend and every result family is parsed into."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float  # seconds
    end: float  # seconds
    speaker: int | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    start: float  # seconds
    end: float  # seconds
    speaker: int | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration: float | None = None  # seconds of audio, when the backend reports it
    words: tuple[Word, ...] = ()
    segments: tuple[Segment, ...] = ()
    model: str | None = None  # the model the backend says it really used

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "model": self.model,
            "words": [[w.text, w.start, w.end, w.speaker, w.confidence] for w in self.words],
            "segments": [[s.text, s.start, s.end, s.speaker] for s in self.segments],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        return cls(
            text=str(data.get("text") or ""),
            language=data.get("language"),
            duration=data.get("duration"),
            model=data.get("model"),
            words=tuple(Word(t, s, e, sp, c) for t, s, e, sp, c in data.get("words") or ()),
            segments=tuple(Segment(t, s, e, sp) for t, s, e, sp in data.get("segments") or ()),
        )

    @classmethod
    def from_json(cls, raw: str) -> Transcript:
        return cls.from_dict(json.loads(raw))


# A file this small (a voice note of a minute or two) is read on the event loop in one go:
# handing each read to a thread, as a streamed file needs, costs more CPU than the read. What
# that holds in memory is bounded by this times the uploads in flight.
SMALL_FILE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class AudioUpload:
    """Audio to upload: its bytes, or the file on disk that holds them.

    A file is streamed from where it lies, so a long recording never sits in memory whole
    (a small one is read at once: SMALL_FILE_BYTES). We never hand a Telegram file URL to a
    third party.
    """

    data: bytes | Path
    filename: str
    mime_type: str

    @property
    def path(self) -> Path | None:
        """The file that holds the audio, or None when it is in memory."""
        return self.data if isinstance(self.data, Path) else None

    @property
    def size(self) -> int:
        """Bytes of audio (a stat of the file; no read)."""
        return self.data.stat().st_size if isinstance(self.data, Path) else len(self.data)

    def open(self) -> BinaryIO:
        """A fresh reader from the start, for one upload attempt; the caller closes it."""
        if isinstance(self.data, Path):
            file = self.data.open("rb")
            if self.size > SMALL_FILE_BYTES:
                return file
            with file:
                return io.BytesIO(file.read())
        return io.BytesIO(self.data)  # shares the bytes: no copy


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a running job has got, in seconds of audio."""

    done: float
    total: float

    @property
    def share(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a backend needs to start a transcription job."""

    model: str
    params: Mapping[str, Any] = field(default_factory=dict)  # family-specific request fields
