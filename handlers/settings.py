"""/settings: output options (timestamps, speaker labels, language line, attached file)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.policy.preferences import TOGGLES
from bot.presentation import keyboards, texts
from handlers.context import BotContext
from handlers.menus import edit_menu, reply_menu


async def on_settings_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    preferences = context.services.preferences
    menu = keyboards.settings_menu(preferences.offered, await preferences.choice_for(user.id))
    await reply_menu(message, menu.text, menu.buttons)


async def on_setting_tapped(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    preferences = context.services.preferences
    user_id = query.from_user.id
    if query.data.startswith(keyboards.ATTACH_PREFIX):
        attach = query.data.removeprefix(keyboards.ATTACH_PREFIX)
        await preferences.set_attach(user_id, None if attach == "none" else attach)
    else:
        option = query.data.removeprefix(keyboards.SETTING_PREFIX)
        if option not in TOGGLES:
            await query.answer()
            return
        await preferences.toggle(user_id, option)
    await query.answer(texts.SETTINGS_SAVED)
    menu = keyboards.settings_menu(preferences.offered, await preferences.choice_for(user_id))
    await edit_menu(query, menu.text, menu.buttons)


def settings_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("settings", on_settings_command),
        CallbackQueryHandler(on_setting_tapped, pattern=f"^{keyboards.SETTING_PREFIX}"),
    ]
