"""The language to answer an update in: the chat's, else the sender's (see
bot/policy/interface_language.py), as a locale for the pipeline or a translator for a reply."""

from __future__ import annotations

from telegram import Update

from bot.presentation.i18n import Translator, translator
from handlers.context import BotContext


async def locale_of(update: Update, context: BotContext) -> str:
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    # Sent on behalf of a chat (an anonymous admin, a channel): `from` is Telegram's
    # placeholder, whose language says nothing about the reader.
    on_behalf_of_a_chat = message is not None and message.sender_chat is not None
    person = None if user is None or user.is_bot or on_behalf_of_a_chat else user
    return await context.services.languages.locale_for(
        None if person is None else person.id,
        None if chat is None else chat.id,
        language_code=None if person is None else person.language_code,
    )


async def translator_of(update: Update, context: BotContext) -> Translator:
    return translator(await locale_of(update, context))
