"""Keeps what the poll schedule learnt across restarts: restored at start, saved every few
minutes and at shutdown, so a restarted bot answers as fast as the one before it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from storage.schedule_state import ScheduleStateRepository

log = logging.getLogger(__name__)

DEFAULT_NAME = "aiml"
DEFAULT_INTERVAL = 300.0  # seconds between saves; a crash loses at most this much learning


class Restorable(Protocol):
    """What a schedule exposes of its state (bot/stt/schedule.py: PollSchedule)."""

    def snapshot(self) -> Mapping[str, object]: ...

    def restore(self, snapshot: Mapping[str, object]) -> int: ...


class ScheduleMemory:
    def __init__(
        self,
        schedule: Restorable,
        repository: ScheduleStateRepository,
        *,
        name: str = DEFAULT_NAME,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._schedule = schedule
        self._repository = repository
        self._name = name
        self._interval = interval
        self._saved: Mapping[str, object] | None = None  # the last snapshot written

    async def restore(self) -> int:
        """Load the saved state into the schedule; return how many jobs it knew."""
        state = await self._repository.load(self._name)
        if state is None:
            log.info("poll schedule %r: nothing saved, starting from the prior", self._name)
            return 0
        jobs = self._schedule.restore(state)
        self._saved = self._schedule.snapshot()
        log.info("poll schedule %r: restored what %d job(s) taught it", self._name, jobs)
        return jobs

    async def save(self) -> None:
        """Write the schedule's state, unless it has not changed since the last write."""
        snapshot = self._schedule.snapshot()
        if snapshot == self._saved:
            return
        await self._repository.save(self._name, snapshot)
        self._saved = snapshot

    async def run(self) -> None:
        """Save every `interval` seconds until cancelled. A failed save is logged and retried
        at the next turn: losing some learning must not stop the bot."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.save()
            except Exception:
                log.warning("poll schedule %r: saving failed", self._name, exc_info=True)
