"""A command is handled at once, even while a flood of recordings waits to be accepted.

The intake (bot/telegram/intake.py) handles a bounded number of updates at a time. Recordings and
everything else have slots of their own, so /start, arriving behind hundreds of voice notes in
one getUpdates batch, does not wait for them all to be accepted (18 s with 500 notes at once in
benchmarks/load.py before the split). Real parts: python-telegram-bot's Application against the
fake Bot API, and the inbox in a real SQLite file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from bot.telegram.intake import UpdateIntake
from storage.db import Database
from storage.inbox import InboxRepository
from tests.conftest import BOT_TOKEN
from tests.fakes.telegram import FakeTelegram, private_message

CHAT = 4242


def message(message_id: int, **content: object) -> dict[str, object]:
    return private_message(CHAT, message_id, **content)


async def test_a_command_does_not_wait_for_the_recordings_ahead_of_it(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    release = asyncio.Event()  # the recordings' handlers hold their slots until this is set
    accepting = 0
    answered = asyncio.Event()

    async def on_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal accepting
        accepting += 1
        await release.wait()

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answered.set()

    application: Any = ApplicationBuilder().token(BOT_TOKEN).base_url(telegram.base_url)
    application = application.updater(None).build()
    application.add_handler(MessageHandler(filters.VOICE, on_voice))
    application.add_handler(CommandHandler("start", on_start))
    database = await Database.open(tmp_path / "bot.sqlite3")
    voice = {"file_id": "f", "file_unique_id": "u", "duration": 3, "mime_type": "audio/ogg"}
    batch = [{"update_id": n, "message": message(n, voice=voice)} for n in range(1, 41)]
    batch.append({"update_id": 41, "message": message(41, text="/start")})
    try:
        async with application:
            intake = UpdateIntake(InboxRepository(database), application, concurrency=4)
            await intake.receive(batch)
            await asyncio.wait_for(answered.wait(), 10)
            # /start was handled while the recordings held their slots and 36 or more still
            # waited (its database turns come first, so it may not even wait for all four).
            assert 1 <= accepting <= 4
            release.set()
            await intake.wait_idle(10)
            assert accepting == 40
    finally:
        release.set()
        await database.close()
