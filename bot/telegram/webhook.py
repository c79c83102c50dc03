"""Webhook mode: Telegram POSTs each update to WEBHOOK_URL; we answer only once it is saved.

python-telegram-bot's own webhook server (tornado) answers 200 as soon as an update is queued
in memory, so a crash loses it. Here the handler awaits `UpdateIntake.receive`, which returns
once the update is in the inbox table, and only then answers 200. Any other answer makes
Telegram send the update again later, so nothing is lost: a failure to save answers 500, and a
process killed before the answer simply never answers. An update that comes twice (the answer
was lost) is saved once and handled once: the inbox keys it by update_id.

Telegram sends the secret of setWebhook's `secret_token` in the X-Telegram-Bot-Api-Secret-Token
header of every request; a request without it, or with another, is not from Telegram: 403, and
nothing in it is read.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Final

from aiohttp import web
from telegram import Bot

from bot.telegram.intake import UpdateIntake

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"


class WebhookEndpoint:
    def __init__(
        self,
        intake: UpdateIntake,
        secret_token: str,
        *,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self._intake = intake
        self._secret = secret_token.encode()
        # Told how each request was answered (accepted, forbidden, malformed, failed).
        self._on_request = on_request or (lambda outcome: None)

    def routes(self, path: str) -> list[web.RouteDef]:
        return [web.post(path, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self._on_request("forbidden")
            return web.Response(status=403)
        try:
            update = await request.json()
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            self._on_request("malformed")
            return web.Response(status=400)
        try:
            await self._intake.receive([update])
        except Exception as error:
            # Not saved: Telegram must send it again.
            log.error("webhook: could not save update %d: %s", update["update_id"], error)
            self._on_request("failed")
            return web.Response(status=500)
        self._on_request("accepted")
        return web.Response(status=200)


async def set_webhook(
    bot: Bot,
    url: str,
    *,
    secret_token: str,
    allowed_updates: Sequence[str],
    max_connections: int,
) -> None:
    """Point Telegram at our URL. Pending updates are kept: they arrive at the new URL."""
    await bot.set_webhook(
        url,
        secret_token=secret_token,
        allowed_updates=list(allowed_updates),
        max_connections=max_connections,
        drop_pending_updates=False,
    )
