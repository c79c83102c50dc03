"""Group a transcript's words into lines, when an API gave words but no segments.

One rule for every use: the segments parsed from an API result (shown with timestamps or
speakers in chat) and the cues of a subtitle file. A new line starts at a change of speaker,
after a sentence, at a pause, or when the line would outgrow a subtitle cue: about two lines of
~42 characters, on screen for at most ~7 seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.stt.types import Segment, Word

MAX_PAUSE = 1.0  # seconds of silence between two words that start a new line
MAX_LINE_SECONDS = 7.0
MAX_LINE_CHARS = 84
SENTENCE_ENDS = (".", "!", "?", "…", "。", "？", "！")
_CLOSING_QUOTES = "\"')»”"


def segments_from_words(words: Sequence[Word]) -> tuple[Segment, ...]:
    """The words as lines, in order; words without text are left out."""
    lines: list[list[Word]] = []
    for word in words:
        if not word.text.strip():
            continue
        if lines and not _starts_new_line(lines[-1], word):
            lines[-1].append(word)
        else:
            lines.append([word])
    return tuple(
        Segment(
            " ".join(w.text.strip() for w in line),
            line[0].start,
            max(line[-1].end, line[0].start),
            line[0].speaker,
        )
        for line in lines
    )


def _starts_new_line(line: list[Word], word: Word) -> bool:
    last = line[-1]
    length = sum(len(w.text.strip()) + 1 for w in line) + len(word.text.strip())
    return (
        word.speaker != last.speaker
        or word.start - last.end > MAX_PAUSE
        or word.end - line[0].start > MAX_LINE_SECONDS
        or length > MAX_LINE_CHARS
        or last.text.strip().rstrip(_CLOSING_QUOTES).endswith(SENTENCE_ENDS)
    )
