"""/model, its keyboard, and redo ("Try another model") under each transcript."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.pipeline.transcription import RedoRefusedError
from bot.presentation import keyboards, replies, texts
from bot.presentation.i18n import translator
from handlers.context import BotContext
from handlers.locale import locale_of, translator_of
from handlers.menus import edit_menu, reply_menu


async def on_model_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    preferences = context.services.preferences
    tr = await translator_of(update, context)
    if context.args:
        typed = " ".join(context.args)
        spec = keyboards.find_offered(typed, preferences.offered)
        if spec is None:
            await message.reply_text(keyboards.unknown_model_text(tr, typed, preferences.offered))
            return
        await preferences.set_model(user.id, spec.id)
        choice = await preferences.choice_for(user.id)
        await message.reply_text(keyboards.model_set_text(tr, choice))
        return
    menu = keyboards.model_menu(tr, preferences.offered, await preferences.choice_for(user.id))
    await reply_menu(message, menu.text, menu.buttons)


async def on_model_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    preferences = context.services.preferences
    tr = await translator_of(update, context)
    model_id = query.data.removeprefix(keyboards.MODEL_PREFIX)
    if not preferences.is_offered(model_id):
        # A keyboard from before the operator changed ALLOWED_MODELS.
        await query.answer(tr(texts.MODEL_GONE), show_alert=True)
        return
    user_id = query.from_user.id
    spec = await preferences.set_model(user_id, model_id)
    await query.answer(tr.render(texts.MODEL_SET, model=replies.model_label(spec)))
    choice = await preferences.choice_for(user_id)
    note = keyboards.model_set_text(tr, choice)
    menu = keyboards.model_menu(tr, preferences.offered, choice, note=note)
    await edit_menu(query, menu.text, menu.buttons)


async def on_noop(update: Update, context: BotContext) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()


async def on_redo_button(update: Update, context: BotContext) -> None:
    """Offer the models for the recording of the transcript this button sits under."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    job_id = keyboards.parse_redo_button(query.data)
    if job_id is None:
        await query.answer()
        return
    services = context.services
    tr = await translator_of(update, context)
    try:
        job = await services.transcription.redo_source(job_id, query.from_user.id)
    except RedoRefusedError as refused:
        await query.answer(tr(texts.REDO_REFUSALS[refused.reason]), show_alert=True)
        return
    await query.answer()
    menu = keyboards.redo_menu(tr, services.preferences.offered, job.id, job.model)
    await services.gateway.send_text(
        query.message.chat.id,
        menu.text,
        reply_to=query.message.message_id,
        buttons=menu.buttons,
    )


async def on_redo_choice(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    parsed = keyboards.parse_redo_choice(query.data)
    if parsed is None:
        await query.answer()
        return
    job_id, model_id = parsed
    services = context.services
    user_id = query.from_user.id
    locale = await locale_of(update, context)
    tr = translator(locale)
    # Refusals first, as alerts; then answer at once, before the slower work of a new job.
    try:
        await services.transcription.redo_source(job_id, user_id)
    except RedoRefusedError as refused:
        await query.answer(tr(texts.REDO_REFUSALS[refused.reason]), show_alert=True)
        return
    if not services.preferences.is_offered(model_id):
        await query.answer(tr(texts.MODEL_GONE), show_alert=True)
        return
    name = keyboards.model_name(model_id, services.preferences.offered)
    await query.answer()
    accepted = await services.transcription.redo(job_id, model_id, user_id, locale=locale)
    if accepted.refused is not None:
        text = accepted.refused
    elif accepted.job is None:
        text = tr.render(texts.REDO_DUPLICATE, model=name)
    else:
        text = tr.render(texts.REDO_STARTED, model=name)
    await edit_menu(query, text, None)


def model_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("model", on_model_command),
        CallbackQueryHandler(on_model_chosen, pattern=f"^{keyboards.MODEL_PREFIX}"),
        CallbackQueryHandler(on_noop, pattern=f"^{keyboards.NOOP}$"),
        CallbackQueryHandler(
            on_redo_button,
            pattern=rf"^({keyboards.REDO_PREFIX}|{keyboards.LEGACY_REDO_BUTTON_PREFIX})\d+$",
        ),
        CallbackQueryHandler(on_redo_choice, pattern=rf"^{keyboards.REDO_PREFIX}\d+:"),
    ]
