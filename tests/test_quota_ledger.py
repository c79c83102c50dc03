"""The quota service over a real SQLite file: the reservation is atomic and exact."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from random import Random

import pytest

from bot.policy.quota import OverBudget, QuotaService, TooManyInFlight, TooManyPerMinute
from bot.policy.quota_math import Shortfall
from storage.access import AccessRuleRepository
from storage.db import Database
from storage.forget import ForgetRepository
from storage.jobs import Job, JobRepository, NewJob
from storage.quota import QuotaLedger
from storage.stats import StatsRepository
from tests.fakes.clock import FakeClock

USER = 501
ADMIN = 9


@dataclass
class Setup:
    db: Database
    clock: FakeClock
    jobs: JobRepository
    ledger: QuotaLedger
    rules: AccessRuleRepository

    def quota(
        self, daily: int = 10, monthly: int = 100, budget: int = 0, **limits: int
    ) -> QuotaService:
        return QuotaService(
            self.ledger,
            self.rules,
            daily_seconds=daily,
            monthly_seconds=monthly,
            daily_budget=budget,
            admin_ids=frozenset({ADMIN}),
            max_in_flight=limits.get("in_flight", 1000),
            max_per_minute=limits.get("per_minute", 1000),
            max_file_bytes=20_000_000,
            clock=self.clock,
        )

    async def job(
        self, user_id: int | None = USER, duration: float | None = 1.0, size: int = 1000
    ) -> Job:
        count = len(await self.db.fetch_all("SELECT id FROM jobs"))
        job = await self.jobs.insert(
            NewJob(
                dedupe_key=f"test:{count}",
                chat_id=user_id or -100,
                chat_type="private" if user_id else "group",
                message_id=count + 1,
                user_id=user_id,
                file_id=f"file{count}",
                file_unique_id=f"uniq{count}",
                media_kind="voice",
                mime_type="audio/ogg",
                file_name=None,
                duration=duration,
                file_size=size,
                model="#g1_whisper-large",
                language=None,
                options={},
            )
        )
        assert job is not None
        return job


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    db = await Database.open(tmp_path / "ledger.sqlite3")
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    try:
        yield Setup(
            db, clock, JobRepository(db, clock), QuotaLedger(db, clock), AccessRuleRepository(db)
        )
    finally:
        await db.close()


async def test_twenty_concurrent_reservations_against_ten_seconds_admit_exactly_ten(
    setup: Setup,
) -> None:
    quota = setup.quota(daily=10)
    jobs = [await setup.job(duration=1.0) for _ in range(20)]
    results = await asyncio.gather(*(quota.reserve(job) for job in jobs))
    admitted = [result for result in results if result is None]
    refused = [result for result in results if result is not None]
    assert len(admitted) == 10
    assert all(isinstance(result, Shortfall) and result.left == 0 for result in refused)
    assert (await quota.status(USER)).day_used == 10.0
    stats = await StatsRepository(setup.db).usage("2025-06-10")
    assert stats.refused == 10


async def test_a_refund_gives_the_seconds_back_and_a_commit_keeps_them(setup: Setup) -> None:
    quota = setup.quota(daily=10)
    first, second = await setup.job(duration=6.0), await setup.job(duration=6.0)
    assert await quota.reserve(first) is None
    assert isinstance(await quota.reserve(second), Shortfall)
    await quota.refund(first)
    await quota.refund(first)  # settling twice changes nothing
    assert (await quota.status(USER)).day_used == 0.0
    third = await setup.job(duration=6.0)
    assert await quota.reserve(third) is None
    await quota.commit(third, reported=5.2)
    await quota.commit(third, reported=5.2)
    usage = await StatsRepository(setup.db).usage(None)
    assert (usage.jobs, usage.failures, usage.seconds) == (1, 1, 5.2)  # billed as reported
    assert (await quota.status(USER)).day_used == 6.0  # charged as declared


async def test_reserving_the_same_job_again_charges_once(setup: Setup) -> None:
    quota = setup.quota(daily=10)
    job = await setup.job(duration=4.0)
    assert await quota.reserve(job) is None
    assert await quota.reserve(job) is None
    assert (await quota.status(USER)).day_used == 4.0


async def test_the_daily_window_rolls_over_at_utc_midnight(setup: Setup) -> None:
    quota = setup.quota(daily=10, monthly=15)
    setup.clock.set("2025-06-10T23:59:00+00:00")
    job = await setup.job(duration=10.0)
    assert await quota.reserve(job) is None
    await quota.commit(job, reported=None)
    refusal = await quota.reserve(await setup.job(duration=1.0))
    assert isinstance(refusal, Shortfall) and refusal.period == "day"
    assert refusal.resets_at.isoformat() == "2025-06-11T00:00:00+00:00"

    setup.clock.set("2025-06-11T00:00:00+00:00")
    status = await quota.status(USER)
    assert (status.day_used, status.month_used) == (0.0, 10.0)
    assert await quota.reserve(await setup.job(duration=5.0)) is None
    # The month still counts yesterday: 15 s in all.
    refusal = await quota.reserve(await setup.job(duration=1.0))
    assert isinstance(refusal, Shortfall) and refusal.period == "month"

    setup.clock.set("2025-07-01T00:00:00+00:00")
    assert await quota.reserve(await setup.job(duration=10.0)) is None


async def test_flood_limits_count_jobs_in_flight_and_per_minute(setup: Setup) -> None:
    quota = setup.quota(daily=0, monthly=0, in_flight=2, per_minute=3)
    first, second = await setup.job(), await setup.job()
    assert await quota.reserve(first) is None
    assert await quota.reserve(second) is None
    assert await quota.reserve(await setup.job()) == TooManyInFlight(2)
    await quota.commit(first, reported=None)
    assert await quota.reserve(await setup.job()) is None  # third admission this minute
    await quota.commit(second, reported=None)
    setup.clock.advance(seconds=20)
    refusal = await quota.reserve(await setup.job())
    assert isinstance(refusal, TooManyPerMinute) and refusal.retry_after == 40.0
    setup.clock.advance(seconds=41)
    assert await quota.reserve(await setup.job()) is None


async def test_admins_are_never_limited_but_still_metered(setup: Setup) -> None:
    quota = setup.quota(daily=1, monthly=1, in_flight=1, per_minute=1)
    for _ in range(3):
        assert await quota.reserve(await setup.job(user_id=ADMIN, duration=100.0)) is None
    status = await quota.status(ADMIN)
    assert status.day_used == 300.0 and status.limits.unlimited


async def test_an_override_replaces_the_default(setup: Setup) -> None:
    quota = setup.quota(daily=10)
    await setup.rules.set_quota(USER, 100, None)
    assert await quota.reserve(await setup.job(duration=50.0)) is None
    await setup.rules.set_quota(USER, 0, 60)  # unlimited per day, 60 s a month
    refusal = await quota.reserve(await setup.job(duration=11.0))
    assert isinstance(refusal, Shortfall) and refusal.period == "month"


async def test_messages_without_a_user_are_charged_to_the_chat(setup: Setup) -> None:
    quota = setup.quota(daily=5)
    assert await quota.reserve(await setup.job(user_id=None, duration=5.0)) is None
    assert (await quota.status(-100)).day_used == 5.0
    assert (await quota.status(USER)).day_used == 0.0


async def test_forgetting_a_user_does_not_reset_their_quota(setup: Setup) -> None:
    quota = setup.quota(daily=10)
    job = await setup.job(duration=10.0)
    assert await quota.reserve(job) is None
    await quota.commit(job, reported=None)
    await ForgetRepository(setup.db).forget(USER)
    assert await setup.db.fetch_all("SELECT * FROM jobs WHERE user_id = ?", (USER,)) == []
    assert await setup.db.fetch_all("SELECT * FROM user_totals") == []
    rows = await setup.db.fetch_all("SELECT user_id, subject FROM quota_ledger")
    assert [row["user_id"] for row in rows] == [None]
    assert str(USER) not in rows[0]["subject"]  # a keyed hash, not the id
    assert isinstance(await quota.reserve(await setup.job(duration=1.0)), Shortfall)


async def test_a_measured_duration_corrects_the_reservation(setup: Setup) -> None:
    quota = setup.quota(daily=100)
    estimated = await setup.job(duration=None, size=200_000)  # 50 s at the assumed bitrate
    assert await quota.reserve(estimated) is None
    assert (await quota.status(USER)).day_used == 50.0
    assert await quota.correct_duration(estimated, 12.0) is None
    assert (await quota.status(USER)).day_used == 12.0
    # A declared second that the file shows to be 95 s is re-checked against the limit.
    liar = await setup.job(duration=1.0)
    assert await quota.reserve(liar) is None
    refusal = await quota.correct_duration(liar, 95.0)
    assert isinstance(refusal, Shortfall) and refusal.left == 88.0
    assert (await quota.status(USER)).day_used == 12.0  # the liar's second is released too
    assert (await StatsRepository(setup.db).usage(None)).refused == 1
    # Rounding is not a lie: 1 s declared, 1.4 s measured keeps the declared second.
    honest = await setup.job(duration=1.0)
    assert await quota.reserve(honest) is None
    assert await quota.correct_duration(honest, 1.4) is None
    assert (await quota.status(USER)).day_used == 13.0


async def test_settled_rows_of_past_months_are_purged(setup: Setup) -> None:
    quota = setup.quota(daily=0, monthly=0)
    setup.clock.set("2025-05-31T10:00:00+00:00")
    old = await setup.job()
    assert await quota.reserve(old) is None
    await quota.commit(old, reported=None)
    still_open = await setup.job()
    assert await quota.reserve(still_open) is None
    setup.clock.set("2025-06-02T10:00:00+00:00")
    assert await quota.reserve(await setup.job()) is None  # the day's first reservation purges
    rows = await setup.db.fetch_all("SELECT job_id FROM quota_ledger ORDER BY job_id")
    assert [row["job_id"] for row in rows] == [still_open.id, still_open.id + 1]


async def _day_totals(db: Database) -> tuple[dict[str, float], dict[str, float]]:
    """The bot's seconds per day: kept by the triggers, and summed from the ledger."""
    kept = await db.fetch_all("SELECT day, seconds FROM bot_day_usage")
    summed = await db.fetch_all(
        """SELECT substr(created_at, 1, 10) AS day, SUM(seconds) AS seconds FROM quota_ledger
           WHERE state != 'refunded' GROUP BY day"""
    )
    return (
        {row["day"]: round(row["seconds"], 6) for row in kept if abs(row["seconds"]) > 1e-9},
        {row["day"]: round(row["seconds"], 6) for row in summed},
    )


