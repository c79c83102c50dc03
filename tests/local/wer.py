"""Word error rate (WER) for the tests on synthetic speech.

What Whisper hears in espeak-ng speech depends on the CPU instruction set CTranslate2 picks
(AVX, AVX2, AVX512): after Opus encoding, "milk and eggs" comes back as "milk and begs" on one
and as "milk, and then cut" on another. So a test compares the whole sentence it spoke with
the whole text that came back, and allows a bounded share of wrong words; it never demands one
exact word.
"""

from __future__ import annotations

import jiwer

# Case and punctuation are presentation, not recognition: "Morning." and "morning" are one word.
_NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),  # type: ignore[no-untyped-call]  # jiwer leaves it unannotated
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)

# At most one word in three misheard: 2 of the 6 words of a short sentence, 3 of 10. Measured on
# this project's two sentences: 0.0 to 0.2 across AVX and AVX2. A transcript of another sentence,
# or one cut short by half, scores 0.5 or more and fails.
MAX_WER = 1 / 3


def word_error_rate(expected: str, heard: str) -> float:
    """(substitutions + deletions + insertions) / words expected, after normalising both."""
    return float(
        jiwer.wer(expected, heard, reference_transform=_NORMALISE, hypothesis_transform=_NORMALISE)
    )


def assert_heard(expected: str, heard: str) -> float:
    """Fail unless `heard` is `expected` within MAX_WER; return the rate (printed, for -rP)."""
    rate = word_error_rate(expected, heard)
    print(f"WER {rate:.3f}: expected {expected!r}, heard {heard!r}")
    if rate > MAX_WER:
        raise AssertionError(
            f"WER {rate:.2f} exceeds {MAX_WER:.2f}: expected {expected!r}, heard {heard!r}"
        )
    return rate
