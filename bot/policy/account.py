"""A user's own view of their account: /usage, and /forget."""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.payments import PaymentService
from bot.policy.preferences import PreferencesService
from bot.policy.quota import QuotaService
from bot.policy.quota_math import QuotaStatus
from bot.stt.catalogue import ModelSpec
from storage.forget import ForgetRepository


@dataclass(frozen=True, slots=True)
class UsageView:
    quota: QuotaStatus
    model: ModelSpec  # the model the user's next recording goes to
    admin: bool
    show_balance: bool = False  # payments are on, or the user has bought time before


class AccountService:
    def __init__(
        self,
        *,
        quota: QuotaService,
        preferences: PreferencesService,
        forgetting: ForgetRepository,
        payments: PaymentService | None = None,
    ) -> None:
        self._quota = quota
        self._preferences = preferences
        self._forgetting = forgetting
        self._payments = payments

    async def usage(self, user_id: int) -> UsageView:
        choice = await self._preferences.choice_for(user_id)
        admin = self._quota.is_admin(user_id)
        return UsageView(
            quota=await self._quota.status(user_id),
            model=choice.model,
            admin=admin,
            show_balance=not admin and await self.payments_shown(user_id),
        )

    async def payments_shown(self, user_id: int) -> bool:
        """Whether this user's screens mention payments (and /forget keeping them)."""
        return self._payments is not None and await self._payments.shown_for(user_id)

    async def forget(self, user_id: int) -> None:
        """Delete the user's record, settings, history and totals. Their quota usage stays,
        anonymous, until its window ends (see storage/forget.py); their payments stay, as
        the law requires records of them (and their bought time stays theirs)."""
        await self._forgetting.forget(user_id)
