from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.stt.errors import JobFailedError, MalformedResponseError
from bot.stt.parsing import parse_result
from bot.stt.types import Segment, Transcript, Word


def deepgram_payload() -> dict[str, Any]:
    """Nova-2 with punctuate, smart_format (so paragraphs) and diarize, per docs §5.3/§9."""
    words = [
        ("he", "He", 0.32, 0.4, 0),
        ("doesn't", "doesn't", 0.4, 0.72, 0),
        ("belong", "belong", 0.72, 1.04, 0),
        ("to", "to", 1.04, 1.2, 0),
        ("you", "you.", 1.2, 1.52, 0),
        ("and", "And", 3.1, 3.3, 1),
        ("i", "I", 3.3, 3.4, 1),
        ("agree", "agree.", 3.4, 3.9, 1),
    ]
    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "sha256": "154e291ecfa8be6ab8343560bcc109008fa7853eb5372533e8efdefc9b504c33",
            "created": "2025-06-04T12:00:00.000Z",
            "duration": 4.2,
            "channels": 1,
            "models": ["30089e05-99d1-4376-b32e-c263170674af"],
            "model_info": {
                "30089e05-99d1-4376-b32e-c263170674af": {
                    "name": "2-general-nova",
                    "version": "2024-01-09.29447",
                    "arch": "nova-2",
                }
            },
        },
        "results": {
            "channels": [
                {
                    "detected_language": "en",
                    "language_confidence": 0.99,
                    "alternatives": [
                        {
                            "transcript": "He doesn't belong to you. And I agree.",
                            "confidence": 0.99,
                            "words": [
                                {
                                    "word": w,
                                    "start": s,
                                    "end": e,
                                    "confidence": 0.98,
                                    "punctuated_word": p,
                                    "speaker": sp,
                                    "speaker_confidence": 0.7,
                                }
                                for w, p, s, e, sp in words
                            ],
                            "paragraphs": {
                                "transcript": "\nSpeaker 0: He doesn't belong to you.\n\n"
                                "Speaker 1: And I agree.",
                                "paragraphs": [
                                    {
                                        "sentences": [
                                            {
                                                "text": "He doesn't belong to you.",
                                                "start": 0.32,
                                                "end": 1.52,
                                            }
                                        ],
                                        "speaker": 0,
                                        "num_words": 5,
                                        "start": 0.32,
                                        "end": 1.52,
                                    },
                                    {
                                        "sentences": [
                                            {"text": "And I agree.", "start": 3.1, "end": 3.9}
                                        ],
                                        "speaker": 1,
                                        "num_words": 3,
                                        "start": 3.1,
                                        "end": 3.9,
                                    },
                                ],
                            },
                        }
                    ],
                }
            ]
        },
    }


def assemblyai_payload() -> dict[str, Any]:
    """aai/universal with speaker_labels, per docs §5.4 (times in milliseconds)."""
    return {
        "id": "51d9be59-2180-407f-93e1-ea3c3dec7fcd",
        "language_model": "assemblyai_default",
        "acoustic_model": "assemblyai_default",
        "language_code": "de",
        "status": "completed",
        "audio_url": "https://cdn.assemblyai.com/upload/abc",
        "text": "Guten Morgen. Hallo zusammen.",
        "words": [
            {"text": "Guten", "start": 320, "end": 600, "confidence": 0.88, "speaker": "A"},
            {"text": "Morgen.", "start": 600, "end": 1100, "confidence": 0.91, "speaker": "A"},
            {"text": "Hallo", "start": 2400, "end": 2800, "confidence": 0.95, "speaker": "B"},
            {"text": "zusammen.", "start": 2800, "end": 3500, "confidence": 0.9, "speaker": "B"},
        ],
        "utterances": [
            {
                "text": "Guten Morgen.",
                "start": 320,
                "end": 1100,
                "confidence": 0.9,
                "speaker": "A",
                "words": [],
            },
            {
                "text": "Hallo zusammen.",
                "start": 2400,
                "end": 3500,
                "confidence": 0.92,
                "speaker": "B",
                "words": [],
            },
        ],
        "confidence": 0.91,
        "audio_duration": 4,
        "punctuate": True,
        "format_text": True,
        "speaker_labels": True,
        "speech_model": "universal",
        "content_safety_labels": {"status": "unavailable", "results": [], "summary": {}},
        "language_detection": False,
        "language_confidence": None,
        "summary": None,
        "chapters": None,
        "entities": None,
        "throttled": False,
        "multichannel": None,
    }


