"""/start and /help, plus a hint for plain text in private chats."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.presentation import texts
from handlers.context import BotContext
from handlers.locale import translator_of


async def on_start(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        tr = await translator_of(update, context)
        await update.effective_message.reply_text(tr(texts.START))


async def on_help(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        tr = await translator_of(update, context)
        max_mb = context.services.settings.max_file_bytes / 1e6
        text = tr.render(texts.HELP, max_mb=tr.number(max_mb))
        if context.services.payments.enabled:
            text += tr(texts.HELP_PAYMENTS)
        await update.effective_message.reply_text(text)


async def on_private_text(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        tr = await translator_of(update, context)
        await update.effective_message.reply_text(tr(texts.TEXT_HINT))


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
