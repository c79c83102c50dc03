"""Long polling of our own: fetch raw updates, save them, and only then confirm them.

Telegram confirms every update below the offset of a getUpdates call. This loop asks for the
next batch with the offset past the previous one only after `UpdateIntake.receive` has saved
that batch, so an update is never confirmed before it is on disk.

The batch is fetched as raw JSON (`Bot.do_api_request`, on the same Bot as everything else),
not through `Bot.get_updates`: that parses the whole batch at once, and one update the library
cannot parse would fail the batch again and again, wedging the bot. Parsing happens per update,
in the intake, where a bad one is poisoned on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, TelegramError
from telegram.warnings import PTBUserWarning

from bot.retry import RetryPolicy
from bot.telegram.intake import UpdateIntake
from bot.telegram.outcomes import Outcome, classify

log = logging.getLogger(__name__)


class UpdatePoller:
    def __init__(
        self,
        bot: Bot,
        intake: UpdateIntake,
        policy: RetryPolicy,
        *,
        allowed_updates: Sequence[str],
        long_poll_seconds: int = 30,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._intake = intake
        self._policy = policy
        self._allowed_updates = list(allowed_updates)
        self._long_poll_seconds = long_poll_seconds
        self._sleep = sleep
        # do_api_request warns that getUpdates has a method of its own; we want its raw form.
        warnings.filterwarnings(
            "ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning
        )

    async def _fetch(self, offset: int | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "timeout": self._long_poll_seconds,
            "allowed_updates": self._allowed_updates,
        }
        if offset is not None:
            kwargs["offset"] = offset
        result = await self._bot.do_api_request(
            "getUpdates", api_kwargs=kwargs, read_timeout=self._long_poll_seconds + 15
        )
        return [update for update in result if isinstance(update, dict)] if result else []

    async def run(self) -> None:
        """Poll until cancelled. Raises InvalidToken when Telegram stops taking our token."""
        offset: int | None = None
        failures = 0
        failing_since = 0.0
        while True:
            try:
                batch = await self._fetch(offset)
            except InvalidToken:
                raise
            except TelegramError as error:
                if failures == 0:
                    failing_since = time.monotonic()
                failure = classify(error)
                if failure.outcome is Outcome.UNAUTHORIZED:
                    raise
                delay = self._policy.next_delay(
                    min(failures, 16),
                    time.monotonic() - failing_since,
                    retry_after=failure.retry_after,
                )
                delay = self._policy.max_delay if delay is None else delay
                log.warning("getUpdates failed (%s); again in %.1fs", error, delay)
                failures += 1
                await self._sleep(delay)
                continue
            failures = 0
            ids = [u["update_id"] for u in batch if isinstance(u.get("update_id"), int)]
            if not ids:
                continue
            await self._intake.receive(batch)
            offset = max(ids) + 1
