"""Who may have a transcript summarised or translated, how often, and where it comes unasked.

- The daily quota: QUOTA_DAILY_SUMMARIES requests per payer and UTC day (0: no limit; admins
  are never limited), reserved atomically with the request itself (storage/summaries.py).
  A failed request is refunded and may be asked again.
- Groups: their admins may ask for a summary under every voice note longer than N seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.policy.groups import GroupService
from bot.policy.quota_math import day_window
from storage.clock import Clock, utc_now
from storage.summaries import (
    Existing,
    GroupSummarySettings,
    Kind,
    Reserved,
    SummaryRequest,
    SummaryRequests,
)

log = logging.getLogger(__name__)

# A minute of speech is far too short to need a summary: the lowest threshold a group may set.
MIN_GROUP_SECONDS = 30
# And the highest: no Telegram voice note of interest is longer than a day.
MAX_GROUP_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class SummariesUsedUp:
    """The payer has made `limit` requests today; more from `resets_at`."""

    limit: int
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class Ask:
    """One summary or translation asked for, and where its answer goes."""

    kind: Kind
    job_id: int
    language: str  # the answer's
    payer_id: int
    chat_id: int
    reply_to: int | None
    bulk: bool = False  # posted unasked (a group's auto-summary): it waits behind answers


class SummaryQuota:
    def __init__(
        self,
        requests: SummaryRequests,
        *,
        daily: int,
        admin_ids: frozenset[int],
        clock: Clock = utc_now,
    ) -> None:
        self._requests = requests
        self._daily = daily  # 0: unlimited
        self._admins = admin_ids
        self._clock = clock
        self._purged_for: date | None = None

    @property
    def daily(self) -> int:
        return self._daily

    def is_limited(self, payer_id: int) -> bool:
        return self._daily > 0 and payer_id not in self._admins

    async def reserve(self, ask: Ask) -> Reserved | Existing | SummariesUsedUp:
        await self._purge_old_days()
        window = day_window(self._clock())
        limited = self.is_limited(ask.payer_id)

        def decide(used: int) -> SummariesUsedUp | None:
            if limited and used >= self._daily:
                return SummariesUsedUp(self._daily, window.end)
            return None

        outcome = await self._requests.reserve(
            kind=ask.kind,
            job_id=ask.job_id,
            language=ask.language,
            payer_id=ask.payer_id,
            chat_id=ask.chat_id,
            reply_to=ask.reply_to,
            bulk=ask.bulk,
            day_start=window.start,
            decide=decide,
        )
        if isinstance(outcome, SummariesUsedUp):
            log.info("job %d: %s refused: the daily limit is used up", ask.job_id, ask.kind)
        return outcome

    async def used_today(self, payer_id: int) -> int:
        return await self._requests.used_since(payer_id, day_window(self._clock()).start)

    async def done(self, request: SummaryRequest) -> None:
        await self._requests.settle(request.key, "done")

    async def refund(self, request: SummaryRequest) -> None:
        await self._requests.settle(request.key, "refunded")

    async def open_requests(self) -> list[SummaryRequest]:
        return await self._requests.open_requests()

    async def _purge_old_days(self) -> None:
        """Once a day, drop settled requests of past days: no window counts them any more."""
        today = self._clock().date()
        if self._purged_for == today:
            return
        self._purged_for = today
        removed = await self._requests.purge(day_window(self._clock()).start - timedelta(days=1))
        if removed:
            log.info("purged %d summary request(s) of past days", removed)


@dataclass(frozen=True, slots=True)
class AutoSummaryChange:
    allowed: bool  # False: the requester is not an administrator of the group
    min_seconds: int | None  # in force afterwards; None: off


class GroupSummaries:
    """The admins' choice: a summary under every voice note longer than N seconds, or none."""

    def __init__(
        self, settings: GroupSummarySettings, groups: GroupService, *, default_seconds: int
    ) -> None:
        self._settings = settings
        self._groups = groups
        self.default_seconds = default_seconds

    async def min_seconds(self, chat_id: int) -> int | None:
        return await self._settings.min_seconds(chat_id)

    async def change(
        self,
        chat_id: int,
        min_seconds: int | None,
        *,
        user_id: int | None,
        sender_chat_id: int | None,
    ) -> AutoSummaryChange:
        if not await self._groups.is_group_admin(chat_id, user_id, sender_chat_id):
            return AutoSummaryChange(False, await self._settings.min_seconds(chat_id))
        await self._settings.set_min_seconds(chat_id, min_seconds)
        return AutoSummaryChange(True, min_seconds)
