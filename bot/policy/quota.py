"""Quota and flood policy over the ledger: reserve before the API call, commit or refund after.

The payer of a job is its user, or the chat for a message sent on behalf of a chat (an
anonymous group admin, a channel's post in its discussion group). Admins are never limited.
Seconds a user bought (bot/policy/payments.py) pay for what the free quota has no room for,
decided and held inside the ledger's one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.policy import quota_math
from bot.policy.quota_math import Limits, QuotaStatus, Shortfall
from storage.access import AccessRuleRepository
from storage.clock import Clock, utc_now
from storage.jobs import Job
from storage.quota import Admit, Basis, LedgerSnapshot, QuotaLedger, Windows

log = logging.getLogger(__name__)

FLOOD_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TooManyInFlight:
    limit: int


@dataclass(frozen=True, slots=True)
class TooManyPerMinute:
    limit: int
    retry_after: float  # seconds until the oldest admission leaves the window


@dataclass(frozen=True, slots=True)
class OverBudget:
    """The bot-wide daily ceiling (BUDGET_DAILY_SECONDS) would be passed. It binds admins too:
    it caps what the operator pays, whoever asks."""

    limit: int
    resets_at: datetime


Refusal = Shortfall | TooManyInFlight | TooManyPerMinute | OverBudget


def payer_of(job: Job) -> int:
    return job.user_id if job.user_id is not None else job.chat_id


def _usage(limits: Limits, snapshot: LedgerSnapshot, now: datetime) -> QuotaStatus:
    return quota_math.status(
        limits, snapshot.day_used, snapshot.month_used, now, balance=snapshot.balance
    )


def _fit(usage: QuotaStatus, seconds: float) -> Shortfall | Admit:
    """Admit with the bought seconds it takes, or the shortfall."""
    refusal = usage.shortfall(seconds)
    return refusal if refusal is not None else Admit(paid=usage.paid_part(seconds))


class QuotaService:
    def __init__(
        self,
        ledger: QuotaLedger,
        rules: AccessRuleRepository,
        *,
        daily_seconds: int,
        monthly_seconds: int,
        admin_ids: frozenset[int],
        max_in_flight: int,
        max_per_minute: int,
        max_file_bytes: int,
        daily_budget: int = 0,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        # Seconds the whole bot may send to the API in a UTC day; 0: no ceiling.
        self._daily_budget = daily_budget
        self._rules = rules
        self._defaults = Limits(daily_seconds, monthly_seconds)
        self._admins = admin_ids
        self._max_in_flight = max_in_flight
        self._max_per_minute = max_per_minute
        self._max_file_bytes = max_file_bytes
        self._clock = clock
        self._purged_for: date | None = None

    def is_admin(self, payer_id: int) -> bool:
        return payer_id in self._admins

    @property
    def daily_budget(self) -> int:
        return self._daily_budget

    def _over_budget(
        self, snapshot: LedgerSnapshot, seconds: float, now: datetime
    ) -> OverBudget | None:
        budget = self._daily_budget
        if budget == 0 or snapshot.bot_day_used + seconds <= budget + quota_math.EPSILON:
            return None
        return OverBudget(budget, quota_math.day_window(now).end)

    async def limits_for(self, payer_id: int) -> Limits:
        if self.is_admin(payer_id):
            return quota_math.UNLIMITED
        rule = await self._rules.get(payer_id)
        return quota_math.effective_limits(self._defaults, rule.daily_seconds, rule.monthly_seconds)

    def _windows(self, now: datetime) -> Windows:
        return Windows(
            day_start=quota_math.day_window(now).start,
            month_start=quota_math.month_window(now).start,
            recent_since=now - FLOOD_WINDOW,
        )

    async def status(self, payer_id: int) -> QuotaStatus:
        now = self._clock()
        snapshot = await self._ledger.snapshot(payer_id, self._windows(now))
        limits = await self.limits_for(payer_id)
        return _usage(limits, snapshot, now)

    def _planned(self, job: Job) -> tuple[float, Basis]:
        if job.duration is not None and job.duration > 0:
            return job.duration, "declared"
        return quota_math.estimate_seconds(job.file_size, self._max_file_bytes), "estimated"

    async def reserve(self, job: Job) -> Refusal | None:
        """Reserve the job's duration atomically; the refusal when it does not fit."""
        await self._purge_old_windows()
        payer = payer_of(job)
        seconds, basis = self._planned(job)
        now = self._clock()
        limits = await self.limits_for(payer)
        exempt = self.is_admin(payer)

        def decide(snapshot: LedgerSnapshot) -> Refusal | Admit:
            over = self._over_budget(snapshot, seconds, now)
            if over is not None:
                return over
            if exempt:
                return Admit()
            if snapshot.in_flight >= self._max_in_flight:
                return TooManyInFlight(self._max_in_flight)
            if snapshot.recent >= self._max_per_minute:
                oldest = snapshot.oldest_recent or now
                wait = (oldest + FLOOD_WINDOW - now).total_seconds()
                return TooManyPerMinute(self._max_per_minute, max(1.0, wait))
            return _fit(_usage(limits, snapshot, now), seconds)

        refusal: Refusal | None = await self._ledger.reserve(
            job_id=job.id,
            payer_id=payer,
            user_id=job.user_id,
            model=job.model,
            seconds=seconds,
            basis=basis,
            now=now,
            windows=self._windows(now),
            decide=decide,
        )
        if refusal is None:
            log.info("job %d: reserved %.1f s (%s)", job.id, seconds, basis)
        else:
            log.info("job %d: refused (%s)", job.id, type(refusal).__name__)
        return refusal

    async def has_reservation(self, job_id: int) -> bool:
        return await self._ledger.get(job_id) is not None

    async def correct_duration(
        self, job: Job, measured: float
    ) -> Shortfall | OverBudget | None:
        """Replace an estimate, or a declaration the file proves false, by the measured
        duration, re-checking the limits. When the real duration does not fit, the reservation
        is released and the refusal returned."""
        entry = await self._ledger.get(job.id)
        if entry is None or entry.state != "reserved":
            return None
        if entry.basis == "declared" and not quota_math.declared_is_false(entry.seconds, measured):
            return None
        if entry.basis == "measured":
            return None
        refusal = await self._resize(job, measured, "measured")
        log.info(
            "job %d: %s %.1f s, measured %.1f s%s",
            job.id,
            entry.basis,
            entry.seconds,
            measured,
            " (over the quota)" if refusal else "",
        )
        return refusal

    async def correct_estimate(
        self, job: Job, actual_bytes: int
    ) -> Shortfall | OverBudget | None:
        """A file that came with no size and cannot be measured: estimate again from its
        downloaded size, re-checking the limits."""
        entry = await self._ledger.get(job.id)
        if entry is None or entry.state != "reserved" or entry.basis != "estimated":
            return None
        seconds = quota_math.estimate_seconds(actual_bytes, self._max_file_bytes)
        return await self._resize(job, seconds, "estimated")

    async def _resize(
        self, job: Job, seconds: float, basis: Basis
    ) -> Shortfall | OverBudget | None:
        """Replace a job's reservation by `seconds`, re-checking the payer's limits and the
        bot's ceiling in the same transaction (a false declaration must not slip past either);
        when it no longer fits, the reservation is released and the refusal returned."""
        payer = payer_of(job)
        now = self._clock()
        limits = await self.limits_for(payer)

        def decide(snapshot: LedgerSnapshot) -> Shortfall | OverBudget | Admit:
            over = self._over_budget(snapshot, seconds, now)
            if over is not None:
                return over
            return _fit(_usage(limits, snapshot, now), seconds)

        refusal: Shortfall | OverBudget | None = await self._ledger.resize(
            job_id=job.id,
            payer_id=payer,
            seconds=seconds,
            basis=basis,
            windows=self._windows(now),
            decide=decide,
        )
        if refusal is not None:
            await self._ledger.refund(job.id, refused=True)
        return refusal

    async def commit(self, job: Job, reported: float | None) -> None:
        def charge(reserved: float, basis: Basis) -> tuple[float, float]:
            charged = quota_math.commit_seconds(reserved, basis, reported)
            # The statistics count what the operator paid for: the backend's figure when it
            # has one.
            billed = reported if reported is not None and reported >= 0 else charged
            return charged, billed

        # Read and settled in one transaction: nothing settles it in between.
        await self._ledger.commit(job.id, charge=charge)

    async def refund(self, job: Job) -> None:
        if await self._ledger.refund(job.id):
            log.info("job %d: reservation refunded", job.id)

    async def record_cache_hit(self, job: Job) -> None:
        await self._ledger.record_cache_hit(job.user_id, job.model)

    async def _purge_old_windows(self) -> None:
        """Once a day, drop settled rows of past months: no window needs them any more."""
        now = self._clock()
        today = now.date()
        if self._purged_for == today:
            return
        self._purged_for = today
        # A minute's margin keeps the flood window whole across the month boundary.
        removed = await self._ledger.purge(quota_math.month_window(now).start - FLOOD_WINDOW)
        if removed:
            log.info("purged %d quota ledger row(s) of past months", removed)
