"""Retention: the periodic sweep that deletes what the bot no longer needs (README, "What is
stored, and for how long").

- transcript cache entries past CACHE_TTL_HOURS (0: every entry, at once);
- finished jobs past JOB_RETENTION_DAYS, with their send journal; never an open job;
- the text of a finished job that was never delivered;
- the content of a handled update (done or poisoned) at once, and its row after a day.

Why a day for the rows: Telegram sends an update again when its confirmation was lost (the
next getUpdates offset never went out, or a webhook's 2xx never arrived), and the inbox knows
it is a repeat only while the row exists. Telegram keeps an unconfirmed update for at most 24
hours, so that covers any repeat, however long the bot was down before restarting (an hour
would not: a restart after a night's outage would handle the last batch twice). The id is all
that takes; the content goes at the first sweep.

The runtime owns the task (bot/app.py): it sweeps at start, then every `interval` seconds,
and is cancelled on stop. A failed sweep is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from storage.clock import Clock, utc_now
from storage.retention import Cutoffs, Removed, RetentionRepository

log = logging.getLogger(__name__)

# How long Telegram keeps an update it could not hand over (Bot API docs, "Getting updates").
UPDATE_REPLAY_WINDOW = timedelta(hours=24)
# Often enough that a handled update's content is gone within minutes; a sweep is a few
# deletes over tables that retention itself keeps small.
SWEEP_INTERVAL = 15 * 60.0


@dataclass(frozen=True, slots=True)
class RetentionRules:
    cache_ttl: timedelta
    job_retention: timedelta
    update_replay_window: timedelta = UPDATE_REPLAY_WINDOW

    @classmethod
    def from_settings(cls, cache_ttl_hours: float, job_retention_days: float) -> RetentionRules:
        return cls(timedelta(hours=cache_ttl_hours), timedelta(days=job_retention_days))


class RetentionSweeper:
    def __init__(
        self,
        repository: RetentionRepository,
        rules: RetentionRules,
        *,
        clock: Clock = utc_now,
        interval: float = SWEEP_INTERVAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._repository = repository
        self._rules = rules
        self._clock = clock
        self._interval = interval
        self._sleep = sleep

    async def sweep(self) -> Removed:
        now = self._clock()
        rules = self._rules
        removed = await self._repository.remove_expired(
            Cutoffs(
                now=now,
                cache_before=now - rules.cache_ttl,
                jobs_before=now - rules.job_retention,
                updates_before=now - rules.update_replay_window,
            )
        )
        if removed.anything:
            log.info(
                "retention removed: cache entries %d, jobs %d, transcripts %d, updates %d "
                "(emptied %d); free pages given back %d",
                removed.cache_entries,
                removed.jobs,
                removed.transcripts,
                removed.updates,
                removed.update_payloads,
                removed.free_pages,
            )
        return removed

    async def run(self) -> None:
        """Sweep now, then every interval, until cancelled."""
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention sweep failed; trying again in %.0f s", self._interval)
            await self._sleep(self._interval)
