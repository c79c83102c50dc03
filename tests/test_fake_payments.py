"""The fake Bot API's Telegram Stars methods, against python-telegram-bot's own Bot.

They pin what the payment tests rely on: invoices are checked as Telegram checks Stars
invoices, a checkout is answered once and in time, a charge is refunded once, and the
updates parse into PTB's objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, LabeledPrice
from telegram.error import BadRequest

from tests.fakes.telegram import FakeTelegram

CHAT = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server
        server.assert_no_errors()


@contextlib.asynccontextmanager
async def bot_for(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


async def send_invoice(bot: Bot, **changes: object) -> int:
    fields: dict[str, object] = {
        "chat_id": CHAT,
        "title": "10 min of transcription",
        "description": "Ten minutes",
        "payload": "p1",
        "currency": "XTR",
        "prices": [LabeledPrice("10 min", 50)],
        "provider_token": "",
    }
    fields.update(changes)
    message = await bot.send_invoice(**fields)  # type: ignore[arg-type]
    assert message.invoice is not None and message.invoice.total_amount == 50
    return message.message_id


async def test_a_stars_invoice_is_stored_with_its_hidden_payload(fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    async with bot_for(fake) as bot:
        message_id = await send_invoice(bot)
        for bad in (
            {"provider_token": "a-provider"},
            {"currency": "USD"},
            {"prices": [LabeledPrice("a", 10), LabeledPrice("b", 20)]},
            {"title": "x" * 33},
            {"payload": "p" * 129},
        ):
            with pytest.raises(BadRequest):
                await send_invoice(bot, **bad)
    invoice = fake.invoice(CHAT, message_id)
    assert (invoice.payload, invoice.total_amount, invoice.label) == ("p1", 50, "10 min")
    assert "payload" not in fake.message_json(fake.message(CHAT, message_id))["invoice"]


async def test_a_checkout_is_answered_once_and_its_updates_parse(fake: FakeTelegram) -> None:
    async with bot_for(fake) as bot:
        query = fake.push_pre_checkout_query(CHAT, "p1", 50)
        payment = fake.push_successful_payment(CHAT, "p1", 50)
        refunded = fake.push_refunded_payment(
            payment["successful_payment"]["telegram_payment_charge_id"]
        )
        updates = await bot.get_updates(timeout=0)
        assert await bot.answer_pre_checkout_query(query["id"], ok=True)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_pre_checkout_query(query["id"], ok=False, error_message="no")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_pre_checkout_query("12345", ok=True)

    checkout, paid, refund = updates
    assert checkout.pre_checkout_query is not None
    assert checkout.pre_checkout_query.invoice_payload == "p1"
    assert paid.message is not None and paid.message.successful_payment is not None
    assert refund.message is not None and refund.message.refunded_payment is not None
    assert refunded["refunded_payment"]["total_amount"] == 50
    assert fake.pre_checkout_answers[query["id"]] == {"ok": True, "error_message": None}


async def test_a_charge_is_refunded_once_and_telegram_reports_it(fake: FakeTelegram) -> None:
    payment = fake.push_successful_payment(CHAT, "p1", 50)
    charge_id = payment["successful_payment"]["telegram_payment_charge_id"]
    async with bot_for(fake) as bot:
        assert await bot.refund_star_payment(CHAT, charge_id)
        with pytest.raises(BadRequest, match=r"(?i)charge_already_refunded"):
            await bot.refund_star_payment(CHAT, charge_id)
        with pytest.raises(BadRequest):
            await bot.refund_star_payment(CHAT, "stxUNKNOWN")
    last = fake.pending_updates[-1]["message"]
    assert last["refunded_payment"]["telegram_payment_charge_id"] == charge_id
    assert fake.star_payments[charge_id].refunded
