from __future__ import annotations

from bot.policy.preferences import OutputOptions
from bot.presentation import texts
from bot.presentation.attachments import Attachment, attachments_for, with_known_language
from bot.presentation.i18n import ENGLISH
from bot.stt.catalogue import build_params, get_model, language_supported
from bot.stt.types import Segment, Transcript, Word

TIMED = Transcript(
    text="Hello there. General Kenobi.",
    words=(
        Word("Hello", 0.0, 0.4, 0),
        Word("there.", 0.5, 0.9, 0),
        Word("General", 2.0, 2.4, 1),
        Word("Kenobi.", 2.5, 2.9, 1),
    ),
    segments=(Segment("Hello there.", 0.0, 0.9, 0), Segment("General Kenobi.", 2.0, 2.9, 1)),
)
UNTIMED = Transcript(text="Hello there. General Kenobi.")


def test_srt_attachment_from_timings() -> None:
    [file] = attachments_for(ENGLISH, TIMED, OutputOptions(attach="srt"))
    assert file == Attachment("transcript.srt", file.data, texts.SRT_CAPTION)
    srt = file.data.decode()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,900\n")
    assert "2\n00:00:02,000 --> 00:00:02,900\nSpeaker 2: General Kenobi." in srt


def test_no_srt_without_timings() -> None:
    assert attachments_for(ENGLISH, UNTIMED, OutputOptions(attach="srt")) == []


def test_txt_attachment_follows_the_output_options() -> None:
    [plain] = attachments_for(ENGLISH, UNTIMED, OutputOptions(attach="txt"))
    assert (plain.filename, plain.caption) == ("transcript.txt", texts.TXT_CAPTION)
    assert plain.data.decode() == "Hello there. General Kenobi.\n"
    [timed] = attachments_for(
        ENGLISH, TIMED, OutputOptions(attach="txt", timestamps=True, speakers=True)
    )
    assert timed.data.decode().splitlines() == [
        "[00:00] Speaker 1: Hello there.",
        "[00:02] Speaker 2: General Kenobi.",
    ]


def test_no_attachment_unless_asked_or_for_silence() -> None:
    assert attachments_for(ENGLISH, TIMED, OutputOptions()) == []
    assert attachments_for(ENGLISH, Transcript(text=" "), OutputOptions(attach="txt")) == []


def test_known_language_is_filled_in_only_when_known() -> None:
    detected = Transcript(text="x", language="fr")
    assert with_known_language(detected, get_model("#g1_whisper-large"), "de") == detected
    told = with_known_language(UNTIMED, get_model("#g1_nova-2-general"), "de")
    assert told.language == "de"
    english_only = with_known_language(UNTIMED, get_model("aai/slam-1"), "de")
    assert english_only.language == "en"  # it ignored "de" and transcribed English
    # Nova-2 cannot be told Arabic: it detected, and reported nothing we could show.
    assert with_known_language(UNTIMED, get_model("#g1_nova-2-general"), "ar").language is None
    # GPT-4o names no language, even when told one: we do not pretend it detected it.
    assert with_known_language(UNTIMED, get_model("openai/gpt-4o-transcribe"), "de") == UNTIMED


def test_nova2_general_falls_back_to_detection_for_languages_it_lacks() -> None:
    nova = get_model("#g1_nova-2-general")
    assert language_supported(nova, "de") and language_supported(nova, "zh-TW")
    assert not language_supported(nova, "ar")
    assert build_params(nova, language="ar", diarize=False) == {
        "punctuate": True,
        "smart_format": True,
        "detect_language": True,
    }
    # Whisper knows Arabic.
    whisper = build_params(get_model("#g1_whisper-small"), language="ar", diarize=False)
    assert whisper["language"] == "ar"