# --- Deepgram ------------------------------------------------------------------------------


def test_deepgram_full_result() -> None:
    transcript = parse_result("deepgram", deepgram_payload())
    assert transcript.text == "He doesn't belong to you. And I agree."
    assert transcript.language == "en"
    assert transcript.duration == 4.2
    assert transcript.model == "2-general-nova"
    assert len(transcript.words) == 8
    assert transcript.words[0] == Word("He", 0.32, 0.4, 0, 0.98)
    assert transcript.words[-1].text == "agree."
    assert transcript.words[-1].speaker == 1
    assert transcript.segments == (
        Segment("He doesn't belong to you.", 0.32, 1.52, 0),
        Segment("And I agree.", 3.1, 3.9, 1),
    )


def test_deepgram_utterances_win_over_paragraphs() -> None:
    payload = deepgram_payload()
    payload["results"]["utterances"] = [
        {
            "start": 0.32,
            "end": 3.9,
            "confidence": 0.97,
            "channel": 0,
            "transcript": "He doesn't belong to you. And I agree.",
            "words": [],
            "speaker": 0,
            "id": "e2ad7e1b-2e1b-4a64-8a0b-1b7c3b9d4b11",
        }
    ]
    transcript = parse_result("deepgram", payload)
    assert transcript.segments == (Segment("He doesn't belong to you. And I agree.", 0.32, 3.9, 0),)


def test_deepgram_whisper_defaults_without_optional_fields() -> None:
    """Whisper without punctuate: no punctuated_word, speaker, paragraphs or language."""
    payload = {
        "metadata": {"request_id": "r", "duration": 3.0, "channels": 1, "models": ["m"]},
        "results": {
            "channels": [
                {
                    "alternatives": [
                        {
                            "transcript": "hello there general kenobi",
                            "confidence": 0.9,
                            "words": [
                                {"word": "hello", "start": 0.0, "end": 0.4, "confidence": 0.9},
                                {"word": "there", "start": 0.4, "end": 0.8, "confidence": 0.9},
                                {"word": "general", "start": 2.5, "end": 2.9, "confidence": 0.9},
                                {"word": "kenobi", "start": 2.9, "end": 3.0, "confidence": 0.9},
                            ],
                        }
                    ]
                }
            ]
        },
    }
    transcript = parse_result("deepgram", payload)
    assert transcript.text == "hello there general kenobi"
    assert transcript.language is None
    assert transcript.model is None  # no model_info: the UUIDs in `models` are no names
    assert [w.text for w in transcript.words] == ["hello", "there", "general", "kenobi"]
    assert all(w.speaker is None for w in transcript.words)
    # Derived from the words: split at the 1.7 s pause.
    assert transcript.segments == (
        Segment("hello there", 0.0, 0.8),
        Segment("general kenobi", 2.5, 3.0),
    )


def test_deepgram_empty_result_is_valid() -> None:
    payload = {
        "metadata": {"duration": 1.5, "channels": 1},
        "results": {
            "channels": [{"alternatives": [{"transcript": "", "confidence": 0.0, "words": []}]}]
        },
    }
    transcript = parse_result("deepgram", payload)
    assert transcript.text == ""
    assert transcript.is_empty
    assert transcript.words == ()
    assert transcript.segments == ()
    assert transcript.duration == 1.5


