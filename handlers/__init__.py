"""python-telegram-bot handlers: read the update, call a service, reply."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

from handlers.commands import command_handlers, fallback_handlers
from handlers.context import BotContext, BotData
from handlers.errors import on_error
from handlers.media import media_handlers
from handlers.users import user_handlers

# Group -1 runs first for every update (recording the user); group 0 holds the features.
RECORD_GROUP = -1


def register_handlers(application: Application[Any, BotContext, Any, Any, BotData, Any]) -> None:
    application.add_handlers(user_handlers(), group=RECORD_GROUP)
    application.add_handlers([*command_handlers(), *media_handlers(), *fallback_handlers()])
    application.add_error_handler(on_error)


__all__ = ["Update", "register_handlers"]
