"""Buying time with Telegram Stars: /buy, the pack buttons, checkout, payments, /paysupport.

/buy and /paysupport match only while packs are on sale (STARS_PACKS): otherwise they are
unknown commands, and nothing mentions payments. Checkout, payments and refunds are handled
whatever the settings, and before the ban filter (see handlers/__init__.py): money that has
moved is always recorded, and a checkout is always answered rather than left to time out.
"""

from __future__ import annotations

import logging

from telegram import LabeledPrice, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.policy.interface_language import negotiate
from bot.policy.payments import CURRENCY
from bot.presentation import replies, texts
from bot.presentation.i18n import Translator, translator
from bot.presentation.purchases import BUY_DATA, pack_buttons, parse_pack
from bot.telegram.gateway import AmbiguousSendError, GatewayError, inline_markup
from handlers.context import BotContext, BotData
from handlers.locale import translator_of
from handlers.senders import requester_id

log = logging.getLogger(__name__)

# Room for the header and the payments list in a support request (Telegram's limit is 4096).
MAX_SUPPORT_TEXT = 2000


class PaymentsOn(filters.MessageFilter):
    """True while packs are on sale. Read at check time: handlers are registered before the
    services exist."""

    def __init__(self, bot_data: BotData) -> None:
        super().__init__(name="PaymentsOn")
        self._bot_data = bot_data

    def filter(self, message: Message) -> bool:
        services = self._bot_data.services
        return services is not None and services.payments.enabled


async def _send_menu(
    context: BotContext, tr: Translator, chat_id: int, user_id: int, note: str = ""
) -> None:
    payments = context.services.payments
    text = replies.buy_menu(tr, await payments.balance(user_id))
    await context.bot.send_message(
        chat_id,
        f"{note}\n\n{text}" if note else text,
        reply_markup=inline_markup(pack_buttons(tr, payments.packs)),
    )


async def on_buy(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    user_id = requester_id(message)
    tr = await translator_of(update, context)
    if user_id is None:  # sent on behalf of a chat: a chat cannot own bought time
        await message.reply_text(tr(texts.BUY_FOR_A_PERSON))
        return
    await _send_menu(context, tr, message.chat_id, user_id)


async def on_pack(update: Update, context: BotContext) -> None:
    """A pack button (under /buy or a refusal): an invoice for whoever tapped it."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    payments = context.services.payments
    user_id = query.from_user.id
    chat_id = query.message.chat.id if query.message is not None else user_id
    pack = parse_pack(query.data)
    invoice = None if pack is None else await payments.invoice(user_id, pack)
    tr = await translator_of(update, context)
    if invoice is None:
        if not payments.enabled:
            await query.answer(tr(texts.CHECKOUT_REFUSALS["payments_off"]))
            return
        # Sent before the operator changed the packs: show the ones on sale now.
        await query.answer(tr(texts.PACK_GONE))
        await _send_menu(context, tr, chat_id, user_id, tr(texts.PACK_GONE))
        return
    await query.answer()
    await context.bot.send_invoice(
        chat_id,
        title=replies.invoice_title(tr, invoice.pack),
        description=replies.invoice_description(tr, invoice.pack),
        payload=invoice.payload,
        currency=CURRENCY,
        prices=[LabeledPrice(replies.invoice_label(tr, invoice.pack), invoice.pack.stars)],
        provider_token="",  # Telegram Stars need no payment provider
    )


async def on_pre_checkout(update: Update, context: BotContext) -> None:
    """Telegram asks whether to take the money; it cancels the payment after 10 s."""
    query = update.pre_checkout_query
    if query is None:
        return
    # From the update alone, not the database: this answer must come, and within 10 s.
    tr = translator(negotiate(query.from_user.language_code))
    try:
        refusal = await context.services.payments.checkout(
            query.from_user.id, query.invoice_payload, query.currency, query.total_amount
        )
    except Exception:
        # Refuse at once rather than let the user wait 10 s for a timeout; then report it.
        await query.answer(ok=False, error_message=tr(texts.CHECKOUT_REFUSALS["internal"]))
        raise
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=tr(texts.CHECKOUT_REFUSALS[refusal]))


async def _tell(message: Message, text: str) -> None:
    """A confirmation after money moved: its failure must not make the error handler tell a
    paying user that something went wrong (they might pay again)."""
    try:
        await message.reply_text(text)
    except TelegramError as error:
        log.warning("could not confirm a payment to its user: %s", type(error).__name__)


async def on_successful_payment(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or message.successful_payment is None or message.from_user is None:
        return
    payment = message.successful_payment
    credit = await context.services.payments.record_payment(
        message.from_user.id,
        payment.telegram_payment_charge_id,
        payment.invoice_payload,
        payment.currency,
        payment.total_amount,
    )
    # Seen before (a redelivery, or a replay after a crash): credited and thanked already.
    if credit.new:
        tr = await translator_of(update, context)
        await _tell(message, replies.payment_received(tr, credit))


async def on_refunded_payment(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or message.refunded_payment is None:
        return
    refund = message.refunded_payment
    # The service message sits in the user's private chat, whose id is the user's.
    private = message.chat.type == ChatType.PRIVATE
    user_id = message.chat_id if private or message.from_user is None else message.from_user.id
    payments = context.services.payments
    outcome = await payments.record_refund(
        user_id, refund.telegram_payment_charge_id, refund.invoice_payload, refund.total_amount
    )
    if outcome.recorded_now and outcome.record is not None:
        tr = await translator_of(update, context)
        balance = await payments.balance(user_id)
        await _tell(message, replies.refund_received(tr, outcome.record, balance))


def _support_text(message: Message) -> str:
    """What follows /paysupport, line breaks kept."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip()[:MAX_SUPPORT_TEXT] if len(parts) == 2 else ""


async def on_paysupport(update: Update, context: BotContext) -> None:
    message = update.effective_message
    user = None if message is None else message.from_user
    if message is None or user is None or requester_id(message) is None:
        return
    records = await context.services.payments.payments_of(user.id)
    question = _support_text(message)
    tr = await translator_of(update, context)
    if not question:
        await message.reply_text(replies.paysupport(tr, records))
        return
    name = user.full_name + (f" @{user.username}" if user.username else "")
    request = replies.paysupport_request(user.id, name, question, records)
    delivered = False
    for admin_id in sorted(context.services.settings.admin_user_ids):
        try:
            await context.services.gateway.send_text(admin_id, request, reply_to=None)
        except AmbiguousSendError:
            delivered = True  # it may have arrived; it is not sent twice
        except (GatewayError, TelegramError) as error:
            log.warning("a support request did not reach an admin: %s", type(error).__name__)
        else:
            delivered = True
    await message.reply_text(tr(texts.PAYSUPPORT_SENT if delivered else texts.PAYSUPPORT_UNSENT))


def checkout_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Checkout, payments and refunds: registered ahead of the ban filter."""
    return [
        PreCheckoutQueryHandler(on_pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, on_successful_payment),
        MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, on_refunded_payment),
    ]


def payment_handlers(bot_data: BotData) -> list[BaseHandler[Update, BotContext, None]]:
    on_sale = filters.UpdateType.MESSAGE & PaymentsOn(bot_data)
    return [
        CommandHandler("buy", on_buy, filters=on_sale),
        CommandHandler("paysupport", on_paysupport, filters=on_sale),
        CallbackQueryHandler(on_pack, pattern=BUY_DATA),
    ]
