"""Render a Transcript as plain text, SubRip (.srt), WebVTT (.vtt) or JSON.

Cues come from the transcript's segments; without segments, from its words grouped into lines
(bot/stt/segmentation.py, the same rule as segments parsed from an API); without either, one cue
spanning the whole audio.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.stt.segmentation import segments_from_words
from bot.stt.types import Transcript

OutputFormat = Literal["text", "json", "srt", "vtt"]

_SECONDS_PER_WORD = 0.4  # only to time a transcript that came without any timings


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str


def render(transcript: Transcript, output_format: OutputFormat) -> str:
    renderers: dict[str, Callable[[Transcript], str]] = {
        "text": to_text,
        "json": to_json,
        "srt": to_srt,
        "vtt": to_vtt,
    }
    return renderers[output_format](transcript)


def to_text(transcript: Transcript) -> str:
    return transcript.text.strip() + "\n"


def to_json(transcript: Transcript) -> str:
    data = {
        "text": transcript.text,
        "language": transcript.language,
        "duration": transcript.duration,
        "model": transcript.model,
        "segments": [
            {"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker}
            for s in transcript.segments
        ],
        "words": [
            {
                "word": w.text,
                "start": w.start,
                "end": w.end,
                "confidence": w.confidence,
                "speaker": w.speaker,
            }
            for w in transcript.words
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n{cue.text}\n"
        for index, cue in enumerate(cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}\n{_vtt_escape(cue.text)}\n"
        for cue in cues(transcript)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def cues(transcript: Transcript) -> list[Cue]:
    """The subtitle cues of a transcript, in time order, with non-empty one-paragraph text."""
    segments = transcript.segments or segments_from_words(transcript.words)
    if segments:
        found = [
            Cue(s.start, max(s.end, s.start), _label(s.speaker, transcript) + _one_line(s.text))
            for s in segments
            if s.text.strip()
        ]
    elif transcript.text.strip():
        text = _one_line(transcript.text)
        end = transcript.duration or max(1.0, len(text.split()) * _SECONDS_PER_WORD)
        found = [Cue(0.0, end, text)]
    else:
        found = []
    return sorted(found, key=lambda cue: cue.start)


def _label(speaker: int | None, transcript: Transcript) -> str:
    # Name speakers only when there are several; a lone "Speaker 1:" on every cue is noise.
    speakers = {w.speaker for w in transcript.words} | {s.speaker for s in transcript.segments}
    speakers.discard(None)
    if speaker is None or len(speakers) < 2:
        return ""
    return f"Speaker {speaker + 1}: "


def _one_line(text: str) -> str:
    # A blank line would end an SRT/VTT cue early, so collapse all whitespace.
    return re.sub(r"\s+", " ", text).strip()


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: '&' and '<' must be escaped, and '-->' may not appear.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "→")


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
