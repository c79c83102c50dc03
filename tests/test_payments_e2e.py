"""Buying time with Telegram Stars, end to end: the real Application against the fake Bot API.

Packs, the invoice, checkout, crediting exactly once (replays, redeliveries, a SIGKILL between
the payment and the credit), bought seconds spent after the free quota by an exact burst, and
refunds by an admin and by Telegram.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from bot.app import BotRuntime
from bot.config.settings import Settings
from bot.presentation import replies, texts
from bot.presentation.i18n import ENGLISH
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import Call, ChatMessage, FakeTelegram
from tests.flows import buttons, command, tap
from tests.metering_flows import ADMIN, AUDIO, creates, final_reply, services, settled
from tests.process_env import process_environment
from tests.test_durability import assert_no_secrets, bot_process

CHAT = 4242
OTHER = 4343
PACKS = "10:5,60:20"  # 10 s for 5 Stars, 1 min for 20


def payment_settings(settings_for: SettingsFactory, **overrides: str) -> Settings:
    values = {"STARS_PACKS": PACKS, "ADMIN_USER_IDS": str(ADMIN)}
    values.update(overrides)
    return settings_for(**values)


def payment_rows(database: Path) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(database)) as connection:
        connection.row_factory = sqlite3.Row
        return list(connection.execute("SELECT * FROM star_payments ORDER BY id"))


def thanks(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [text for text in telegram.bot_texts(chat_id) if text.startswith("Thank you!")]


async def invoice_from(telegram: FakeTelegram, message: ChatMessage, data: str) -> int:
    """Tap a pack button; return the message id of the invoice the bot sends."""
    since = len(telegram.calls)
    await tap(telegram, message, data)
    call = await telegram.wait_for_call("sendInvoice", since=since)
    message_id: int = call.result["message_id"]
    return message_id


async def buy(telegram: FakeTelegram, chat_id: int, data: str) -> str:
    """/buy, a pack, pay: returns the charge id once the bot has thanked the buyer."""
    menu = await command(telegram, chat_id, "/buy")
    invoice = await invoice_from(telegram, menu, data)
    before = len(thanks(telegram, chat_id))
    answer, payment = await telegram.pay(chat_id, invoice)
    assert answer == {"ok": True, "error_message": None}
    assert payment is not None
    await telegram.wait_for(lambda: len(thanks(telegram, chat_id)) > before, what="the thanks")
    charge_id: str = payment["successful_payment"]["telegram_payment_charge_id"]
    return charge_id


async def bought(runtime: BotRuntime, user_id: int) -> float:
    return await services(runtime).payments.balance(user_id)


# --- buying --------------------------------------------------------------------------------


async def test_a_user_over_the_quota_buys_time_in_two_taps_and_it_is_spent_after_the_free_quota(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    settings = payment_settings(settings_for, QUOTA_DAILY_SECONDS="5")
    async with running_bot(settings) as runtime:
        original = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        refusal = await final_reply(telegram, CHAT, original)
        # Tap 1: a pack on the refusal itself; Telegram shows the invoice.
        assert buttons(refusal) == [("10 s for 5 ⭐", "buy:10:5"), ("1 min for 20 ⭐", "buy:60:20")]
        invoice = await invoice_from(telegram, refusal, "buy:10:5")
        # Tap 2: Pay. The bot confirms the checkout, then Telegram reports the payment.
        answer, payment = await telegram.pay(CHAT, invoice)
        await telegram.wait_for(lambda: thanks(telegram, CHAT), what="the thanks")
        assert await bought(runtime, CHAT) == 10.0
        usage_before = (await command(telegram, CHAT, "/usage")).text or ""

        again = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        transcript = await final_reply(telegram, CHAT, again)
        await settled(runtime)
        quota = await services(runtime).quota.status(CHAT)
        usage_after = (await command(telegram, CHAT, "/usage")).text or ""

    assert answer == {"ok": True, "error_message": None}
    assert payment is not None
    [sent] = telegram.calls_to("sendInvoice")
    assert sent.params["currency"] == "XTR"
    assert sent.params.get("provider_token", "") == ""
    assert sent.params["prices"] == [{"label": "10 s of transcription", "amount": 5}]
    assert sent.params["title"] == "10 s of transcription"
    assert telegram.invoice(CHAT, invoice).total_amount == 5
    assert thanks(telegram, CHAT) == [
        "Thank you! 10 s of transcription time added. Your bought time is now 10 s; it never "
        "expires."
    ]
    assert "Bought time: 10 s left. It never expires; /buy adds more." in usage_before
    # 8 s: the 5 free seconds first, then 3 bought ones.
    assert transcript.text == stt.transcript
    assert quota.day_used == 5.0
    assert quota.balance == 7.0
    assert "Bought time: 7 s left." in usage_after
    [row] = payment_rows(database_path)
    assert (row["user_id"], row["stars"], row["seconds"], row["spent"]) == (CHAT, 5, 10.0, 3.0)
    assert row["charge_id"] == payment["successful_payment"]["telegram_payment_charge_id"]
    assert creates(stt) == 1


async def test_without_packs_nothing_about_payments_is_shown(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="5")) as runtime:
        original = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        refusal = await final_reply(telegram, CHAT, original)
        usage = (await command(telegram, CHAT, "/usage")).text or ""
        help_text = (await command(telegram, CHAT, "/help")).text or ""
        forget = (await command(telegram, CHAT, "/forget")).text or ""
        before = len(telegram.messages(CHAT))
        telegram.push_text(CHAT, "/buy")
        telegram.push_text(CHAT, "/paysupport")
        await settled(runtime)

    assert buttons(refusal) == []
    assert "Bought" not in usage and "/buy" not in help_text and "payment" not in forget
    assert len(telegram.messages(CHAT)) == before  # unknown commands: no answer
    commands = {command["command"] for command in telegram.commands()}
    assert not commands & {"buy", "paysupport"}
    assert not telegram.calls_to("sendInvoice")


async def test_with_packs_the_commands_help_and_forget_mention_payments(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(payment_settings(settings_for)):
        help_text = (await command(telegram, CHAT, "/help")).text or ""
        forget = (await command(telegram, CHAT, "/forget")).text or ""
        support = (await command(telegram, CHAT, "/paysupport")).text or ""

    commands = {command["command"] for command in telegram.commands()}
    assert {"buy", "paysupport"} <= commands
    assert help_text.endswith(texts.HELP_PAYMENTS)
    assert forget.endswith(texts.FORGET_KEEPS_PAYMENTS)
    assert support == replies.paysupport(ENGLISH, [])


# --- checkout --------------------------------------------------------------------------------


async def test_checkout_refuses_forged_foreign_and_stale_invoices(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    async with running_bot(payment_settings(settings_for)):
        menu = await command(telegram, CHAT, "/buy")
        invoice = telegram.invoice(CHAT, await invoice_from(telegram, menu, "buy:60:20"))
        genuine = invoice.payload
        # A forged payload: more seconds for the same price, the signature left as it was.
        forged = genuine.replace(":60:", ":3600:")
        checkouts = [
            telegram.push_pre_checkout_query(CHAT, forged, 20),
            telegram.push_pre_checkout_query(CHAT, "anything at all", 20),
            # The genuine invoice, paid by someone else (it was forwarded to them).
            telegram.push_pre_checkout_query(OTHER, genuine, 20),
        ]
        await telegram.wait_for(
            lambda: all(query["id"] in telegram.pre_checkout_answers for query in checkouts)
        )
        # A payment nothing of ours explains credits nothing (it is still recorded).
        telegram.push_successful_payment(CHAT, forged, 20)
        await telegram.wait_for(lambda: texts.PAYMENT_UNMATCHED in telegram.bot_texts(CHAT))

    # The operator changes the price of the 1-minute pack: the old invoice is stale.
    async with running_bot(payment_settings(settings_for, STARS_PACKS="10:5,60:30")) as runtime:
        stale, _ = await telegram.pay(CHAT, invoice.message_id)
        assert await bought(runtime, CHAT) == 0.0

    answers = [telegram.pre_checkout_answers[query["id"]] for query in checkouts]
    assert answers == [
        {"ok": False, "error_message": texts.CHECKOUT_REFUSALS["unknown"]},
        {"ok": False, "error_message": texts.CHECKOUT_REFUSALS["unknown"]},
        {"ok": False, "error_message": texts.CHECKOUT_REFUSALS["not_yours"]},
    ]
    assert stale == {"ok": False, "error_message": texts.CHECKOUT_REFUSALS["pack_gone"]}
    [row] = payment_rows(database_path)
    assert (row["stars"], row["seconds"]) == (20, 0.0)
    assert not thanks(telegram, CHAT)


async def test_a_tap_on_a_pack_no_longer_sold_shows_the_current_ones(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(payment_settings(settings_for)):
        menu = await command(telegram, CHAT, "/buy")
    async with running_bot(payment_settings(settings_for, STARS_PACKS="30:10")):
        before = len(telegram.messages(CHAT))
        answer = await tap(telegram, menu, "buy:10:5")
        await telegram.wait_for(lambda: len(telegram.messages(CHAT)) > before)

    assert answer["text"] == texts.PACK_GONE
    fresh = telegram.messages(CHAT)[-1]
    assert buttons(fresh) == [("30 s for 10 ⭐", "buy:30:10")]
    assert not telegram.calls_to("sendInvoice")


# --- exactly once ----------------------------------------------------------------------------


async def test_a_payment_reported_twice_is_credited_once(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    async with running_bot(payment_settings(settings_for)) as runtime:
        menu = await command(telegram, CHAT, "/buy")
        invoice = await invoice_from(telegram, menu, "buy:60:20")
        _, payment = await telegram.pay(CHAT, invoice)
        assert payment is not None
        await telegram.wait_for(lambda: thanks(telegram, CHAT))
        # Telegram sends the same update again (its confirmation was lost) ...
        telegram.push_update("message", payment)
        # ... and the same charge in another message.
        charge_id = payment["successful_payment"]["telegram_payment_charge_id"]
        payload = telegram.invoice(CHAT, invoice).payload
        telegram.push_successful_payment(CHAT, payload, 20, charge_id=charge_id)
        await telegram.wait_for(lambda: not telegram.pending_updates)
        await settled(runtime)
        balance = await bought(runtime, CHAT)

    assert balance == 60.0
    assert len(payment_rows(database_path)) == 1
    assert len(thanks(telegram, CHAT)) == 1


# --- bought seconds under load and failure ---------------------------------------------------


async def test_a_burst_against_a_bought_balance_admits_exactly_what_it_covers(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = payment_settings(
        settings_for,
        QUOTA_DAILY_SECONDS="5",
        MAX_JOBS_IN_FLIGHT="100",
        MAX_JOBS_PER_MINUTE="100",
        STARS_PACKS="5:1",
    )
    async with running_bot(settings) as runtime:
        await buy(telegram, CHAT, "buy:5:1")
        # 5 free seconds and 5 bought ones: ten 1-second notes fit, the other ten do not.
        originals = [telegram.push_voice(CHAT, AUDIO, duration=1)["message_id"] for _ in range(20)]
        answers = [await final_reply(telegram, CHAT, original) for original in originals]
        await settled(runtime)
        quota = await services(runtime).quota.status(CHAT)

    refusals = [a for a in answers if a.text and a.text.startswith("Sorry, this recording")]
    assert len(refusals) == 10
    assert creates(stt) == 10
    assert (quota.day_used, quota.balance) == (5.0, 0.0)
    assert all(buttons(refusal) == [("5 s for 1 ⭐", "buy:5:1")] for refusal in refusals)


async def test_a_failed_job_gives_its_bought_seconds_back(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = payment_settings(settings_for, QUOTA_DAILY_SECONDS="2")
    async with running_bot(settings) as runtime:
        await buy(telegram, CHAT, "buy:10:5")
        stt.job_error = ("failed", "the model crashed")
        failed = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        assert (await final_reply(telegram, CHAT, failed)).text == texts.failure("api_error")
        await settled(runtime)
        after_failure = await services(runtime).quota.status(CHAT)

        stt.job_error = None
        done = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        assert (await final_reply(telegram, CHAT, done)).text == stt.transcript
        await settled(runtime)
        after_success = await services(runtime).quota.status(CHAT)

    assert (after_failure.day_used, after_failure.balance) == (0.0, 10.0)
    assert (after_success.day_used, after_success.balance) == (2.0, 4.0)


# --- refunds ---------------------------------------------------------------------------------


async def test_an_admin_refund_takes_back_the_unspent_seconds_and_records_the_spent_ones(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    settings = payment_settings(settings_for, QUOTA_DAILY_SECONDS="1")
    async with running_bot(settings) as runtime:
        charge_id = await buy(telegram, CHAT, "buy:10:5")
        used = telegram.push_voice(CHAT, AUDIO, duration=4)["message_id"]  # 1 free, 3 bought
        await final_reply(telegram, CHAT, used)
        await settled(runtime)

        refunded = await command(telegram, ADMIN, f"/refund {charge_id}")
        await telegram.wait_for(
            lambda: any(
                text.startswith("Your payment of 5 ⭐") for text in telegram.bot_texts(CHAT)
            )
        )
        await telegram.wait_for(lambda: not telegram.pending_updates)  # refunded_payment
        await settled(runtime)
        again = await command(telegram, ADMIN, f"/refund {charge_id}")
        unknown = await command(telegram, ADMIN, "/refund stxNOPE")
        report = (await command(telegram, ADMIN, f"/user {CHAT}")).text or ""
        stats = (await command(telegram, ADMIN, "/stats")).text or ""
        balance = await bought(runtime, CHAT)
        refused_later = telegram.push_voice(CHAT, AUDIO, duration=2)["message_id"]
        later = await final_reply(telegram, CHAT, refused_later)

    [call] = telegram.calls_to("refundStarPayment")
    assert call.params == {"user_id": CHAT, "telegram_payment_charge_id": charge_id}
    assert refunded.text == (
        f"Refunded 5 ⭐ to user {CHAT} (payment {charge_id}): 7 s of unused time taken back, "
        "3 s had been used."
    )
    assert again.text is not None and again.text.startswith(f"Payment {charge_id} was already")
    assert unknown.text == texts.ADMIN_REFUND_UNKNOWN.format(charge_id="stxNOPE")
    # Told once, although both the command and Telegram's refunded_payment report it.
    told = [text for text in telegram.bot_texts(CHAT) if text.startswith("Your payment of")]
    assert told == [
        "Your payment of 5 ⭐ was refunded. 7 s of unused time was removed from your bought "
        "time, which is now 0 s."
    ]
    assert balance == 0.0
    [row] = payment_rows(database_path)
    assert (row["spent"], row["revoked"], row["refunded_by"]) == (3.0, 7.0, "admin")
    assert f"id {charge_id}; refunded" in report and "7 s taken back" in report
    assert "Payments: 1 payment, 5 ⭐, 10 s bought" in stats
    assert "Refunds: 1 refund, 5 ⭐, 7 s taken back unused" in stats
    assert later.text is not None and later.text.startswith("Sorry, this recording")


async def test_a_refund_reported_by_telegram_is_recorded_once(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    async with running_bot(payment_settings(settings_for)) as runtime:
        charge_id = await buy(telegram, CHAT, "buy:60:20")
        update = telegram.push_refunded_payment(charge_id)
        await telegram.wait_for(
            lambda: any(text.startswith("Your payment of") for text in telegram.bot_texts(CHAT))
        )
        telegram.push_update("message", update)  # reported again
        await telegram.wait_for(lambda: not telegram.pending_updates)
        await settled(runtime)
        balance = await bought(runtime, CHAT)

    assert balance == 0.0
    [row] = payment_rows(database_path)
    assert (row["revoked"], row["refunded_by"]) == (60.0, "telegram")
    told = [text for text in telegram.bot_texts(CHAT) if text.startswith("Your payment of")]
    assert len(told) == 1
    assert not telegram.calls_to("refundStarPayment")


async def test_paysupport_passes_the_question_to_the_admins_with_the_payments(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.add_chat(ADMIN)
    async with running_bot(payment_settings(settings_for)):
        charge_id = await buy(telegram, CHAT, "buy:10:5")
        listing = (await command(telegram, CHAT, "/paysupport")).text or ""
        sent = await command(telegram, CHAT, "/paysupport I was charged\ntwice, I think")
        await telegram.wait_for(lambda: telegram.bot_texts(ADMIN))

    assert f"5 ⭐ for 10 s, id {charge_id}" in listing
    assert sent.text == texts.PAYSUPPORT_SENT
    [request] = telegram.bot_texts(ADMIN)
    assert f"user {CHAT}" in request and "I was charged\ntwice, I think" in request
    assert charge_id in request


# --- a crash between the payment and the credit -----------------------------------------------


@contextmanager
def credits_stalled(database: Path) -> Iterator[None]:
    """Make the bot's credit hang inside its transaction: a trigger on the payments table
    runs a query of billions of rows. Nothing commits until the process is killed."""
    with closing(sqlite3.connect(database, timeout=10)) as connection:
        connection.executescript(
            """CREATE TABLE stall (n INTEGER);
               WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000)
               INSERT INTO stall SELECT n FROM c;
               CREATE TRIGGER stall_credit BEFORE INSERT ON star_payments
               BEGIN SELECT count(*) FROM stall a, stall b, stall c; END;"""
        )
    try:
        yield
    finally:
        with closing(sqlite3.connect(database, timeout=10)) as connection:
            connection.executescript("DROP TRIGGER stall_credit; DROP TABLE stall;")


def payment_update_state(database: Path) -> str | None:
    """The inbox state of the (one) successful_payment update."""
    with closing(sqlite3.connect(database)) as connection:
        row = connection.execute(
            "SELECT state FROM inbox WHERE payload LIKE '%successful_payment%'"
        ).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def payment_env(telegram: FakeTelegram, stt: FakeStt, database_path: Path) -> dict[str, str]:
    """The environment of a real `python -m bot run` that sells packs."""
    return process_environment(
        telegram, stt, database_path, STARS_PACKS=PACKS, ADMIN_USER_IDS=str(ADMIN)
    )


@pytest.mark.parametrize("kill_point", ["before-credit", "after-credit"])
async def test_a_payment_is_credited_exactly_once_across_a_sigkill(
    kill_point: str,
    telegram: FakeTelegram,
    stt: FakeStt,
    payment_env: dict[str, str],
    tmp_path: Path,
    database_path: Path,
) -> None:
    log_path = tmp_path / "bot.log"
    async with bot_process(payment_env, log_path) as first:
        menu = await command(telegram, CHAT, "/buy")
        invoice = await invoice_from(telegram, menu, "buy:60:20")
        if kill_point == "after-credit":
            # The thanks reaches Telegram; the bot dies before it hears the answer.
            def kill(call: Call) -> None:
                if str(call.params.get("text", "")).startswith("Thank you!"):
                    first.kill()

            telegram.on_call("sendMessage", kill)
            await telegram.pay(CHAT, invoice)
            await first.wait_killed()
            assert len(payment_rows(database_path)) == 1
        else:
            with credits_stalled(database_path):
                _, payment = await telegram.pay(CHAT, invoice)
                assert payment is not None
                # Saved, being handled, not credited: then the process dies. The stall
                # freezes the bot's event loop, where its writes run, as any hang would.
                # Whether its next getUpdates confirmed the payment before that is a race:
                # after the restart the payment is in the inbox, and maybe sent again.
                await telegram.wait_for(
                    lambda: payment_update_state(database_path) == "started",
                    timeout=20,
                    what="the payment saved and started",
                )
                await asyncio.sleep(0.2)
                first.kill()
                await first.wait_killed()
            assert payment_rows(database_path) == []

    async with bot_process(payment_env, log_path) as second:
        await telegram.wait_for(
            lambda: payment_update_state(database_path) == "done",
            timeout=30,
            what="the payment handled again after the restart",
        )
        await asyncio.sleep(0.5)  # room for a second credit or thanks, were there one
        assert await second.terminate() == 0

    [row] = payment_rows(database_path)
    assert (row["seconds"], row["spent"], row["revoked"]) == (60.0, 0.0, 0.0)
    assert len(thanks(telegram, CHAT)) == 1
    assert_no_secrets(log_path)
