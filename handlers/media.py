"""Media messages: pick the file out of the message, refuse early what cannot work, hand it on."""

from __future__ import annotations

from datetime import timedelta

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.pipeline.media import MediaKind, MediaRef, Origin
from bot.presentation import texts
from handlers.context import BotContext
from handlers.locale import locale_of, translator_of
from handlers.senders import is_from_a_bot, requester_id

# New messages only: edits and channel posts of the same media must not start a second job.
MEDIA_FILTER = filters.UpdateType.MESSAGE & (
    filters.VOICE
    | filters.AUDIO
    | filters.VIDEO_NOTE
    | filters.VIDEO
    | filters.Document.AUDIO
    | filters.Document.VIDEO
)


def _seconds(value: int | timedelta | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def media_from_message(message: Message) -> MediaRef | None:
    """The transcribable attachment of a message, or None."""
    # Telegram's objects differ in which of these they carry (a video note has no mime type
    # or name, a document no duration), hence the getattr defaults.
    for kind in (MediaKind.VOICE, MediaKind.AUDIO, MediaKind.VIDEO_NOTE, MediaKind.VIDEO):
        attachment = getattr(message, kind.value)
        if attachment:
            return MediaRef(
                kind,
                attachment.file_id,
                attachment.file_unique_id,
                _seconds(attachment.duration),
                attachment.file_size,
                getattr(attachment, "mime_type", None),
                getattr(attachment, "file_name", None),
            )
    document = message.document
    if document and (document.mime_type or "").startswith(("audio/", "video/")):
        return MediaRef(
            MediaKind.DOCUMENT,
            document.file_id,
            document.file_unique_id,
            None,
            document.file_size,
            document.mime_type,
            document.file_name,
        )
    return None


async def on_media(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    media = media_from_message(message)
    if media is None or is_from_a_bot(message):
        return
    # In a group, only auto mode transcribes every recording (see bot/policy/groups.py).
    if message.chat.type != ChatType.PRIVATE and not (
        await context.services.groups.transcribes_everything(message.chat_id)
    ):
        return
    origin = Origin(
        chat_id=message.chat_id, chat_type=message.chat.type, message_id=message.message_id
    )
    await context.services.transcription.accept(
        origin, requester_id(message), media, locale=await locale_of(update, context)
    )


async def on_unsupported_document(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        tr = await translator_of(update, context)
        await update.effective_message.reply_text(tr(texts.UNSUPPORTED_FILE))


def media_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        MessageHandler(MEDIA_FILTER, on_media),
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.Document.ALL,
            on_unsupported_document,
        ),
    ]
