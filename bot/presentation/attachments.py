"""What goes out with a transcript besides its text: the language it is in and attached files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.policy.preferences import OutputOptions
from bot.presentation import texts
from bot.presentation.file_formats import to_srt
from bot.presentation.i18n import Translator
from bot.presentation.rendering import render_transcript
from bot.stt.catalogue import ModelSpec, language_supported
from bot.stt.types import Transcript

SRT_NAME = "transcript.srt"
TXT_NAME = "transcript.txt"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send after the transcript's text (the pipeline plans the send)."""

    filename: str
    data: bytes
    caption: str


def with_known_language(
    transcript: Transcript, spec: ModelSpec, requested: str | None
) -> Transcript:
    """Fill in the language when the result names none but we know it anyway.

    Deepgram reports a language only when it detected one; a model told the language, or an
    English-only one, transcribed in that language, so the language line can still show it.
    """
    caps = spec.capabilities
    if transcript.language is not None or not caps.reports_language:
        return transcript
    if caps.english_only:
        return dataclasses.replace(transcript, language="en")
    if requested is not None and language_supported(spec, requested):
        return dataclasses.replace(transcript, language=requested)
    return transcript


def has_timings(transcript: Transcript) -> bool:
    return bool(transcript.words or transcript.segments)


def attachments_for(
    tr: Translator, transcript: Transcript, options: OutputOptions
) -> list[Attachment]:
    """The file the user asked for, when the transcript has what it needs.

    Subtitles need timings: GPT-4o returns none, so no .srt comes with its transcripts (the
    /settings text says so rather than sending a file with one made-up cue).
    """
    if transcript.is_empty:
        return []
    if options.attach == "srt" and has_timings(transcript):
        return [Attachment(SRT_NAME, to_srt(transcript).encode("utf-8"), tr(texts.SRT_CAPTION))]
    if options.attach == "txt":
        body = render_transcript(tr, transcript, options) + "\n"
        return [Attachment(TXT_NAME, body.encode("utf-8"), tr(texts.TXT_CAPTION))]
    return []
