"""Words grouped into lines: one rule for parsed segments and for subtitle cues."""

from __future__ import annotations

from bot.stt.segmentation import MAX_LINE_CHARS, MAX_LINE_SECONDS, segments_from_words
from bot.stt.types import Segment, Word


def test_segments_from_words_split_on_sentences_pauses_and_speakers() -> None:
    words = [
        Word("Hi.", 0.0, 0.3),
        Word("How", 0.4, 0.6),
        Word("are", 0.6, 0.8),
        Word("you", 2.0, 2.2),  # a 1.2 s pause
        Word("fine", 2.3, 2.6, speaker=1),
    ]
    assert segments_from_words(words) == (
        Segment("Hi.", 0.0, 0.3),
        Segment("How are", 0.4, 0.8),
        Segment("you", 2.0, 2.2),
        Segment("fine", 2.3, 2.6, 1),
    )
    assert segments_from_words([]) == ()


def test_a_sentence_end_inside_closing_quotes_still_ends_the_line() -> None:
    words = [Word('"Stop!"', 0.0, 0.4), Word("he", 0.5, 0.6), Word("said", 0.6, 0.8)]
    assert [s.text for s in segments_from_words(words)] == ['"Stop!"', "he said"]


def test_long_runs_without_pauses_are_cut_to_subtitle_size() -> None:
    words = [Word(f"word{i:02d}", i * 0.3, i * 0.3 + 0.25) for i in range(60)]
    segments = segments_from_words(words)
    assert len(segments) > 1
    assert all(s.end - s.start <= MAX_LINE_SECONDS for s in segments)
    assert all(len(s.text) <= MAX_LINE_CHARS for s in segments)
    assert " ".join(s.text for s in segments) == " ".join(w.text for w in words)


def test_words_without_text_are_left_out() -> None:
    words = [Word("one", 0.0, 0.2), Word(" ", 0.2, 0.3), Word("two", 0.3, 0.5)]
    assert segments_from_words(words) == (Segment("one two", 0.0, 0.5),)
