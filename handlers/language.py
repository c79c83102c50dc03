"""/language: automatic detection, or the language of the user's audio."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.presentation import keyboards, texts
from bot.presentation.inputs import echo
from bot.stt.languages import InvalidLanguageError, parse_language
from handlers.context import BotContext
from handlers.locale import translator_of
from handlers.menus import edit_menu, reply_menu


async def on_language_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    preferences = context.services.preferences
    tr = await translator_of(update, context)
    if context.args:
        typed = " ".join(context.args)
        try:
            language = parse_language(typed)
        except InvalidLanguageError:
            await message.reply_text(tr.render(texts.LANGUAGE_INVALID, raw=echo(typed)))
            return
        await preferences.set_language(user.id, language)
        choice = await preferences.choice_for(user.id)
        await message.reply_text(keyboards.language_set_text(tr, choice))
        return
    menu = keyboards.language_menu(tr, await preferences.choice_for(user.id))
    await reply_menu(message, menu.text, menu.buttons)


async def on_language_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    try:
        language = parse_language(query.data.removeprefix(keyboards.LANGUAGE_PREFIX))
    except InvalidLanguageError:
        await query.answer()
        return
    preferences = context.services.preferences
    user_id = query.from_user.id
    await preferences.set_language(user_id, language)
    choice = await preferences.choice_for(user_id)
    tr = await translator_of(update, context)
    confirmation = keyboards.language_set_text(tr, choice)
    label = keyboards.language_label(tr, language)
    await query.answer(tr.render(texts.LANGUAGE_SET, language=label))
    menu = keyboards.language_menu(tr, choice)
    await edit_menu(query, f"{confirmation}\n\n{menu.text}", menu.buttons)


def language_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("language", on_language_command),
        CallbackQueryHandler(on_language_chosen, pattern=f"^{keyboards.LANGUAGE_PREFIX}"),
    ]
