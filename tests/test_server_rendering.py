"""serve-api's result: a Transcript rendered Deepgram-style reads back as the same Transcript."""

from __future__ import annotations

import pytest

from bot.server.rendering import transcript_to_deepgram
from bot.stt.parsing import parse_result
from bot.stt.types import Segment, Transcript, Word


def test_transcript_to_deepgram_round_trips() -> None:
    original = Transcript(
        text="Hello, world. Bye.",
        language="de",
        duration=2.5,
        words=(
            Word("Hello,", 0.0, 0.4, None, 0.9),
            Word("world.", 0.5, 0.9, None, 0.7),
            Word("Bye.", 1.5, 1.8, None, 0.8),
        ),
        segments=(Segment("Hello, world.", 0.0, 0.9), Segment("Bye.", 1.5, 1.8)),
    )
    rendered = transcript_to_deepgram(original, "whisper-base", "req-1")
    metadata = rendered["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["request_id"] == "req-1"
    assert metadata["duration"] == 2.5
    assert metadata["channels"] == 1
    (model_uuid,) = metadata["models"]
    assert metadata["model_info"][model_uuid]["name"] == "whisper-base"
    assert len(metadata["sha256"]) == 64
    assert metadata["created"].endswith("Z")
    results = rendered["results"]
    assert isinstance(results, dict)
    alternative = results["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == "Hello, world. Bye."
    assert alternative["confidence"] == pytest.approx(0.8)
    assert alternative["words"][0] == {
        "word": "hello",
        "start": 0.0,
        "end": 0.4,
        "confidence": 0.9,
        "punctuated_word": "Hello,",
    }

    parsed = parse_result("deepgram", rendered)
    assert parsed == Transcript(
        text=original.text,
        language="de",
        duration=2.5,
        words=original.words,
        segments=original.segments,
        model="whisper-base",
    )


def test_transcript_to_deepgram_minimal() -> None:
    rendered = transcript_to_deepgram(Transcript(text=""), "large-v3", "req-2")
    metadata = rendered["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["duration"] == 0.0
    parsed = parse_result("deepgram", rendered)
    assert parsed.is_empty and parsed.language is None and parsed.model == "large-v3"
    # Same model name, same model id: stable across calls.
    again = transcript_to_deepgram(Transcript(text="x"), "large-v3", "req-3")["metadata"]
    assert isinstance(again, dict)
    assert again["models"] == metadata["models"]
