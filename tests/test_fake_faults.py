"""The fakes' fault knobs, over real HTTP: what each fault does, and that storms repeat by seed.

Telegram faults are driven through python-telegram-bot's own `Bot`, so each one surfaces as the
exception a bot would see; the STT faults through a plain aiohttp client, so the raw answers
(statuses, headers, bodies) are what is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.fakes.faults import Fault, FaultTable
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import DOWNLOAD, NO_ANSWER, FakeTelegram

CHAT = 4242
KEY = "sk-fault-test-key"
MODEL = "#g1_whisper-large"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(seed=7) as fake:
        fake.add_chat(CHAT)
        yield fake
        fake.assert_no_errors()


@pytest.fixture
async def stt() -> AsyncIterator[FakeStt]:
    async with FakeStt(api_key=KEY, seed=7) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def ptb_bot(fake: FakeTelegram, *, read_timeout: float = 5.0) -> Bot:
    return Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
    )


# --- Telegram ----------------------------------------------------------------------------


async def test_429_and_5xx_are_the_errors_ptb_knows(telegram: FakeTelegram) -> None:
    async with ptb_bot(telegram) as bot:
        telegram.fault_next("sendMessage", "429", retry_after=3)
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(CHAT, "one")
        assert flood.value.retry_after in (3, timedelta(seconds=3))
        telegram.fault_next("sendMessage", "5xx", status=502)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "two")
        assert telegram.bot_texts(CHAT) == [], "a refused send stores nothing"
        await bot.send_message(CHAT, "three")  # the queue is used up
    assert telegram.bot_texts(CHAT) == ["three"]
    assert [c.status for c in telegram.calls_to("sendMessage")] == [429, 502, 200]


async def test_a_drop_before_acting_changes_nothing(telegram: FakeTelegram) -> None:
    async with ptb_bot(telegram) as bot:
        telegram.fault_next("sendMessage", "drop_before")
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "lost on the way")
    assert telegram.bot_texts(CHAT) == []
    [call] = telegram.calls_to("sendMessage")
    assert call.status == NO_ANSWER and call.error is not None and "before" in call.error


async def test_a_drop_after_acting_sends_and_edits_but_the_bot_hears_nothing(
    telegram: FakeTelegram,
) -> None:
    async with ptb_bot(telegram) as bot:
        telegram.fault_next("sendMessage", "drop_after")
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "arrived anyway")
        [stored] = telegram.messages(CHAT)
        assert stored.text == "arrived anyway"

        telegram.fault_next("editMessageText", "drop_after")
        with pytest.raises(NetworkError):
            await bot.edit_message_text("edited anyway", chat_id=CHAT, message_id=stored.message_id)
    assert telegram.bot_texts(CHAT) == ["edited anyway"]
    send, edit = telegram.calls_to("sendMessage")[0], telegram.calls_to("editMessageText")[0]
    for call in (send, edit):
        assert call.status == NO_ANSWER and call.error is not None and "after" in call.error
        assert call.result["message_id"] == stored.message_id  # what the fake did


async def test_download_faults_cut_the_file_or_refuse_getfile(telegram: FakeTelegram) -> None:
    data = bytes(range(256)) * 40
    stored = telegram.register_file(data, kind="voice")
    async with ptb_bot(telegram) as bot:
        telegram.fault_next("getFile", "drop_before")
        with pytest.raises(NetworkError):
            await bot.get_file(stored.file_id)
        file = await bot.get_file(stored.file_id)
        telegram.fault_next(DOWNLOAD, "drop_after")
        with pytest.raises(NetworkError):
            await file.download_as_bytearray()
        telegram.fault_next(DOWNLOAD, "429", retry_after=2)
        with pytest.raises(RetryAfter):
            await file.download_as_bytearray()
        assert bytes(await file.download_as_bytearray()) == data
    statuses = [call.status for call in telegram.calls_to(DOWNLOAD)]
    assert statuses == [NO_ANSWER, 429, 200]


async def test_a_slow_answer_acts_at_once_and_answers_late(telegram: FakeTelegram) -> None:
    async with ptb_bot(telegram, read_timeout=0.3) as bot:
        telegram.fault_next("sendMessage", "slow", seconds=1.0)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "late")
        assert time.monotonic() - started < 0.9
        assert telegram.bot_texts(CHAT) == ["late"], "stored before the answer"
        call = await telegram.wait_for_call("sendMessage", timeout=3)
    assert call.status == 200
    assert call.time - started < 0.3  # it arrived at once; only the answer was late


async def test_fault_rates_repeat_with_the_seed(http: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        async with FakeTelegram(seed=seed) as fake:
            fake.set_fault_rate("getMe", "5xx", 0.3, status=503)
            fake.set_fault_rate("getMe", "429", 0.2, retry_after=1)
            answers = []
            for _ in range(40):
                async with http.post(f"{fake.base_url}{fake.token}/getMe") as response:
                    answers.append(response.status)
            return answers

    first, again = await statuses(11), await statuses(11)
    assert first == again
    assert {200, 429, 503} <= set(first)


async def test_a_rate_applies_per_method_and_clear_faults_ends_it(
    telegram: FakeTelegram,
) -> None:
    telegram.set_fault_rate("sendMessage", "5xx", 1.0)
    async with ptb_bot(telegram) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "refused")
        await bot.send_chat_action(CHAT, "typing")  # other methods are untouched
        telegram.clear_faults()
        await bot.send_message(CHAT, "fine")
    assert telegram.bot_texts(CHAT) == ["fine"]


async def test_an_outage_answers_502_to_everything_then_ends(telegram: FakeTelegram) -> None:
    stored = telegram.register_file(b"voice bytes", kind="voice")
    async with ptb_bot(telegram) as bot:
        file = await bot.get_file(stored.file_id)
        await telegram.start_outage(0.6)
        assert telegram.in_outage
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "during")
        with pytest.raises(NetworkError):
            await file.download_as_bytearray()
        await asyncio.sleep(0.7)
        assert not telegram.in_outage
        await bot.send_message(CHAT, "after")
    assert telegram.bot_texts(CHAT) == ["after"]
    assert telegram.calls_to(DOWNLOAD)[-1].status == 502


async def test_a_refusing_outage_closes_the_port_until_it_ends(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    url = f"{telegram.base_url}{telegram.token}/getMe"
    await telegram.start_outage(30, refuse=True)
    async with aiohttp.ClientSession() as fresh:  # no kept-alive connection to reuse
        with pytest.raises(aiohttp.ClientConnectionError):
            await fresh.post(url)
    await telegram.end_outage()  # ends early, on the same port
    async with http.post(url) as response:
        assert response.status == 200


async def test_raw_updates_are_delivered_as_they_are(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    telegram.push_text(CHAT, "hello")
    [text_update] = telegram.pending_updates
    voice_without_duration = {
        "message": {
            "message_id": 99,
            "date": 1,
            "chat": {"id": CHAT, "type": "private"},
            "voice": {"file_id": "x", "file_unique_id": "y"},
        }
    }
    raw = telegram.push_raw_update(voice_without_duration)
    kept = telegram.push_raw_update({"update_id": 5, "weird": True})
    assert raw["update_id"] == text_update["update_id"] + 1
    assert "update_id" not in voice_without_duration, "the caller's dict is not changed"
    async with http.post(f"{telegram.base_url}{telegram.token}/getUpdates") as response:
        updates = (await response.json())["result"]
    assert updates[1:] == [raw, kept]
    assert "duration" not in updates[1]["message"]["voice"]


def test_fault_tables_check_kinds_and_probabilities() -> None:
    table = FaultTable(frozenset({"5xx", "slow"}), seed=1)
    with pytest.raises(ValueError, match="unknown fault kind"):
        table.queue("sendMessage", Fault("teapot"))
    table.set_rate("sendMessage", Fault("5xx"), 0.7)
    with pytest.raises(ValueError, match="more than 1"):
        table.set_rate("sendMessage", Fault("slow"), 0.4)
    table.set_rate("sendMessage", Fault("5xx"), 0.0)  # removed
    table.set_rate("*", Fault("slow", seconds=2), 1.0)
    table.queue("sendMessage", Fault("5xx", status=503))
    assert table.draw("SendMessage") == Fault("5xx", status=503)  # queued first, any case
    assert table.draw("sendMessage") == Fault("slow", seconds=2)  # then the wildcard rate


# --- STT ---------------------------------------------------------------------------------


async def create(http: aiohttp.ClientSession, fake: FakeStt) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("model", MODEL)
    form.add_field("audio", b"OggS" + bytes(100), filename="voice.ogg", content_type="audio/ogg")
    headers = {"Authorization": f"Bearer {KEY}"}
    async with http.post(f"{fake.url}/stt/create", data=form, headers=headers) as response:
        await response.read()
        return response


async def fetch(http: aiohttp.ClientSession, fake: FakeStt, generation_id: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with http.get(f"{fake.url}/stt/{generation_id}", headers=headers) as response:
        return response.status, await response.text()


async def test_stt_rates_answer_errors_with_their_headers(
    stt: FakeStt, http: aiohttp.ClientSession
) -> None:
    stt.set_fault_rate("create", "429", 1.0, retry_after=2)
    limited = await create(http, stt)
    assert limited.status == 429 and limited.headers["Retry-After"] == "2"
    stt.set_fault_rate("create", "429", 0.0)
    stt.set_fault_rate("create", "5xx", 1.0, status=503)
    assert (await create(http, stt)).status == 503
    stt.set_fault_rate("create", "5xx", 0.0)
    stt.set_fault_rate("create", "malformed", 1.0)
    malformed = await create(http, stt)
    assert malformed.status == 201 and malformed.content_type == "text/html"
    assert not stt.jobs, "no fault created a job"
    stt.clear_faults()
    assert (await create(http, stt)).status == 201
    assert len(stt.jobs) == 1


async def test_stt_404_and_hang_on_fetch_keep_the_job(
    stt: FakeStt, http: aiohttp.ClientSession
) -> None:
    assert (await create(http, stt)).status == 201
    [generation_id] = stt.jobs
    stt.set_fault_rate("fetch", "404", 1.0)
    status, _ = await fetch(http, stt, generation_id)
    assert status == 404 and generation_id in stt.jobs
    stt.set_fault_rate("fetch", "404", 0.0)
    stt.set_fault_rate("fetch", "hang", 1.0, seconds=0.4)
    started = time.monotonic()
    status, body = await fetch(http, stt, generation_id)
    assert time.monotonic() - started >= 0.4
    assert status == 200 and '"completed"' in body


async def test_the_error_fault_fails_the_generation_itself(
    stt: FakeStt, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ValueError, match="create"):
        stt.set_fault_rate("fetch", "error", 0.5)
    stt.set_fault_rate("create", "error", 1.0)
    assert (await create(http, stt)).status == 201
    [generation_id] = stt.jobs
    status, body = await fetch(http, stt, generation_id)
    assert status == 200 and '"status": "error"' in body


async def test_stt_rates_repeat_with_the_seed(http: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        async with FakeStt(api_key=KEY, seed=seed) as fake:
            fake.set_fault_rate("create", "5xx", 0.4)
            return [(await create(http, fake)).status for _ in range(30)]

    first = await statuses(3)
    assert first == await statuses(3)
    assert {201, 502} <= set(first)