def test_deepgram_channels_as_object_and_paragraphs_as_list() -> None:
    # The shapes AIML's own schema documents (docs §5.3), tolerated.
    payload = deepgram_payload()
    channel = payload["results"]["channels"][0]
    alternative = channel["alternatives"][0]
    alternative["paragraphs"] = [alternative["paragraphs"]]
    payload["results"]["channels"] = channel
    transcript = parse_result("deepgram", payload)
    assert transcript.text.startswith("He doesn't")
    assert len(transcript.segments) == 2


def test_deepgram_language_from_alternative_languages() -> None:
    payload = deepgram_payload()
    del payload["results"]["channels"][0]["detected_language"]
    payload["results"]["channels"][0]["alternatives"][0]["languages"] = ["es"]
    assert parse_result("deepgram", payload).language == "es"


def test_local_family_reads_the_deepgram_shape() -> None:
    assert parse_result("local", deepgram_payload()).text.endswith("I agree.")


# --- AssemblyAI ----------------------------------------------------------------------------


def test_assemblyai_milliseconds_and_speaker_letters() -> None:
    transcript = parse_result("assemblyai", assemblyai_payload())
    assert transcript.text == "Guten Morgen. Hallo zusammen."
    assert transcript.language == "de"
    assert transcript.duration == 4.0
    assert transcript.model == "universal"
    assert transcript.words[0] == Word("Guten", 0.32, 0.6, 0, 0.88)
    assert transcript.words[2].start == pytest.approx(2.4)
    assert [w.speaker for w in transcript.words] == [0, 0, 1, 1]
    assert transcript.segments == (
        Segment("Guten Morgen.", 0.32, 1.1, 0),
        Segment("Hallo zusammen.", 2.4, 3.5, 1),
    )


def test_assemblyai_slam_sample_without_utterances() -> None:
    """The docs' slam-1 example: utterances null, speaker null, language en_us."""
    payload = assemblyai_payload()
    payload.update(
        language_code="en_us",
        speech_model="slam-1",
        speaker_labels=False,
        utterances=None,
        text="He doesn't belong to you, and I don't see how.",
        words=[
            {"text": "He", "start": 320, "end": 400, "confidence": 0.88, "speaker": None},
            {"text": "doesn't", "start": 400, "end": 720, "confidence": 0.9, "speaker": None},
            {"text": "belong", "start": 720, "end": 1040, "confidence": 0.9, "speaker": None},
        ],
    )
    transcript = parse_result("assemblyai", payload)
    assert transcript.language == "en"
    assert transcript.model == "slam-1"
    assert transcript.words[1].speaker is None
    assert transcript.segments == (Segment("He doesn't belong", 0.32, 1.04),)


def test_assemblyai_minimal_and_empty() -> None:
    transcript = parse_result("assemblyai", {"id": "x", "status": "completed", "text": None})
    assert transcript == Transcript(text="")
    transcript = parse_result("assemblyai", {"text": "", "words": [], "utterances": None})
    assert transcript.is_empty and transcript.segments == ()


def test_assemblyai_inner_error_is_a_failed_job() -> None:
    payload = {"id": "x", "status": "error", "text": None, "error": "Audio file is too short"}
    with pytest.raises(JobFailedError, match="too short"):
        parse_result("assemblyai", payload)


# --- OpenAI --------------------------------------------------------------------------------


def test_openai_text_and_usage() -> None:
    payload = {
        "text": "  He doesn't belong to you, and I don't see how.  ",
        "usage": {
            "type": "tokens",
            "total_tokens": 135,
            "input_tokens": 100,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 100},
            "output_tokens": 35,
        },
    }
    transcript = parse_result("openai", payload)
    assert transcript == Transcript(text="He doesn't belong to you, and I don't see how.")


