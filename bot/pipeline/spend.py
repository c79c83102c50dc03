"""The bot's spend: what the API reported each job cost, and the admins' alert at the ceiling.

The ceiling itself (BUDGET_DAILY_SECONDS) is enforced by the quota's reservation
(bot/policy/quota.py), in the same transaction; this service only tells the admins, once per
UTC day, the first time it turns a job away.
"""

from __future__ import annotations

import logging

from bot.policy.quota import OverBudget
from bot.presentation import replies
from bot.telegram.gateway import ChatGateway
from storage.clock import Clock, utc_now
from storage.quota import stats_day
from storage.spend import SpendRepository

log = logging.getLogger(__name__)

# The alert is a courtesy to the admins: it must not hold up the refusal for long.
ALERT_DEADLINE = 10.0


class SpendService:
    def __init__(
        self,
        spend: SpendRepository,
        gateway: ChatGateway,
        *,
        admin_ids: frozenset[int],
        clock: Clock = utc_now,
    ) -> None:
        self._spend = spend
        self._gateway = gateway
        self._admin_ids = admin_ids
        self._clock = clock

    async def record_cost(self, job_id: int, credits: float | None, usd: float | None) -> None:
        if not await self._spend.record_cost(job_id, credits, usd):
            log.debug("job %d: a reported cost, but no ledger row to keep it on", job_id)

    async def budget_reached(self, refusal: OverBudget) -> None:
        """Tell every admin, the first time today the ceiling refuses a job. The day is claimed
        before the messages go, so a burst of refusals tells them once, never once each."""
        now = self._clock()
        if not await self._spend.claim_alert(stats_day(now)):
            return
        log.warning("the daily budget of %d s of audio is reached", refusal.limit)
        text = replies.budget_reached_admin(refusal, now)
        for admin_id in sorted(self._admin_ids):
            try:
                await self._gateway.send_text(
                    admin_id, text, reply_to=None, deadline=ALERT_DEADLINE
                )
            except Exception as error:  # an admin who never started the bot, an outage
                log.warning(
                    "could not tell admin %d the budget is reached: %s",
                    admin_id,
                    type(error).__name__,
                )
