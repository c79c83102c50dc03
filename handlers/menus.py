"""Small helpers shared by the handlers that show inline keyboards."""

from __future__ import annotations

from telegram import CallbackQuery, Message
from telegram.error import BadRequest

from bot.telegram.gateway import Buttons, inline_markup, is_not_modified


async def reply_menu(message: Message, text: str, buttons: Buttons | None = None) -> None:
    await message.reply_text(text, reply_markup=inline_markup(buttons))


async def edit_menu(query: CallbackQuery, text: str, buttons: Buttons | None) -> None:
    """Edit the message a button sits on; the same content again is no error.

    A double tap, or a tap on the option already chosen, asks for an identical edit, which the
    Bot API refuses with "message is not modified".
    """
    try:
        await query.edit_message_text(text, reply_markup=inline_markup(buttons))
    except BadRequest as error:
        if not is_not_modified(error):
            raise