def test_openai_duration_usage_and_empty() -> None:
    transcript = parse_result("openai", {"text": "", "usage": {"type": "duration", "seconds": 7}})
    assert transcript.is_empty and transcript.duration == 7.0
    assert parse_result("openai", {"text": "hi"}).text == "hi"


# --- garbage -------------------------------------------------------------------------------


def _mutated(mutate: Any) -> dict[str, Any]:
    payload = copy.deepcopy(deepgram_payload())
    mutate(payload)
    return payload


def _alt(p: dict[str, Any]) -> dict[str, Any]:
    alt: dict[str, Any] = p["results"]["channels"][0]["alternatives"][0]
    return alt


@pytest.mark.parametrize(
    ("family", "payload"),
    [
        ("deepgram", None),
        ("deepgram", "completed"),
        ("deepgram", []),
        ("deepgram", {}),
        ("deepgram", {"results": None}),
        ("deepgram", {"results": {"channels": []}}),
        ("deepgram", {"results": {"channels": [{"alternatives": []}]}}),
        ("deepgram", {"results": {"channels": [{"alternatives": "nope"}]}}),
        ("deepgram", _mutated(lambda p: _alt(p).update(transcript=42))),
        ("deepgram", _mutated(lambda p: _alt(p)["words"][0].update(start="0.3"))),
        ("deepgram", _mutated(lambda p: _alt(p)["words"][0].update(end=True))),
        ("deepgram", _mutated(lambda p: _alt(p)["words"][0].pop("start"))),
        ("deepgram", _mutated(lambda p: _alt(p)["words"].append("word"))),
        ("deepgram", _mutated(lambda p: _alt(p)["words"][0].update(speaker="A"))),
        ("deepgram", _mutated(lambda p: _alt(p)["paragraphs"].update(paragraphs={"x": 1}))),
        ("deepgram", _mutated(lambda p: p["metadata"].update(duration="4.2"))),
        ("deepgram", _mutated(lambda p: p["metadata"].update(model_info=["x"]))),
        ("assemblyai", {"id": "x", "status": "completed"}),
        ("assemblyai", {"text": "hi", "words": [{"text": "hi", "start": None, "end": 5}]}),
        ("assemblyai", {"text": "hi", "words": {"text": "hi"}}),
        ("assemblyai", {"text": "hi", "utterances": [{"text": "hi", "start": 0}]}),
        ("assemblyai", {"text": 3}),
        ("openai", {"usage": {}}),
        ("openai", {"text": None}),
        ("openai", ["text"]),
    ],
)
def test_garbage_is_malformed(family: str, payload: object) -> None:
    with pytest.raises(MalformedResponseError):
        parse_result(family, payload)


def test_unknown_family_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="family"):
        parse_result("nova", {})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start", float("nan")),
        ("end", float("inf")),
        ("start", True),
        ("end", None),
        ("speaker", True),
        ("speaker", 1.0),
        ("confidence", "0.9"),
        ("confidence", float("nan")),
        ("punctuated_word", 5),
    ],
)
def test_a_word_with_a_bad_field_is_malformed_and_named(field: str, value: object) -> None:
    # Words are read on a fast path that builds no error locations; one that fails it still
    # gets the checked path's message, which names the word and the field.
    payload = _mutated(lambda p: _alt(p)["words"][3].update({field: value}))
    with pytest.raises(MalformedResponseError, match=rf"words\[3\]\.{field}"):
        parse_result("deepgram", payload)


def test_a_word_without_punctuated_word_falls_back_to_word_and_takes_whole_numbers() -> None:
    def plain(p: dict[str, Any]) -> None:
        word = _alt(p)["words"][1]
        del word["punctuated_word"]
        word.update(start=1, end=2, confidence=1)

    transcript = parse_result("deepgram", _mutated(plain))
    assert transcript.words[1] == Word("doesn't", 1.0, 2.0, 0, 1.0)
    assert all(type(w.start) is float and type(w.end) is float for w in transcript.words)
