"""The real Whisper base model on synthesised speech, encoded like a Telegram voice note."""

from __future__ import annotations

import pytest

from bot.local.engine import LocalWhisperEngine
from bot.stt.errors import ValidationError
from tests.local.conftest import DENTIST, SHOPPING, Speech
from tests.local.wer import assert_heard

pytestmark = pytest.mark.local_engine


async def test_a_voice_note_comes_back_with_words_timings_and_language(
    engine: LocalWhisperEngine, speech: Speech
) -> None:
    transcript = await engine.transcribe(speech(DENTIST))  # a path; language auto-detected

    assert_heard(DENTIST, transcript.text)
    assert transcript.language == "en"  # detected, with no hint
    assert transcript.model == "local/base"
    assert transcript.duration is not None and 1.5 < transcript.duration < 4.0

    # The timed words, in the order of their start times, say the sentence too.
    assert_heard(DENTIST, " ".join(w.text for w in transcript.words))
    for word in transcript.words:
        assert 0.0 <= word.start <= word.end <= transcript.duration + 0.05
        assert word.confidence is not None and 0.0 <= word.confidence <= 1.0
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)

    assert transcript.segments
    assert transcript.segments[0].start < transcript.segments[-1].end <= transcript.duration + 0.05
    assert " ".join(s.text for s in transcript.segments) == transcript.text


async def test_undecodable_bytes_raise_a_typed_error_without_harming_the_worker(
    engine: LocalWhisperEngine, speech: Speech
) -> None:
    truncated = speech(DENTIST).read_bytes()[:300]
    for corrupt in (b"\x00" * 2048, truncated):
        with pytest.raises(ValidationError, match="could not decode the audio"):
            await engine.transcribe(corrupt)
    assert engine.pending == 0


async def test_bytes_with_a_language_hint_through_a_queued_job(
    engine: LocalWhisperEngine, speech: Speech
) -> None:
    seen: list[tuple[float, float]] = []
    job = engine.try_enqueue(
        speech(SHOPPING).read_bytes(),
        language="en",
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert job.state in ("waiting", "active")

    transcript = await job.result()
    assert job.state == "completed" and job.transcript() == transcript
    assert_heard(SHOPPING, transcript.text)
    assert transcript.language == "en"
    assert seen and seen[-1][0] == seen[-1][1] == pytest.approx(transcript.duration, abs=1e-3)
    assert all(done <= total for done, total in seen)

    # English speech would be detected as English anyway: a German hint shows the hint is obeyed.
    hinted = await engine.transcribe(speech(SHOPPING).read_bytes(), language="de")
    assert hinted.language == "de"
