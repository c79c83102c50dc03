"""Durable intake: every update is saved before it is confirmed, and handled until it is done.

python-telegram-bot's own Updater confirms an update to Telegram (the next getUpdates offset) as
soon as it sits in an in-memory queue, so a crash loses whatever was queued. Here the raw JSON
goes to the inbox table first; only then may the poller (bot/telegram/polling.py) move the
offset, or a webhook answer 200. Each update is then parsed and handed to the Application, and
marked done once its handlers have returned. At start-up, whatever is not done is handled again.

Handling again must not answer twice. Media messages are safe to replay: a job is keyed by its
chat and message, so the second pass finds the job and does nothing. Other updates (commands,
button taps) whose handling had *started* when the process died may already have been answered:
they are not replayed, but logged and counted, since Telegram cannot tell us whether the answer
went out. So a start is recorded (state `started`, one more attempt) before the handlers run,
except the first start of a recording: it is safe to replay, so nothing depends on knowing it
began, and that saves a commit on every recording. Every start after a restart is recorded, so
a recording that keeps killing the process is still caught, its unrecorded first start making
it one more than MAX_ATTEMPTS. An update that cannot be parsed, or that keeps failing, is
poisoned: recorded, logged once, and skipped, so it never blocks the updates behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Update
from telegram.ext import Application

from storage.inbox import JSON, InboxEntry, InboxRepository, InboxState
from storage.turns import interactive_work

log = logging.getLogger(__name__)

# Updates handled at once. Accepting a job is a few database writes; commands are quick.
DEFAULT_CONCURRENCY = 16
# Starts after which an update that never finished is taken to be what kills the process.
MAX_ATTEMPTS = 3
# How long a graceful stop waits for handlers already running.
DRAIN_SECONDS = 10.0

_MEDIA_KEYS = ("voice", "audio", "video_note", "video", "document")
# Payments are keyed by Telegram's charge id (storage/payments.py): a second pass credits or
# refunds nothing more and tells the user nothing twice, while skipping one cut off by a stop
# could lose a credit the user paid for.
_PAYMENT_KEYS = ("successful_payment", "refunded_payment")


def _is_recording(payload: JSON) -> bool:
    return _message_has(payload, _MEDIA_KEYS)


def replay_is_safe(payload: JSON) -> bool:
    """Whether handling this update a second time cannot answer twice (see the module doc)."""
    return _message_has(payload, (*_MEDIA_KEYS, *_PAYMENT_KEYS))


def _message_has(payload: JSON, keys: tuple[str, ...]) -> bool:
    message = payload.get("message")
    return isinstance(message, dict) and any(key in message for key in keys)


class UpdateIntake:
    def __init__(
        self,
        inbox: InboxRepository,
        application: Application[Any, Any, Any, Any, Any, Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._application = application
        self._slots = asyncio.Semaphore(concurrency)
        # Commands and button taps never wait behind a flood of recordings being accepted.
        self._interactive_slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Told "poisoned" and "interrupted", for the operator's metrics.
        self._on_event = on_event or (lambda event: None)

    async def receive(self, updates: Sequence[JSON]) -> None:
        """Save a batch of raw updates, then start handling the new ones.

        When this returns, the batch is on disk: the caller may confirm it to Telegram.
        """
        valid = [update for update in updates if isinstance(update.get("update_id"), int)]
        if len(valid) < len(updates):
            log.error("skipped %d update(s) without an update_id", len(updates) - len(valid))
        fresh = set(await self._inbox.save(valid))
        for update in valid:
            if update["update_id"] in fresh:
                entry = InboxEntry(update["update_id"], update, InboxState.RECEIVED, 0)
                self._dispatch(entry, first_start=True)

    async def replay_pending(self) -> int:
        """At start-up: handle again every update that was saved but not done."""
        entries = await self._inbox.pending()
        replayed = 0
        for entry in entries:
            if entry.attempts >= MAX_ATTEMPTS:
                await self._poison(entry.update_id, f"failed {entry.attempts} times")
                continue
            if entry.state is InboxState.STARTED and not replay_is_safe(entry.payload):
                log.warning(
                    "update %d was being handled at a stop; not handling it again, since it "
                    "may have been answered",
                    entry.update_id,
                )
                self._on_event("interrupted")
                await self._inbox.mark_done(entry.update_id, "interrupted")
                continue
            self._dispatch(entry, first_start=False)
            replayed += 1
        return replayed

    def _dispatch(self, entry: InboxEntry, *, first_start: bool) -> None:
        """`first_start`: just received, never handled before (see the module's docstring)."""
        task = asyncio.create_task(
            self._handle(entry, first_start), name=f"update-{entry.update_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, entry: InboxEntry, first_start: bool) -> None:
        if _is_recording(entry.payload):
            async with self._slots:
                # Safe to replay: only the starts after a restart are recorded.
                await self._handle_now(entry, record_start=not first_start)
            return
        # Commands and button taps: a person waits for the answer, so their database work
        # goes before the recordings' too (and jobs they start, as background work, do not).
        with interactive_work():
            async with self._interactive_slots:
                await self._handle_now(entry, record_start=True)

    async def _handle_now(self, entry: InboxEntry, *, record_start: bool) -> None:
        try:
            update = Update.de_json(entry.payload, self._application.bot)
        except Exception as error:
            await self._poison(entry.update_id, f"cannot parse: {type(error).__name__}")
            return
        if record_start:
            await self._inbox.mark_started(entry.update_id)
        # Errors inside handlers go to the Application's error handler, which answers the
        # user; process_update itself returns normally.
        await self._application.process_update(update)
        await self._inbox.mark_done(entry.update_id)

    async def _poison(self, update_id: int, reason: str) -> None:
        log.error("update %d is poisoned and skipped: %s", update_id, reason)
        self._on_event("poisoned")
        await self._inbox.mark_poisoned(update_id, reason)

    async def backlog(self) -> int:
        return await self._inbox.backlog()

    async def wait_idle(self, limit: float | None = None) -> None:
        """Wait until every dispatched update is handled (for tests and a graceful stop)."""
        async with asyncio.timeout(limit):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Let running handlers finish for a moment, then cancel the rest: an update cut off
        stays in the inbox and is dealt with at the next start."""
        with contextlib.suppress(TimeoutError):
            await self.wait_idle(DRAIN_SECONDS)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
