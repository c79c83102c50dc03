"""/start and /help, plus a hint for plain text in private chats."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.presentation import texts
from handlers.context import BotContext


async def on_start(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.START)


async def on_help(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        max_mb = context.services.settings.max_file_bytes / 1e6
        text = texts.HELP.format(max_mb=f"{max_mb:g}")
        if context.services.payments.enabled:
            text += texts.HELP_PAYMENTS
        await update.effective_message.reply_text(text)


async def on_private_text(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.TEXT_HINT)


def command_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("start", on_start),
        CommandHandler("help", on_help),
    ]


def fallback_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            on_private_text,
        )
    ]
