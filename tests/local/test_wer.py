"""The WER check the real-speech tests rely on: it passes the variations seen across CPU
instruction sets, and fails on a different, cut-short, scrambled or empty transcript."""

from __future__ import annotations

import pytest

from tests.local.conftest import DENTIST, SHOPPING
from tests.local.wer import MAX_WER, assert_heard, word_error_rate

# What the packaged Whisper base really returned for the Opus-encoded espeak-ng sentences.
HEARD_ON_AVX = "Remember to buy milk, and then cut the way home."
HEARD_ON_AVX2 = "Remember to buy milk and begs on the way home."
HEARD_DENTIST = "Please call the dentist tomorrow morning."


def test_case_and_punctuation_are_not_errors() -> None:
    assert word_error_rate(DENTIST, HEARD_DENTIST) == 0.0
    assert word_error_rate(DENTIST, "please, CALL the dentist... tomorrow morning!") == 0.0


@pytest.mark.parametrize(
    ("heard", "rate"),
    [(HEARD_ON_AVX, 2 / 10), (HEARD_ON_AVX2, 1 / 10)],
    ids=["avx", "avx2"],
)
def test_the_variations_across_instruction_sets_pass(heard: str, rate: float) -> None:
    assert assert_heard(SHOPPING, heard) == pytest.approx(rate)


@pytest.mark.parametrize(
    ("expected", "heard"),
    [
        (SHOPPING, HEARD_DENTIST),  # the transcript of another note
        (DENTIST, HEARD_ON_AVX2),
        (SHOPPING, "Remember to buy milk."),  # cut short
        (DENTIST, "morning tomorrow dentist the call please"),  # the right words, scrambled
        (SHOPPING, "Remember to buy silk and legs on the bay foam."),  # 4 of 10 misheard
        (DENTIST, "Please fall the dense tomorrow mourning."),  # 3 of 6 misheard
        (DENTIST, ""),  # nothing heard
    ],
    ids=[
        "other-note",
        "other-note-2",
        "cut-short",
        "scrambled",
        "garbled",
        "three-of-six",
        "empty",
    ],
)
def test_wrong_transcripts_fail(expected: str, heard: str) -> None:
    assert word_error_rate(expected, heard) > MAX_WER
    with pytest.raises(AssertionError, match=r"WER .* exceeds"):
        assert_heard(expected, heard)


def test_the_bound_is_one_word_in_three() -> None:
    assert assert_heard(DENTIST, "Please fall the dentist tomorrow mourning.") == pytest.approx(
        2 / 6
    )
    assert assert_heard(SHOPPING, "Remember to buy silk and legs on the way home.") == (
        pytest.approx(2 / 10)
    )
