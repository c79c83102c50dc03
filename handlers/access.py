"""Banned users and chats are ignored: this runs before every other handler and stops there."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from handlers.context import BotContext


async def drop_banned(update: Update, context: BotContext) -> None:
    user = update.effective_user
    chat = update.effective_chat
    user_id = None if user is None else user.id
    if await context.services.access.is_banned(user_id, None if chat is None else chat.id):
        raise ApplicationHandlerStop


def access_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [TypeHandler(Update, drop_banned)]
