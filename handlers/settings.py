"""/settings: output options (timestamps, speaker labels, language line, attached file), and
the language the bot speaks to the user (its interface language)."""

from __future__ import annotations

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.policy.preferences import TOGGLES
from bot.presentation import keyboards, texts
from bot.presentation.i18n import Translator, translator
from handlers.context import BotContext
from handlers.locale import translator_of
from handlers.menus import edit_menu, reply_menu

SHOW_SETTINGS = keyboards.SETTING_PREFIX + "menu"  # the Back button of the language list


async def on_settings_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    preferences = context.services.preferences
    tr = await translator_of(update, context)
    menu = keyboards.settings_menu(tr, preferences.offered, await preferences.choice_for(user.id))
    await reply_menu(message, menu.text, menu.buttons)


async def _show_settings(query: CallbackQuery, context: BotContext, tr: Translator) -> None:
    preferences = context.services.preferences
    choice = await preferences.choice_for(query.from_user.id)
    menu = keyboards.settings_menu(tr, preferences.offered, choice)
    await edit_menu(query, menu.text, menu.buttons)


async def on_setting_tapped(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    preferences = context.services.preferences
    user_id = query.from_user.id
    tr = await translator_of(update, context)
    if query.data == SHOW_SETTINGS:
        await query.answer()
        await _show_settings(query, context, tr)
        return
    if query.data.startswith(keyboards.ATTACH_PREFIX):
        attach = query.data.removeprefix(keyboards.ATTACH_PREFIX)
        await preferences.set_attach(user_id, None if attach == "none" else attach)
    else:
        option = query.data.removeprefix(keyboards.SETTING_PREFIX)
        if option not in TOGGLES:
            await query.answer()
            return
        await preferences.toggle(user_id, option)
    await query.answer(tr(texts.SETTINGS_SAVED))
    await _show_settings(query, context, tr)


async def on_interface_tapped(update: Update, context: BotContext) -> None:
    """The language list ("ui:menu"), or a language chosen from it."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    languages = context.services.languages
    user_id = query.from_user.id
    if query.data == keyboards.INTERFACE_MENU_DATA:
        await query.answer()
        tr = await translator_of(update, context)
        chosen = (await context.services.preferences.stored(user_id)).interface_language
        menu = keyboards.interface_menu(tr, chosen)
        await edit_menu(query, menu.text, menu.buttons)
        return
    parsed = keyboards.parse_interface_choice(query.data)
    if parsed is None:
        await query.answer()
        return
    await languages.set_for_user(user_id, parsed.locale)
    # Confirmed in the language just chosen (or the Telegram app's, for "automatic"); a
    # group's own language does not apply to a person's choice for themselves.
    user = query.from_user
    tr = translator(await languages.of_user(user_id, user.language_code))
    name = texts.INTERFACE_LANGUAGE_NAMES[tr.locale]
    await query.answer(tr.render(texts.INTERFACE_SET, language=name))
    await _show_settings(query, context, tr)


def settings_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("settings", on_settings_command),
        CallbackQueryHandler(on_setting_tapped, pattern=f"^{keyboards.SETTING_PREFIX}"),
        CallbackQueryHandler(on_interface_tapped, pattern=f"^{keyboards.INTERFACE_PREFIX}"),
    ]
