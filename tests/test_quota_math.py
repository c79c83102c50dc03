"""Quota arithmetic: UTC windows, limits, shortfalls, estimates, and what a job is charged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.policy import quota_math
from bot.policy.quota_math import Limits, day_window, month_window, status


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_day_window_is_the_utc_calendar_day() -> None:
    window = day_window(at("2025-03-14T23:59:59.999+00:00"))
    assert window.start == at("2025-03-14T00:00:00+00:00")
    assert window.end == at("2025-03-15T00:00:00+00:00")


def test_day_window_of_a_local_time_uses_the_utc_day() -> None:
    # 01:30 in UTC+3 is 22:30 UTC of the day before.
    local = datetime(2025, 3, 15, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert day_window(local).start == at("2025-03-14T00:00:00+00:00")


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2025-02-28T12:00:00+00:00", "2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00"),
        ("2024-12-31T23:59:59+00:00", "2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"),
        ("2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00"),
    ],
)
def test_month_window(now: str, start: str, end: str) -> None:
    window = month_window(at(now))
    assert (window.start, window.end) == (at(start), at(end))


NOW = at("2025-06-10T15:00:00+00:00")


def test_a_request_that_fits_exactly_is_admitted() -> None:
    usage = status(Limits(daily=10, monthly=100), day_used=9.0, month_used=9.0, now=NOW)
    assert usage.shortfall(1.0) is None
    assert usage.remaining("day") == 1.0


def test_float_drift_does_not_refuse_the_last_exact_second() -> None:
    used = sum([0.1] * 99)  # 9.899999999999984, not 9.9
    usage = status(Limits(daily=10, monthly=0), day_used=used, month_used=used, now=NOW)
    assert usage.shortfall(0.1) is None


def test_the_daily_shortfall_names_used_limit_and_reset() -> None:
    usage = status(Limits(daily=10, monthly=100), day_used=9.5, month_used=9.5, now=NOW)
    short = usage.shortfall(1.0)
    assert short is not None
    assert (short.period, short.used, short.limit, short.left) == ("day", 9.5, 10, 0.5)
    assert short.resets_at == at("2025-06-11T00:00:00+00:00")


def test_when_both_windows_are_short_the_later_reset_is_reported() -> None:
    usage = status(Limits(daily=10, monthly=20), day_used=10.0, month_used=20.0, now=NOW)
    short = usage.shortfall(1.0)
    assert short is not None and short.period == "month"
    assert short.resets_at == at("2025-07-01T00:00:00+00:00")


def test_the_monthly_limit_applies_when_the_day_has_room() -> None:
    usage = status(Limits(daily=100, monthly=50), day_used=0.0, month_used=45.0, now=NOW)
    short = usage.shortfall(10.0)
    assert short is not None and short.period == "month" and short.left == 5.0


def test_zero_means_unlimited() -> None:
    usage = status(Limits(daily=0, monthly=0), day_used=1e9, month_used=1e9, now=NOW)
    assert usage.shortfall(1e6) is None
    assert usage.remaining("day") is None and usage.remaining("month") is None
    assert Limits(0, 0).unlimited and not Limits(0, 1).unlimited


def test_a_recording_longer_than_the_whole_limit_is_refused() -> None:
    usage = status(Limits(daily=60, monthly=0), day_used=0.0, month_used=0.0, now=NOW)
    short = usage.shortfall(61.0)
    assert short is not None and short.left == 60.0


def test_overrides_replace_defaults_one_by_one() -> None:
    default = Limits(1800, 18000)
    assert quota_math.effective_limits(default, None, None) == default
    assert quota_math.effective_limits(default, 60, None) == Limits(60, 18000)
    assert quota_math.effective_limits(default, None, 0) == Limits(1800, 0)


def test_estimates_assume_a_low_bitrate() -> None:
    # 1 MB at 32 kbit/s is 250 s; a 128 kbit/s MP3 of that size is ~62 s: we err high.
    assert quota_math.estimate_seconds(1_000_000, 20_000_000) == 250.0
    # No size either: a minute, until the download tells the size (not the largest file's
    # 83 minutes, which would refuse nearly everyone).
    assert quota_math.estimate_seconds(None, 20_000_000) == quota_math.UNKNOWN_SIZE_ESTIMATE
    assert quota_math.estimate_seconds(10, 20_000_000) == 1.0  # never below a second


def test_a_declared_duration_is_false_only_beyond_rounding() -> None:
    assert not quota_math.declared_is_false(1.0, 2.9)  # Telegram rounds to whole seconds
    assert quota_math.declared_is_false(1.0, 3.5)
    assert not quota_math.declared_is_false(100.0, 104.0)  # 5 % slack on long recordings
    assert quota_math.declared_is_false(100.0, 106.0)


def test_commit_charges_the_declared_duration_and_corrects_estimates_down_only() -> None:
    assert quota_math.commit_seconds(3.0, "declared", reported=2.2) == 3.0
    # A file header that lies (a WAV claiming a huge byte rate measures ~0 s) is bounded by
    # what the backend reports it transcribed.
    assert quota_math.commit_seconds(0.00005, "measured", reported=12.0) == 12.0
    assert quota_math.commit_seconds(12.5, "measured", reported=12.0) == 12.5
    assert quota_math.commit_seconds(3.0, "measured", reported=None) == 3.0
    assert quota_math.commit_seconds(250.0, "estimated", reported=61.5) == 61.5
    assert quota_math.commit_seconds(250.0, "estimated", reported=900.0) == 250.0
    assert quota_math.commit_seconds(250.0, "estimated", reported=None) == 250.0
