"""The aiohttp transport (bot/telegram/request.py) under the real Application, against the fake
Bot API: what PTB sends arrives whole (one JSON object, or a multipart form with files), and
every failure keeps the contract bot/telegram/outcomes.py reads (could the request have reached
Telegram?).

Modelled on python-telegram-bot's own tests of HTTPXRequest (tests/request/test_request.py):
parameters and uploads, downloads, timeouts to TimedOut, transport errors to NetworkError with
their cause, and the server's error answers.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.outcomes import Outcome, classify
from bot.telegram.request import AiohttpRequest, RequestMaybeSentError, RequestNotSentError
from tests.conftest import BOT_TOKEN
from tests.fakes.telegram import FakeTelegram

CHAT = 4242

App = Application[Any, Any, Any, Any, Any, Any]


def build(base_url: str, base_file_url: str | None = None) -> App:
    builder = (
        ApplicationBuilder()
        .token(BOT_TOKEN)
        .base_url(base_url)
        .request(AiohttpRequest(read_timeout=5.0))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .updater(None)
    )
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    return builder.build()


@pytest.fixture
async def app(telegram: FakeTelegram) -> AsyncIterator[App]:
    telegram.add_chat(CHAT)
    application = build(telegram.base_url, telegram.base_file_url)
    async with application:
        yield application


# --- what goes over the wire ----------------------------------------------------------------


async def test_parameters_arrive_as_ptb_encodes_them(app: App, telegram: FakeTelegram) -> None:
    original = telegram.push_text(CHAT, "hello")["message_id"]
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="redo:1")]])
    sent = await app.bot.send_message(
        CHAT,
        "Ünïcode & symbols = fine?",
        reply_parameters=ReplyParameters(original),
        reply_markup=keyboard,
    )
    edited = await app.bot.edit_message_text("edited", chat_id=CHAT, message_id=sent.message_id)

    call = telegram.calls_to("sendMessage")[0]
    # One JSON object, nested objects as objects: one json.dumps, no form to quote.
    assert call.content_type == "application/json"
    assert call.params["text"] == "Ünïcode & symbols = fine?"
    assert call.params["reply_parameters"]["message_id"] == original
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "redo:1"
    assert telegram.message(CHAT, sent.message_id).reply_to == original
    assert edited is not True and edited.text == "edited"


async def test_a_document_goes_up_as_multipart(app: App, telegram: FakeTelegram) -> None:
    data = "a transcript, ünïcode included\n".encode() * 2000
    message = await app.bot.send_document(
        CHAT, document=data, filename="transcript.txt", caption="The whole transcript"
    )

    (uploaded,) = telegram.documents(CHAT)
    assert uploaded.data == data
    assert uploaded.filename == "transcript.txt"
    assert message.caption == "The whole transcript"
    assert telegram.calls_to("sendDocument")[0].content_type == "multipart/form-data"
    assert telegram.calls_to("sendDocument")[0].params["chat_id"] == CHAT


async def test_a_file_comes_down_whole(app: App, telegram: FakeTelegram) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    stored = telegram.register_file(data, kind="voice")
    file = await app.bot.get_file(stored.file_id)
    assert bytes(await file.download_as_bytearray()) == data


async def test_updates_come_through_the_get_updates_transport(
    app: App, telegram: FakeTelegram
) -> None:
    telegram.push_text(CHAT, "/start")
    updates = await app.bot.get_updates(timeout=0)
    assert [update.message.text for update in updates if update.message] == ["/start"]


# --- failures --------------------------------------------------------------------------------


async def test_a_slow_answer_times_out_and_may_have_arrived(
    app: App, telegram: FakeTelegram
) -> None:
    telegram.set_delay("sendMessage", 3.0)
    with pytest.raises(TimedOut) as caught:
        await app.bot.send_message(CHAT, "late", read_timeout=0.3)
    assert isinstance(caught.value.__cause__, RequestMaybeSentError)
    assert classify(caught.value).outcome is Outcome.MAYBE_SENT
    assert BOT_TOKEN not in str(caught.value) + str(caught.value.__cause__)


async def test_a_connection_dropped_after_the_request_may_have_arrived(
    app: App, telegram: FakeTelegram
) -> None:
    telegram.fault_next("sendMessage", "drop_after")
    with pytest.raises(NetworkError) as caught:
        await app.bot.send_message(CHAT, "dropped")
    assert isinstance(caught.value.__cause__, RequestMaybeSentError)
    assert classify(caught.value).outcome is Outcome.MAYBE_SENT


async def test_no_server_is_a_network_error_that_never_arrived() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    application = build(f"http://127.0.0.1:{port}/bot")
    try:
        with pytest.raises(NetworkError) as caught:
            await application.initialize()  # getMe
    finally:
        await application.bot.shutdown()
    assert isinstance(caught.value.__cause__, RequestNotSentError)
    assert classify(caught.value).outcome is Outcome.NOT_SENT
    assert BOT_TOKEN not in str(caught.value) + str(caught.value.__cause__)


async def test_an_upload_cut_off_midway_never_arrived() -> None:
    """The peer resets the connection while megabytes are still to be written."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    upload = RequestData(
        [
            RequestParameter.from_input("chat_id", CHAT),
            RequestParameter.from_input("document", InputFile(b"x" * 8_000_000, "big.txt")),
        ]
    )
    try:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot{BOT_TOKEN}/sendDocument", upload)
    finally:
        await request.shutdown()
        server.close()
        await server.wait_closed()
    assert isinstance(caught.value.__cause__, RequestNotSentError)
    assert classify(caught.value).outcome is Outcome.NOT_SENT


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [(400, BadRequest, Outcome.REJECTED), (502, NetworkError, Outcome.NOT_SENT)],
)
async def test_the_servers_error_answers_keep_their_meaning(
    app: App, telegram: FakeTelegram, status: int, error: type[TelegramError], outcome: Outcome
) -> None:
    telegram.fail_next("sendMessage", status)
    with pytest.raises(error) as caught:
        await app.bot.send_message(CHAT, "refused")
    assert caught.value.__cause__ is None  # an answer, not a transport failure
    assert classify(caught.value).outcome is outcome


async def test_a_429_carries_its_retry_after(app: App, telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(CHAT, "flood")
    assert classify(caught.value).retry_after == 7.0


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/", "GET")
