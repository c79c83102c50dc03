"""Nothing lost, nothing twice, under the faults that broke it: slow and failed sends, outages,
unparseable updates, replays, 429s on downloads, hung uploads, lying headers.

Each test drives the real Application against the fakes and looks at what a user would see:
the messages in the chat. The SIGKILL scenarios at scale live in tests/test_chaos.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import struct
from pathlib import Path

import pytest

from bot.presentation import texts
from bot.telegram.intake import MAX_ATTEMPTS
from storage.db import Database
from storage.inbox import InboxRepository
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.faults import Fault
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram, private_message
from tests.test_pipeline import AUDIO, CHAT, transcript_reply


def replies(telegram: FakeTelegram, chat_id: int, original: int) -> list[str]:
    return [m.text or "" for m in telegram.messages(chat_id) if m.reply_to == original]


async def test_a_slow_send_is_not_sent_twice(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # Two parts: the status message edited into the first, one sendMessage for the second,
    # whose answer comes after 6.5 s. A slow answer is not a failure: no second copy.
    words = [f"word{i}" for i in range(800)]
    stt.transcript = " ".join(words)
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: telegram.calls_to("editMessageText"), timeout=20)
        telegram.fault_next("sendMessage", "slow", seconds=6.5)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(30)

    parts = replies(telegram, CHAT, original)
    assert len(parts) == 2, parts
    assert " ".join(parts).split() == words


async def test_a_telegram_outage_delays_answers_and_loses_none(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.delay = 1.0
    async with running_bot(settings_for()) as runtime:
        originals = [
            telegram.push_voice(CHAT + n, AUDIO, duration=2)["message_id"] for n in range(10)
        ]
        await telegram.wait_for(
            lambda: len(telegram.calls_to("sendMessage")) >= 10, timeout=20, what="the statuses"
        )
        # Every transcript completes while Telegram answers 502 to everything.
        await telegram.start_outage(4.0)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(40)

    assert not telegram.in_outage
    for n, original in enumerate(originals):
        assert replies(telegram, CHAT + n, original) == [stt.transcript], n


async def test_a_status_message_that_cannot_be_posted_does_not_stop_the_job(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # The connection drops before Telegram acts, three times: "Transcribing…" never appears.
    telegram.fault_next("sendMessage", "drop_before", count=50)
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: stt.requests_to("create"), timeout=30)
        telegram.clear_faults()
        text = await transcript_reply(telegram, CHAT, original)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(10)

    assert text == stt.transcript
    # Never told "failed" for a job that delivers, and answered exactly once.
    assert replies(telegram, CHAT, original) == [stt.transcript]


@pytest.mark.parametrize("fault", ["drop_after", "garbled"])
async def test_a_send_whose_answer_is_lost_is_never_repeated(
    fault: str,
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    # Telegram acts, then the connection drops ("drop_after"), or its answer names no message
    # ("garbled": the gateway reads only the id from the raw answer): the bot cannot know the
    # message arrived, and must not send a second copy of it.
    words = [f"word{i}" for i in range(800)]
    stt.transcript = " ".join(words)
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: telegram.calls_to("editMessageText"), timeout=20)
        telegram.fault_next("sendMessage", fault)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(20)

    parts = replies(telegram, CHAT, original)
    assert len(parts) == 2 and " ".join(parts).split() == words
    # Recorded as possibly delivered, not as a message with a made-up id.
    with sqlite3.connect(database_path) as connection:
        states = dict(connection.execute("SELECT step, state FROM sends"))
    assert states["step1"] == "ambiguous", states


async def test_an_unparseable_update_is_poisoned_and_the_rest_are_answered(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
    caplog: object,
) -> None:
    # A voice without `duration`: python-telegram-bot cannot build the Update.
    bad = {
        "message": {
            "message_id": 900,
            "date": 1_750_000_000,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "A"},
            "voice": {"file_id": "x", "file_unique_id": "y"},
        }
    }
    async with running_bot(settings_for()) as runtime:
        telegram.push_raw_update(bad)
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
        assert runtime.intake is not None
        await runtime.intake.wait_idle(5)
        # Confirmed to Telegram: the fake hands it out no more.
        await telegram.wait_for(lambda: not telegram.pending_updates, timeout=10)

    with sqlite3.connect(database_path) as connection:
        states = dict(connection.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state"))
    assert states == {"poisoned": 1, "done": 1}
    # Fetched once, not in a loop.
    assert len(telegram.calls_to("getUpdates")) < 20


async def test_updates_saved_before_a_stop_are_handled_once_after_it(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    """The inbox as a crash leaves it: a command whose handler had started (it may have been
    answered: not replayed), a command never started, and a voice note whose handler had
    started (replayed: its job is keyed by the message, so replaying is safe)."""
    telegram.add_chat(CHAT, "private")
    stored = telegram.register_file(AUDIO, kind="voice")
    voice = _message(
        11,
        voice={
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": 3,
            "mime_type": "audio/ogg",
        },
    )
    database = await Database.open(database_path)
    inbox = InboxRepository(database)
    await inbox.save(
        [
            {"update_id": 1, "message": _message(9, text="/start")},
            {"update_id": 2, "message": _message(10, text="/help")},
            {"update_id": 3, "message": voice},
        ]
    )
    await inbox.mark_started(1)
    await inbox.mark_started(3)
    await database.close()

    async with running_bot(settings_for()) as runtime:
        assert runtime.intake is not None and runtime.services is not None
        await runtime.intake.wait_idle(5)
        await runtime.services.supervisor.wait_idle(10)

    sent = [m for m in telegram.messages(CHAT) if m.from_bot]
    helps = [m for m in sent if (m.text or "").startswith(texts.HELP[:30])]
    assert len(helps) == 1, "the command never started is answered"
    assert not [m for m in sent if m.text == texts.START], "the one that had started is not"
    # (The fake never saw message 11, so it records the reply without a reply target.)
    assert [m.text for m in sent].count(stt.transcript) == 1
    assert len(stt.requests_to("create")) == 1


async def test_a_recording_that_keeps_killing_the_bot_is_poisoned_though_its_first_start_is_free(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    """A recording's first start goes unrecorded (it is safe to replay), so the inbox cannot
    count it; every start after a restart is recorded, and the poison limit still holds.

    As crashes leave the inbox: update 1 was started and killed the process MAX_ATTEMPTS
    times after restarts (poisoned now, never handled); update 2 was cut off in its first,
    unrecorded start (handled once now, the start recorded); update 3 arrives fresh (handled,
    no start recorded); so does the command of update 4 (its start is recorded)."""
    telegram.add_chat(CHAT, "private")
    stored = telegram.register_file(AUDIO, kind="voice")
    file = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "duration": 3}
    database = await Database.open(database_path)
    inbox = InboxRepository(database)
    await inbox.save(
        [
            {"update_id": 1, "message": _message(21, voice=file)},
            {"update_id": 2, "message": _message(22, voice=file)},
        ]
    )
    for _ in range(MAX_ATTEMPTS):
        await inbox.mark_started(1)
    await database.close()

    async with running_bot(settings_for()) as runtime:
        assert runtime.intake is not None and runtime.services is not None
        await runtime.intake.wait_idle(5)
        fresh = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, fresh) == stt.transcript
        telegram.push_text(CHAT, "/help")
        help_text = texts.HELP[:30]
        await telegram.wait_for(
            lambda: any((m.text or "").startswith(help_text) for m in telegram.messages(CHAT)),
            what="the answer to /help",
        )
        await runtime.intake.wait_idle(5)
        await runtime.services.supervisor.wait_idle(10)

    with sqlite3.connect(database_path) as connection:
        rows = {
            update_id: (state, attempts)
            for update_id, state, attempts in connection.execute(
                "SELECT update_id, state, attempts FROM inbox ORDER BY update_id"
            )
        }
    assert rows.pop(1) == ("poisoned", MAX_ATTEMPTS)
    assert rows.pop(2) == ("done", 1)
    assert sorted(rows.values()) == [("done", 0), ("done", 1)]  # the fresh note, the command
    # Update 1 never reached the API; updates 2 and 3 did, once each.
    assert len(stt.requests_to("create")) == 2
    assert [m.text for m in telegram.messages(CHAT) if m.from_bot].count(stt.transcript) == 2


def _message(message_id: int, **content: object) -> dict[str, object]:
    return private_message(CHAT, message_id, **content)


async def test_a_download_that_meets_429_and_5xx_is_retried(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.fault_next("DOWNLOAD", "429", retry_after=0.2)
    telegram.fault_next("DOWNLOAD", "5xx", status=502)
    telegram.fault_next("getFile", "5xx", status=500)
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
    [create] = stt.requests_to("create")
    assert create.audio is not None and create.audio.size == len(AUDIO)


async def test_a_hung_upload_does_not_hold_up_the_others(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # One transfer slot; the first upload hangs after it is sent. Its attempt gives up after
    # the answer timeout (15 s, timed from the end of the upload), and the slot with it: the
    # next note waits that long at worst, not the 120 s of a whole request, nor the retries.
    stt.stall_next("create", 60.0)
    async with running_bot(settings_for(MAX_CONCURRENT_TRANSFERS="1")):
        first = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: stt.requests_to("create"), timeout=10)
        second = telegram.push_voice(CHAT + 1, AUDIO + b"2")["message_id"]
        started = asyncio.get_running_loop().time()
        assert await transcript_reply(telegram, CHAT + 1, second, timeout=30) == stt.transcript
        assert asyncio.get_running_loop().time() - started < 20
        # The hung one is retried (a create that may have reached the API: counted) and ends.
        assert await transcript_reply(telegram, CHAT, first, timeout=30) == stt.transcript


def _lying_wav(seconds_of_samples: float) -> bytes:
    """A WAV whose header claims a byte rate of 0xFFFFFFF0: it 'lasts' 0.00005 s."""
    rate = 16_000
    samples = b"\x00\x00" * int(rate * seconds_of_samples)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, 0xFFFFFFF0, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


async def test_a_lying_wav_header_is_charged_what_the_api_reports(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="600")) as runtime:
        original = telegram.push_document(
            CHAT, _lying_wav(4.0), file_name="memo.wav", mime_type="audio/wav"
        )["message_id"]
        await transcript_reply(telegram, CHAT, original)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(10)
        used = (await runtime.services.quota.status(CHAT)).day_used
    # The fake reports the duration of its transcript's words (seconds, not microseconds).
    assert used > 1.0, used


async def test_a_chat_that_blocked_the_bot_ends_the_job_without_retries(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    stt.delay = 0.5
    async with running_bot(settings_for()) as runtime:
        telegram.push_voice(CHAT, AUDIO)
        await telegram.wait_for(lambda: stt.requests_to("create"), timeout=10)
        telegram.block_chat(CHAT)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(10)
    with sqlite3.connect(database_path) as connection:
        [(state, error)] = connection.execute("SELECT state, error FROM jobs")
    assert (state, error) == ("failed", "chat_gone")


async def test_the_inbox_keeps_raw_updates_as_json(database_path: Path) -> None:
    database = await Database.open(database_path)
    inbox = InboxRepository(database)
    update = {"update_id": 7, "message": {"text": "hi"}}
    assert await inbox.save([update, update]) == [7]
    assert await inbox.save([update]) == []  # Telegram sends it again: kept once
    [entry] = await inbox.pending()
    await database.close()
    assert entry.payload == update and json.dumps(entry.payload)
    assert texts.TRANSCRIBING  # the status text the tests above look past


async def test_a_generation_that_fails_upstream_is_tried_again(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # The first generation ends with the `error` status (not about the audio): another try
    # answers the user, who is never told "failed" for a note that can be transcribed.
    stt.faults.queue("create", Fault("error"))
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
    assert len(stt.requests_to("create")) == 2
    assert replies(telegram, CHAT, original) == [stt.transcript]
