"""python-telegram-bot handlers: read the update, call a service, reply."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

from handlers.access import access_handlers
from handlers.account import account_handlers
from handlers.admin import admin_handlers
from handlers.commands import command_handlers, fallback_handlers
from handlers.context import BotContext, BotData
from handlers.errors import on_error
from handlers.groups import group_handlers
from handlers.language import language_handlers
from handlers.media import media_handlers
from handlers.models import model_handlers
from handlers.payments import checkout_handlers, payment_handlers
from handlers.settings import settings_handlers
from handlers.summaries import summary_handlers
from handlers.users import user_handlers

# Group -3 records payments and answers checkouts, before anything can drop them; group -2
# drops updates from banned users and chats; group -1 records the user; group 0 holds the
# features.
PAYMENT_GROUP = -3
ACCESS_GROUP = -2
RECORD_GROUP = -1


def register_handlers(application: Application[Any, BotContext, Any, Any, BotData, Any]) -> None:
    application.add_handlers(checkout_handlers(), group=PAYMENT_GROUP)
    application.add_handlers(access_handlers(), group=ACCESS_GROUP)
    application.add_handlers(user_handlers(), group=RECORD_GROUP)
    application.add_handlers(
        [
            # Recordings first: they are most of the updates, and none of the other handlers
            # here takes one (they match commands, buttons, text and payments), so a note is
            # not tried against thirty of them before its own.
            *media_handlers(),
            *admin_handlers(application.bot_data),
            *account_handlers(),
            *payment_handlers(application.bot_data),
            *group_handlers(),
            *command_handlers(),
            *model_handlers(),
            *language_handlers(),
            *settings_handlers(),
            *summary_handlers(),
            *fallback_handlers(),
        ]
    )
    application.add_error_handler(on_error)


__all__ = ["Update", "register_handlers"]
