"""The last resort: log an unexpected error without leaking anything, and tell the user."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError

from bot.presentation import texts
from bot.presentation.i18n import ENGLISH
from handlers.context import BotContext
from handlers.locale import translator_of

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    # The exception text only: a traceback of a Bot API call can include the request URL.
    log.error("unhandled error: %s: %s", type(error).__name__, error)
    if isinstance(update, Update) and update.effective_message is not None:
        # The error may be the database's: then English, rather than no answer at all.
        tr = ENGLISH
        with contextlib.suppress(Exception):
            tr = await translator_of(update, context)
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(tr(texts.failure("internal")))
