from bot.policy.preferences import OutputOptions
from bot.presentation.i18n import ENGLISH
from bot.presentation.rendering import clock_label, render_transcript, split_text
from bot.stt.types import Segment, Transcript


def test_short_text_is_one_part() -> None:
    assert split_text("hello world") == ["hello world"]


def test_split_respects_limit_and_word_boundaries() -> None:
    words = [f"word{i}" for i in range(3000)]
    text = " ".join(words)
    parts = split_text(text, limit=4096)
    assert len(parts) > 1
    assert all(len(part) <= 4096 for part in parts)
    # Nothing lost, nothing cut inside a word.
    assert " ".join(parts).split() == words


def test_split_prefers_line_breaks() -> None:
    text = ("a" * 60 + "\n") * 3
    parts = split_text(text, limit=130)
    assert parts == ["a" * 60 + "\n" + "a" * 60, "a" * 60]


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    parts = split_text("x" * 25, limit=10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


def test_clock_label() -> None:
    assert clock_label(0) == "00:00"
    assert clock_label(75.9) == "01:15"
    assert clock_label(3725) == "1:02:05"


TRANSCRIPT = Transcript(
    text="Hello there. How are you? Fine.",
    language="en",
    segments=(
        Segment("Hello there.", 0.0, 1.2, speaker=0),
        Segment("How are you?", 1.5, 2.4, speaker=0),
        Segment("Fine.", 65.0, 66.0, speaker=1),
    ),
)


def test_plain_rendering_is_the_text() -> None:
    assert render_transcript(ENGLISH, TRANSCRIPT, OutputOptions()) == TRANSCRIPT.text


def test_timestamps_and_speakers() -> None:
    rendered = render_transcript(ENGLISH, TRANSCRIPT, OutputOptions(timestamps=True, speakers=True))
    assert rendered.splitlines() == [
        "[00:00] Speaker 1: Hello there. How are you?",
        "[01:05] Speaker 2: Fine.",
    ]


def test_language_line() -> None:
    rendered = render_transcript(ENGLISH, TRANSCRIPT, OutputOptions(show_language=True))
    assert rendered.endswith("\n\nLanguage: en")


def test_speakers_without_diarization_fall_back_to_text() -> None:
    plain = Transcript(text="no speakers here", segments=(Segment("no speakers here", 0, 1),))
    assert render_transcript(ENGLISH, plain, OutputOptions(speakers=True)) == "no speakers here"


def test_options_round_trip() -> None:
    options = OutputOptions(timestamps=True, attach="srt", show_language=True)
    assert OutputOptions.from_dict(options.to_dict()) == options
    assert OutputOptions.from_dict({"attach": "exe"}).attach is None
