"""Counts in replies agree with their number: "1 job", "2 jobs", never "1 jobs"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.policy.admin import StatsReport
from bot.policy.quota import TooManyInFlight, TooManyPerMinute
from bot.presentation import replies, texts
from bot.presentation.i18n import ENGLISH, Plural
from storage.stats import ModelUsage, UsageTotals, UserCounts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("n", "expected"), [(0, "0 jobs"), (1, "1 job"), (2, "2 jobs")])
def test_job_counts(n: int, expected: str) -> None:
    assert ENGLISH.render_plural(texts.ADMIN_JOBS, n) == expected


def test_english_picks_the_singular_only_for_one() -> None:
    cats = Plural("{n} cat", "{n} cats")
    assert [ENGLISH.plural(cats, n) for n in (0, 1, 2, 21)] == [
        "{n} cats",
        "{n} cat",
        "{n} cats",
        "{n} cats",
    ]


def test_flood_refusals_agree_with_their_limit() -> None:
    one = replies.quota_refusal(ENGLISH, TooManyInFlight(limit=1), NOW)
    three = replies.quota_refusal(ENGLISH, TooManyInFlight(limit=3), NOW)
    assert one.startswith("You already have 1 recording being transcribed.")
    assert one.endswith("when it is done.")
    assert three.startswith("You already have 3 recordings being transcribed.")
    assert three.endswith("when one of them is done.")

    single = replies.quota_refusal(ENGLISH, TooManyPerMinute(limit=1, retry_after=12.5), NOW)
    assert single.startswith("That is more than 1 recording in a minute. Please wait 13 s")
    several = replies.quota_refusal(ENGLISH, TooManyPerMinute(limit=5, retry_after=1), NOW)
    assert several.startswith("That is more than 5 recordings in a minute.")


def test_admin_stats_count_jobs_per_model_in_the_right_number() -> None:
    report = StatsReport(
        users=UserCounts(total=1, active=1),
        today=UsageTotals(jobs=1, seconds=3),
        total=UsageTotals(jobs=2, seconds=5),
        models=[ModelUsage("aai/slam-1", 1, 0, 3.0), ModelUsage("aai/universal", 2, 1, 2.0)],
    )
    lines = replies.stats(report).splitlines()
    assert lines[-2] == "• aai/slam-1: 1 job, 3 s, 0 from the cache"
    assert lines[-1] == "• aai/universal: 2 jobs, 2 s, 1 from the cache"
