"""Long audio in windows: decoded as it is read, transcribed a window at a time.

The windows put together are the recording, sample for sample; a short clip split in two windows
is heard as in one pass (within the WER bound: what Whisper hears varies with the CPU), and the
times of the second window's words carry on from the first's.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.local.engine import EngineOptions, LocalWhisperEngine, WhisperModelLike
from tests.local.conftest import DENTIST, SHOPPING, Speech
from tests.local.wer import assert_heard, word_error_rate

pytestmark = pytest.mark.local_engine

TWO_SENTENCES = f"{DENTIST}. {SHOPPING}."


def test_the_windows_put_together_are_the_recording(speech: Speech) -> None:
    import numpy
    from faster_whisper import decode_audio

    from bot.local.windows import SAMPLE_RATE, DecodedAudio

    clip = speech(TWO_SENTENCES)
    with DecodedAudio(clip, window_seconds=2.0, search_seconds=0.5) as decoded:
        windows = list(decoded.windows())
        assert decoded.duration is not None
    whole = decode_audio(str(clip), sampling_rate=SAMPLE_RATE)

    assert len(windows) >= 3
    assert numpy.array_equal(numpy.concatenate([w.samples for w in windows]), whole)
    for window, following in itertools.pairwise(windows):
        assert 1.5 <= window.seconds <= 2.0  # cut in the last half second before 2 s
        assert following.start == pytest.approx(window.start + window.seconds)
    assert decoded.duration == pytest.approx(len(whole) / SAMPLE_RATE, abs=0.05)


def test_window_bounds_are_checked(speech: Speech) -> None:
    from bot.local.windows import DecodedAudio

    with pytest.raises(ValueError, match="search_seconds"):
        DecodedAudio(speech(DENTIST), window_seconds=2.0, search_seconds=2.0)


def engine_over(model: WhisperModelLike, cache: Path, window_seconds: float) -> LocalWhisperEngine:
    return LocalWhisperEngine(
        "base",
        cache_dir=cache,
        options=EngineOptions(window_seconds=window_seconds),
        loader=lambda request: model,
    )


async def test_two_windows_hear_what_one_pass_hears(
    whisper_base: WhisperModelLike, model_cache: Path, speech: Speech
) -> None:
    clip = speech(TWO_SENTENCES)
    whole_engine = engine_over(whisper_base, model_cache, 600.0)
    # About 5 s of speech, the pause between the sentences at about 2.1 s: windows of 2.6 s,
    # cut at the quietest moment of their last 0.87 s (that pause), make two.
    split_engine = engine_over(whisper_base, model_cache, 2.6)
    progress: list[tuple[float, float]] = []
    try:
        whole = await whole_engine.transcribe(clip, language="en")
        split = await split_engine.transcribe(
            clip, language="en", on_progress=lambda done, total: progress.append((done, total))
        )
    finally:
        whole_engine.close()
        split_engine.close()

    assert_heard(TWO_SENTENCES, whole.text)
    assert_heard(TWO_SENTENCES, split.text)
    assert word_error_rate(whole.text, split.text) <= 1 / 3
    # One recording: the same length, and times that carry on across the cut.
    assert split.duration == pytest.approx(whole.duration, abs=0.01)
    assert whole.words and split.words
    starts = [w.start for w in split.words]
    assert starts == sorted(starts)
    assert split.words[-1].end == pytest.approx(whole.words[-1].end, abs=0.7)
    assert len(split.segments) >= 2  # at least one per window
    # The second window's words sit where they were said, not at its own 0 s.
    assert split.segments[-1].start >= 2.6 - 0.87 - 0.3
    # The engine said how far it had got, window by window, up to the whole length.
    assert split.duration is not None
    assert progress[-1] == pytest.approx((split.duration, split.duration), abs=0.01)
    assert any(done < split.duration - 1.0 for done, _ in progress)
