"""Summary and Translate under a transcript, and /groupsummary, a group's automatic summaries."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.policy.summaries import MAX_GROUP_SECONDS, MIN_GROUP_SECONDS
from bot.presentation import keyboards, replies, texts
from bot.presentation.i18n import Translator
from bot.presentation.inputs import parse_count
from handlers.context import BotContext
from handlers.locale import translator_of
from handlers.senders import requester_id, sender_chat_id


async def on_summary_button(update: Update, context: BotContext) -> None:
    """Answer the tap at once; the summary or translation follows as a reply."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    parsed = keyboards.parse_summary_button(query.data)
    if parsed is None:
        await query.answer()
        return
    kind, job_id = parsed
    reply = await context.services.summaries.request(
        kind,
        job_id,
        user_id=query.from_user.id,
        chat_id=query.message.chat.id,
        reply_to=query.message.message_id,
    )
    await query.answer(reply.text, show_alert=reply.alert or None)


def _state(tr: Translator, min_seconds: int | None) -> str:
    if min_seconds is None:
        return tr(texts.GROUP_SUMMARY_OFF)
    return tr.render(texts.GROUP_SUMMARY_ON, duration=replies.duration(tr, min_seconds))


def _threshold(argument: str, default: int) -> tuple[bool, int | None]:
    """(valid, seconds) from "/groupsummary 120" or "on"; seconds None for "off"."""
    if argument == "off":
        return True, None
    if argument == "on":
        return True, default
    seconds = parse_count(argument)
    if seconds is None or not MIN_GROUP_SECONDS <= seconds <= MAX_GROUP_SECONDS:
        return False, None
    return True, seconds


async def on_groupsummary(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    tr = await translator_of(update, context)
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(tr(texts.GROUP_SUMMARY_PRIVATE))
        return
    services = context.services
    if not services.summaries.summaries_enabled:
        await message.reply_text(tr(texts.GROUP_SUMMARY_UNAVAILABLE))
        return
    groups = services.group_summaries
    argument = (context.args or [""])[0].lower()
    if not argument:
        current = await groups.min_seconds(message.chat_id)
        await message.reply_text(
            tr.render(
                texts.GROUP_SUMMARY_HELP,
                state=_state(tr, current),
                default=replies.duration(tr, groups.default_seconds),
            )
        )
        return
    valid, threshold = _threshold(argument, groups.default_seconds)
    if not valid:
        await message.reply_text(
            tr.render(
                texts.GROUP_SUMMARY_INVALID,
                low=tr.number(MIN_GROUP_SECONDS),
                high=tr.number(MAX_GROUP_SECONDS),
            )
        )
        return
    change = await groups.change(
        message.chat_id,
        threshold,
        user_id=requester_id(message),
        sender_chat_id=sender_chat_id(message),
    )
    if not change.allowed:
        await message.reply_text(tr(texts.GROUP_MODE_NOT_ADMIN))
        return
    await message.reply_text(
        tr.render(texts.GROUP_SUMMARY_SET, state=_state(tr, change.min_seconds))
    )


def summary_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CallbackQueryHandler(
            on_summary_button,
            pattern=rf"^({keyboards.SUMMARY_PREFIX}|{keyboards.TRANSLATE_PREFIX})\d+$",
        ),
        CommandHandler("groupsummary", on_groupsummary, filters=filters.UpdateType.MESSAGE),
    ]
