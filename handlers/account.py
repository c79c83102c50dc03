"""/usage and /forget: a user's own quota, and deleting what we store about them."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.presentation import replies, texts
from bot.presentation.i18n import Translator
from handlers.context import BotContext
from handlers.locale import translator_of
from handlers.senders import requester_id

# forget:<yes|no>:<user id>: the id makes sure only the person who asked can confirm.
FORGET_DATA = re.compile(r"^forget:(yes|no):(\d+)$")


async def on_usage(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    # Sent on behalf of a chat: that chat pays for its recordings, so show the chat's usage.
    payer = requester_id(message)
    view = await context.services.account.usage(message.chat_id if payer is None else payer)
    tr = await translator_of(update, context)
    await message.reply_text(
        replies.usage(
            tr, view.quota, view.model, admin=view.admin, show_balance=view.show_balance
        )
    )


async def _keeps_payments(context: BotContext, tr: Translator, user_id: int, text: str) -> str:
    # Payment records outlive /forget (the law requires them): say so wherever they exist.
    if await context.services.account.payments_shown(user_id):
        return tr(text) + tr(texts.FORGET_KEEPS_PAYMENTS)
    return tr(text)


async def on_forget(update: Update, context: BotContext) -> None:
    message = update.effective_message
    user_id = None if message is None else requester_id(message)
    if message is None or user_id is None:
        return
    tr = await translator_of(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(tr(texts.FORGET_YES), callback_data=f"forget:yes:{user_id}"),
                InlineKeyboardButton(tr(texts.FORGET_NO), callback_data=f"forget:no:{user_id}"),
            ]
        ]
    )
    await message.reply_text(
        await _keeps_payments(context, tr, user_id, texts.FORGET_CONFIRM), reply_markup=keyboard
    )


async def on_forget_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    match = FORGET_DATA.match(query.data)
    if match is None:
        await query.answer()
        return
    answer, owner = match.group(1), int(match.group(2))
    # Asked before the data goes: the confirmation is in the language the question was in.
    tr = await translator_of(update, context)
    if query.from_user.id != owner:
        await query.answer(tr(texts.FORGET_NOT_YOURS))
        return
    await query.answer()
    if answer == "yes":
        await context.services.account.forget(owner)
        done = await _keeps_payments(context, tr, owner, texts.FORGET_DONE)
        await query.edit_message_text(done)
    else:
        await query.edit_message_text(tr(texts.FORGET_CANCELLED))


def account_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("usage", on_usage, filters=filters.UpdateType.MESSAGE),
        CommandHandler("forget", on_forget, filters=filters.UpdateType.MESSAGE),
        CallbackQueryHandler(on_forget_answer, pattern=FORGET_DATA),
    ]
