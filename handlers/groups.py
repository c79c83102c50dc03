"""Groups: /groupmode, and transcription on request (/transcribe or a mention, as a reply).

A request is a reply to the recording. With privacy mode on, Telegram still delivers
"/transcribe" (a command) to the bot, and the recording comes along in reply_to_message: this
is why mention mode works where auto mode sees nothing. A reply that only mentions the bot
arrives when the bot can read all group messages.
"""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.pipeline.media import Origin
from bot.policy.groups import GroupMode
from bot.presentation import texts
from handlers.context import BotContext
from handlers.media import media_from_message
from handlers.senders import is_from_a_bot, requester_id, sender_chat_id


async def on_groupmode(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(texts.GROUP_MODE_PRIVATE)
        return
    groups = context.services.groups
    requested = (context.args or [""])[0].lower()
    if requested not in tuple(GroupMode):
        current = await groups.mode(message.chat_id)
        await message.reply_text(
            texts.GROUP_MODES_HELP.format(mode=texts.GROUP_MODE_NAMES[current])
        )
        return
    change = await groups.set_mode(
        message.chat_id,
        GroupMode(requested),
        user_id=requester_id(message),
        sender_chat_id=sender_chat_id(message),
    )
    if not change.allowed:
        await message.reply_text(texts.GROUP_MODE_NOT_ADMIN)
        return
    text = texts.GROUP_MODE_SET.format(mode=texts.GROUP_MODE_NAMES[change.mode])
    await message.reply_text(text + texts.GROUP_MODE_BLIND if change.blind else text)


async def _transcribe_reply_target(message: Message, context: BotContext) -> bool:
    """Transcribe the recording `message` replies to. False when it replies to none."""
    target = message.reply_to_message
    media = None if target is None else media_from_message(target)
    if target is None or media is None:
        return False
    if message.chat.type != ChatType.PRIVATE and not await context.services.groups.answers_requests(
        message.chat_id
    ):
        await message.reply_text(texts.GROUP_OFF)
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
        dedupe_key=f"ask:{message.chat_id}:{message.message_id}",
    )
    return True


async def on_transcribe(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or is_from_a_bot(message):
        return
    if not await _transcribe_reply_target(message, context):
        await message.reply_text(texts.TRANSCRIBE_HINT)


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
    await _transcribe_reply_target(message, context)


def group_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("groupmode", on_groupmode, filters=filters.UpdateType.MESSAGE),
        CommandHandler("transcribe", on_transcribe, filters=filters.UpdateType.MESSAGE),
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.ChatType.GROUPS
            & filters.REPLY
            & filters.Entity(MessageEntity.MENTION),
            on_mention,
        ),
    ]
