"""The last resort: log an unexpected error without leaking anything, and tell the user."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError

from bot.presentation import texts
from handlers.context import BotContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    # The exception text only: a traceback of a Bot API call can include the request URL.
    log.error("unhandled error: %s: %s", type(error).__name__, error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(texts.failure("internal"))