async def test_the_bots_day_total_follows_every_change_to_the_ledger(setup: Setup) -> None:
    """The budget reads the bot's total of the day from a table the ledger's triggers keep:
    after reservations, corrections, commits, refunds, a forgotten user, a new day and a
    purge, it still equals the ledger's own sum, and the budget refuses at that total."""
    quota = setup.quota(daily=0, monthly=0, budget=100_000)
    chance = Random(11)
    for day in ("2025-05-31", "2025-06-01", "2025-06-02"):
        setup.clock.set(f"{day}T10:00:00+00:00")
        for _ in range(40):
            job = await setup.job(
                user_id=chance.choice([USER, USER + 1, None]),
                duration=chance.choice([None, 1.0, 4.5, 30.0]),
            )
            assert await quota.reserve(job) is None
            step = chance.random()
            if step < 0.3:
                await quota.correct_duration(job, chance.uniform(0.5, 60.0))
            if step < 0.6:
                await quota.commit(job, reported=chance.choice([None, 2.0]))
            elif step < 0.85:
                await quota.refund(job)
        kept, summed = await _day_totals(setup.db)
        assert kept == summed
        if day == "2025-06-01":
            await ForgetRepository(setup.db).forget(USER)
    # June's first reservation purged May's settled rows; May's total lost them too.
    settled_in_may = await setup.db.fetch_all(
        "SELECT 1 FROM quota_ledger WHERE created_at < '2025-06' AND state != 'reserved'"
    )
    assert settled_in_may == []
    kept, summed = await _day_totals(setup.db)
    assert kept == summed
    # The budget: today's total is what a new reservation is checked against.
    today = kept["2025-06-02"]
    tight = setup.quota(daily=0, monthly=0, budget=math.ceil(today) + 5)
    assert await tight.reserve(await setup.job(duration=4.0)) is None
    assert isinstance(await tight.reserve(await setup.job(duration=4.0)), OverBudget)
