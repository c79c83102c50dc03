"""Turn a Transcript into the text a user reads, and split long text into Telegram messages."""

from __future__ import annotations

from bot.policy.preferences import OutputOptions
from bot.presentation import texts
from bot.presentation.i18n import Translator
from bot.stt.types import Segment, Transcript

TELEGRAM_TEXT_LIMIT = 4096


def clock_label(seconds: float) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _speaker_turns(segments: tuple[Segment, ...]) -> list[Segment]:
    """Merge consecutive segments of one speaker into a single turn."""
    turns: list[Segment] = []
    for segment in segments:
        if turns and segment.speaker is not None and turns[-1].speaker == segment.speaker:
            last = turns[-1]
            turns[-1] = Segment(
                f"{last.text} {segment.text}", last.start, segment.end, last.speaker
            )
        else:
            turns.append(segment)
    return turns


def render_transcript(tr: Translator, transcript: Transcript, options: OutputOptions) -> str:
    """The transcript as text; its labels ("Speaker 1", "Language") in `tr`'s language."""
    segments = transcript.segments
    has_speakers = any(segment.speaker is not None for segment in segments)
    use_speakers = options.speakers and has_speakers
    if segments and (options.timestamps or use_speakers):
        lines = []
        for segment in _speaker_turns(segments) if use_speakers else list(segments):
            line = segment.text.strip()
            if use_speakers and segment.speaker is not None:
                line = f"{tr.render(texts.SPEAKER, n=segment.speaker + 1)}: {line}"
            if options.timestamps:
                line = f"[{clock_label(segment.start)}] {line}"
            lines.append(line)
        body = "\n".join(lines)
    else:
        body = transcript.text.strip()
    if options.show_language and transcript.language:
        body = f"{body}\n\n{tr.render(texts.TRANSCRIPT_LANGUAGE, language=transcript.language)}"
    return body


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split at line breaks where possible, else at spaces; never inside a word that fits."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut <= limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit  # a single "word" longer than a message: cut it hard
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
