"""The one owner of background work: tracks tasks, caps transfers, logs failures, cancels cleanly.

asyncio keeps only weak references to tasks, so a task nobody holds can vanish mid-flight; the
supervisor holds them. On shutdown, tasks are cancelled rather than awaited: a job can poll for
minutes, and everything it needs to resume is already in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Literal

from storage.turns import background_work

log = logging.getLogger(__name__)


class TransferSlots(asyncio.Semaphore):
    """A semaphore that counts who waits for a slot: the transfer queue's depth, for the
    operator's metrics."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.waiting = 0

    async def acquire(self) -> Literal[True]:
        self.waiting += 1
        try:
            return await super().acquire()
        finally:
            self.waiting -= 1


class TaskSupervisor:
    def __init__(self, max_concurrent_transfers: int) -> None:
        # Downloads and uploads hold memory and bandwidth; polling is cheap and runs unbounded.
        self.transfer_slots = TransferSlots(max_concurrent_transfers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def active(self) -> int:
        return len(self._tasks)

    def spawn(
        self, coroutine: Coroutine[Any, Any, None], *, name: str
    ) -> asyncio.Task[None] | None:
        if self._closing:
            coroutine.close()
            log.info("not starting %s: shutting down", name)
            return None
        task = asyncio.create_task(self._guard(coroutine, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        try:
            # A job a command started is background work all the same: its database calls
            # queue behind the commands' (storage/turns.py).
            with background_work():
                await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed", name)

    async def wait_idle(self, limit: float | None = None) -> None:
        """Wait until no task is running (for tests and for a graceful drain)."""
        async with asyncio.timeout(limit):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self) -> None:
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("cancelled %d background task(s); they resume at the next start", len(tasks))
