"""Telegram's side of webhook mode, for the fake Bot API (tests/fakes/telegram.py).

Once the bot calls setWebhook, the fake stops serving getUpdates (409, as Telegram does) and
POSTs each queued update to the URL, with the secret in X-Telegram-Bot-Api-Secret-Token, one at
a time and in order, until the bot answers 2xx; any other answer, or none, and the same update
is sent again after `retry_delay` (Telegram waits longer, and gives up eventually; the fake
keeps trying, so a test sees every update arrive). deleteWebhook ends it, keeping the queue
unless told to drop it.

`post` sends any update, with any secret, straight to the bot's URL: for the tests of a wrong
secret or a replayed update.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import aiohttp

if TYPE_CHECKING:
    from tests.fakes.telegram import FakeTelegram

JSON = dict[str, Any]

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
# Status of a delivery that got no HTTP answer (connection refused, reset, timed out).
NO_ANSWER: Final = 0


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    update_id: int
    status: int  # the bot's HTTP status, or NO_ANSWER
    at: float  # time.monotonic()


class WebhookSender:
    def __init__(self, fake: FakeTelegram, *, retry_delay: float = 0.2) -> None:
        self._fake = fake
        self.retry_delay = retry_delay
        self.config: WebhookConfig | None = None
        self.deliveries: list[WebhookDelivery] = []
        self.last_error: str | None = None
        # Called with (update, status) after each delivery that got a 2xx: a test may kill
        # the bot right there.
        self.after_delivery: Callable[[JSON, int], None] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self.config is not None

    def delivered(self, update_id: int) -> list[int]:
        """The statuses the bot answered this update with, in order."""
        return [d.status for d in self.deliveries if d.update_id == update_id]

    def set(self, config: WebhookConfig) -> None:
        self.config = config
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="fake-webhook-sender")

    async def delete(self) -> None:
        self.config = None
        await self._stop_task()

    async def close(self) -> None:
        await self._stop_task()

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def post(
        self, update: JSON, *, secret: str | None, url: str | None = None, wait: float = 10.0
    ) -> int:
        """POST one update to the bot as Telegram would (without the secret when it is None);
        return the HTTP status, or NO_ANSWER."""
        target = url or (self.config.url if self.config is not None else None)
        if target is None:
            raise RuntimeError("no webhook URL: the bot has not called setWebhook")
        async with aiohttp.ClientSession() as session:
            return await self._post(session, target, update, secret, wait)

    async def _post(
        self,
        session: aiohttp.ClientSession,
        url: str,
        update: JSON,
        secret: str | None,
        wait: float,
    ) -> int:
        headers = {} if secret is None else {SECRET_HEADER: secret}
        try:
            async with session.post(
                url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=wait),
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.last_error = type(error).__name__
            status = NO_ANSWER
        self.deliveries.append(WebhookDelivery(update["update_id"], status, time.monotonic()))
        self._fake._notify()
        return status

    async def _run(self) -> None:
        fake = self._fake
        async with aiohttp.ClientSession() as session:
            while (config := self.config) is not None and not fake._closing:
                batch = fake._deliverable(1)
                if not batch:
                    await fake._wait_change(1.0)
                    continue
                update = batch[0]
                status = await self._post(
                    session, config.url, copy.deepcopy(update), config.secret_token, 10.0
                )
                if 200 <= status < 300:
                    fake._updates = [
                        queued
                        for queued in fake._updates
                        if queued["update_id"] != update["update_id"]
                    ]
                    fake._notify()
                    if self.after_delivery is not None:
                        self.after_delivery(copy.deepcopy(update), status)
                else:
                    if status != NO_ANSWER:
                        self.last_error = f"Wrong response from the webhook: {status}"
                    await fake._sleep_unless_closing(self.retry_delay)
