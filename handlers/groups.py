"""Groups: /groupmode, /grouplanguage, and transcription on request (/transcribe or a
mention, as a reply).

A request is a reply to the recording. With privacy mode on, Telegram still delivers
"/transcribe" (a command) to the bot, and the recording comes along in reply_to_message: this
is why mention mode works where auto mode sees nothing. A reply that only mentions the bot
arrives when the bot can read all group messages.
"""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.pipeline.media import Origin
from bot.policy.groups import GroupMode
from bot.presentation import keyboards, texts
from handlers.context import BotContext
from handlers.locale import locale_of, translator_of
from handlers.media import media_from_message
from handlers.menus import edit_menu, reply_menu
from handlers.senders import is_from_a_bot, requester_id, sender_chat_id


async def on_groupmode(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    tr = await translator_of(update, context)
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(tr(texts.GROUP_MODE_PRIVATE))
        return
    groups = context.services.groups
    requested = (context.args or [""])[0].lower()
    if requested not in tuple(GroupMode):
        current = await groups.mode(message.chat_id)
        await message.reply_text(
            tr.render(texts.GROUP_MODES_HELP, mode=tr(texts.GROUP_MODE_NAMES[current]))
        )
        return
    change = await groups.set_mode(
        message.chat_id,
        GroupMode(requested),
        user_id=requester_id(message),
        sender_chat_id=sender_chat_id(message),
    )
    if not change.allowed:
        await message.reply_text(tr(texts.GROUP_MODE_NOT_ADMIN))
        return
    text = tr.render(texts.GROUP_MODE_SET, mode=tr(texts.GROUP_MODE_NAMES[change.mode]))
    await message.reply_text(text + tr(texts.GROUP_MODE_BLIND) if change.blind else text)


async def on_grouplanguage(update: Update, context: BotContext) -> None:
    """The language the bot speaks in a group: its admins choose one, or each member's own."""
    message = update.effective_message
    if message is None:
        return
    tr = await translator_of(update, context)
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(tr(texts.GROUP_LANGUAGE_PRIVATE))
        return
    chosen = await context.services.languages.of_group(message.chat_id)
    menu = keyboards.group_language_menu(tr, chosen)
    await reply_menu(message, menu.text, menu.buttons)


async def on_group_language_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    parsed = keyboards.parse_group_language(query.data)
    if parsed is None or query.message.chat.type == ChatType.PRIVATE:
        await query.answer()
        return
    chat_id = query.message.chat.id
    allowed = await context.services.groups.set_language(
        chat_id, parsed.locale, user_id=query.from_user.id, sender_chat_id=None
    )
    # Answered in the group's language as it now is.
    tr = await translator_of(update, context)
    if not allowed:
        await query.answer(tr(texts.GROUP_MODE_NOT_ADMIN), show_alert=True)
        return
    label = keyboards.group_language_label(tr, parsed.locale)
    await query.answer(tr.render(texts.GROUP_LANGUAGE_SET, language=label))
    menu = keyboards.group_language_menu(tr, parsed.locale)
    await edit_menu(query, menu.text, menu.buttons)


async def _transcribe_reply_target(update: Update, message: Message, context: BotContext) -> bool:
    """Transcribe the recording `message` replies to. False when it replies to none."""
    target = message.reply_to_message
    media = None if target is None else media_from_message(target)
    if target is None or media is None:
        return False
    if message.chat.type != ChatType.PRIVATE and not await context.services.groups.answers_requests(
        message.chat_id
    ):
        tr = await translator_of(update, context)
        await message.reply_text(tr(texts.GROUP_OFF))
        return True
    origin = Origin(
        chat_id=message.chat_id, chat_type=message.chat.type, message_id=target.message_id
    )
    # The one who asks pays; the request's own message id keeps a redelivered update from
    # starting a second job.
    await context.services.transcription.accept(
        origin,
        requester_id(message),
        media,
        locale=await locale_of(update, context),
        dedupe_key=f"ask:{message.chat_id}:{message.message_id}",
    )
    return True


async def on_transcribe(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or is_from_a_bot(message):
        return
    if not await _transcribe_reply_target(update, message, context):
        tr = await translator_of(update, context)
        await message.reply_text(tr(texts.TRANSCRIBE_HINT))


def mentions(message: Message, username: str | None) -> bool:
    if not username:
        return False
    wanted = f"@{username}".lower()
    found = message.parse_entities([MessageEntity.MENTION]).values()
    return any(text.lower() == wanted for text in found)


async def on_mention(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or is_from_a_bot(message) or not mentions(message, context.bot.username):
        return
    await _transcribe_reply_target(update, message, context)


def group_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("groupmode", on_groupmode, filters=filters.UpdateType.MESSAGE),
        CommandHandler("grouplanguage", on_grouplanguage, filters=filters.UpdateType.MESSAGE),
        CallbackQueryHandler(
            on_group_language_chosen, pattern=f"^{keyboards.GROUP_LANGUAGE_PREFIX}"
        ),
        CommandHandler("transcribe", on_transcribe, filters=filters.UpdateType.MESSAGE),
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.ChatType.GROUPS
            & filters.REPLY
            & filters.Entity(MessageEntity.MENTION),
            on_mention,
        ),
    ]
