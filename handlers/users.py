"""Record every user who writes, before any other handler runs."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, TypeHandler

from handlers.context import BotContext


async def record_user(update: Update, context: BotContext) -> None:
    user = update.effective_user
    if user is None or user.is_bot:
        return
    await context.services.users.touch(
        user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def user_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [TypeHandler(Update, record_user)]
