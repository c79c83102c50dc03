"""What the operator's admins can see and change: statistics, a user's record, the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.policy import quota_math
from bot.policy.access import AccessService
from bot.policy.payments import PaymentService
from bot.policy.quota import QuotaService
from bot.policy.quota_math import QuotaStatus
from storage.access import AccessRule
from storage.clock import Clock, utc_now
from storage.payments import PaymentRecord, PaymentTotals
from storage.quota import stats_day
from storage.spend import SpendRepository, SpendTotals
from storage.stats import ModelUsage, StatsRepository, UsageTotals, UserCounts
from storage.users import UserRecord, UserRepository


@dataclass(frozen=True, slots=True)
class SpendReport:
    """What the bot sent to the API (seconds not refunded) and what the API said it cost."""

    today: SpendTotals
    month: SpendTotals
    daily_budget: int  # BUDGET_DAILY_SECONDS; 0: no ceiling


@dataclass(frozen=True, slots=True)
class StatsReport:
    users: UserCounts
    today: UsageTotals
    total: UsageTotals
    models: list[ModelUsage]
    spend: SpendReport | None = None
    payments: PaymentTotals | None = None  # None: nothing sold, ever


@dataclass(frozen=True, slots=True)
class UserReport:
    user_id: int
    record: UserRecord | None
    rule: AccessRule
    is_admin: bool
    quota: QuotaStatus
    models: list[ModelUsage]
    balance: float | None = None  # bought seconds left; None: payments are not shown
    payments: list[PaymentRecord] = field(default_factory=list)  # newest first


class AdminService:
    def __init__(
        self,
        *,
        stats: StatsRepository,
        users: UserRepository,
        access: AccessService,
        quota: QuotaService,
        spend: SpendRepository | None = None,
        payments: PaymentService | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._spend = spend
        self._stats = stats
        self._users = users
        self._access = access
        self._quota = quota
        self._payments = payments
        self._clock = clock

    def is_admin(self, user_id: int | None) -> bool:
        return self._access.is_admin(user_id)

    @property
    def open_mode(self) -> bool:
        return self._access.mode == "open"

    async def stats(self) -> StatsReport:
        now = self._clock()
        return StatsReport(
            users=await self._stats.user_counts(quota_math.day_window(now).start),
            today=await self._stats.usage(stats_day(now)),
            total=await self._stats.usage(None),
            models=await self._stats.by_model(),
            spend=await self.spend(),
            payments=await self._payment_totals(),
        )

    async def _payment_totals(self) -> PaymentTotals | None:
        if self._payments is None:
            return None
        totals = await self._payments.totals()
        return totals if self._payments.enabled or totals.payments else None

    async def spend(self) -> SpendReport | None:
        if self._spend is None:
            return None
        now = self._clock()
        return SpendReport(
            today=await self._spend.totals(quota_math.day_window(now).start),
            month=await self._spend.totals(quota_math.month_window(now).start),
            daily_budget=self._quota.daily_budget,
        )

    async def user(self, user_id: int) -> UserReport | None:
        """A user's (or a chat's) record, rules and usage; None when we know nothing of them."""
        record = await self._users.get(user_id)
        rule = await self._access.rule(user_id)
        quota = await self._quota.status(user_id)
        models = await self._stats.user_by_model(user_id)
        payments = [] if self._payments is None else await self._payments.payments_of(user_id)
        known = (
            record is not None
            or rule != AccessRule(user_id)
            or quota.month_used > 0
            or bool(models)
            or bool(payments)
        )
        if not known:
            return None
        shown = self._payments is not None and (self._payments.enabled or bool(payments))
        return UserReport(
            user_id=user_id,
            record=record,
            rule=rule,
            is_admin=self._access.is_admin(user_id),
            quota=quota,
            models=models,
            balance=quota.balance if shown else None,
            payments=payments,
        )

    async def set_quota(
        self, subject_id: int, daily: int | None, monthly: int | None, *, keep_monthly: bool
    ) -> AccessRule:
        """Override a quota (None: back to the default); keep_monthly leaves that one alone."""
        if keep_monthly:
            monthly = (await self._access.rule(subject_id)).monthly_seconds
        await self._access.set_quota(subject_id, daily, monthly)
        return await self._access.rule(subject_id)

    async def ban(self, subject_id: int) -> None:
        await self._access.set_banned(subject_id, True)

    async def unban(self, subject_id: int) -> None:
        await self._access.set_banned(subject_id, False)

    async def allow(self, subject_id: int) -> None:
        await self._access.set_allowed(subject_id, True)

    async def deny(self, subject_id: int) -> None:
        await self._access.set_allowed(subject_id, False)
