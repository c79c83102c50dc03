"""The daily quota of summaries and translations on a real SQLite file: a burst of requests
cannot pass it, a request is one however often it is asked, a failure gives it back, and the
count survives /forget and starts again the next UTC day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.policy.summaries import Ask, SummariesUsedUp, SummaryQuota
from storage.db import Database
from storage.forget import ForgetRepository
from storage.quota import QuotaLedger
from storage.summaries import Existing, Kind, Reserved, SummaryRequests
from tests.fakes.clock import FakeClock

USER = 501
ADMIN = 502


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 6, 2, 22, 0, tzinfo=UTC))


def quota_for(database: Database, clock: FakeClock, daily: int = 3) -> SummaryQuota:
    requests = SummaryRequests(database, QuotaLedger(database, clock), clock)
    return SummaryQuota(requests, daily=daily, admin_ids=frozenset({ADMIN}), clock=clock)


def ask(job_id: int, payer: int = USER, kind: Kind = "summary", language: str = "en") -> Ask:
    return Ask(kind, job_id, language, payer_id=payer, chat_id=payer, reply_to=9)


async def test_a_burst_of_requests_cannot_pass_the_daily_limit(
    database: Database, clock: FakeClock
) -> None:
    quota = quota_for(database, clock, daily=3)
    outcomes = await asyncio.gather(*(quota.reserve(ask(job_id)) for job_id in range(1, 21)))

    reserved = [o for o in outcomes if isinstance(o, Reserved)]
    refused = [o for o in outcomes if isinstance(o, SummariesUsedUp)]
    assert len(reserved) == 3 and len(refused) == 17
    assert refused[0] == SummariesUsedUp(3, datetime(2026, 6, 3, tzinfo=UTC))
    assert await quota.used_today(USER) == 3


async def test_the_same_request_asked_at_once_is_reserved_once(
    database: Database, clock: FakeClock
) -> None:
    quota = quota_for(database, clock)
    outcomes = await asyncio.gather(*(quota.reserve(ask(7)) for _ in range(10)))

    assert sum(isinstance(o, Reserved) for o in outcomes) == 1
    assert sum(isinstance(o, Existing) for o in outcomes) == 9
    assert await quota.used_today(USER) == 1
    # Another language or kind of the same transcript is another request.
    assert isinstance(await quota.reserve(ask(7, language="ru")), Reserved)
    assert isinstance(await quota.reserve(ask(7, kind="translation")), Reserved)


async def test_a_refunded_request_does_not_count_and_may_be_asked_again(
    database: Database, clock: FakeClock
) -> None:
    quota = quota_for(database, clock, daily=1)
    first = await quota.reserve(ask(1))
    assert isinstance(first, Reserved) and first.request.attempt == 1
    await quota.refund(first.request)
    assert await quota.used_today(USER) == 0
    again = await quota.reserve(ask(1))
    assert isinstance(again, Reserved) and again.request.attempt == 2
    await quota.done(again.request)
    answered = await quota.reserve(ask(1))
    assert isinstance(answered, Existing) and answered.request.state == "done"
    assert answered.request.chat_id is None  # where it went is not kept once settled
    assert isinstance(await quota.reserve(ask(2)), SummariesUsedUp)


async def test_admins_and_a_zero_limit_are_not_counted_down(
    database: Database, clock: FakeClock
) -> None:
    quota = quota_for(database, clock, daily=1)
    admin = [await quota.reserve(ask(job_id, payer=ADMIN)) for job_id in range(1, 5)]
    unlimited = quota_for(database, clock, daily=0)
    anyone = [await unlimited.reserve(ask(job_id)) for job_id in range(5, 9)]
    assert all(isinstance(outcome, Reserved) for outcome in admin + anyone)


async def test_the_count_starts_again_the_next_utc_day_and_survives_forget(
    database: Database, clock: FakeClock
) -> None:
    quota = quota_for(database, clock, daily=1)
    assert isinstance(await quota.reserve(ask(1)), Reserved)
    await ForgetRepository(database).forget(USER)
    assert isinstance(await quota.reserve(ask(2)), SummariesUsedUp)  # forgetting is no reset
    clock.advance(hours=2, minutes=1)  # past midnight UTC
    assert isinstance(await quota.reserve(ask(3)), Reserved)
    assert await quota.used_today(USER) == 1
