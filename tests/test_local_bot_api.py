"""A local telegram-bot-api server (--local): files read where the server put them, up to 2 GB.

The fake Bot API in local mode answers getFile with an absolute path under its working
directory, as the real server does. The real Application must read the file there (no download
request at all), upload it from there, and leave it in place: it is the server's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config.settings import SettingsError
from bot.pipeline.temp_files import TempFiles
from bot.presentation import texts
from tests.conftest import BOT_TOKEN, BotFactory, SettingsFactory
from tests.fakes.notes import note_bytes
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import DOWNLOAD, FakeTelegram
from tests.test_pipeline import transcript_reply

CHAT = 7272


async def test_a_local_servers_file_is_read_in_place(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    tmp_path: Path,
) -> None:
    server_dir = tmp_path / "telegram-bot-api"
    telegram.enable_local_mode(server_dir)
    settings = settings_for(TELEGRAM_LOCAL_MODE="true")
    data = note_bytes("localnote0001", 5) + bytes(range(256)) * 100
    async with running_bot(settings):
        message = telegram.push_voice(CHAT, data, duration=5)
        await transcript_reply(telegram, CHAT, message["message_id"])

    assert telegram.calls_to("getFile")
    assert not telegram.calls_to(DOWNLOAD)  # read from the disk, never fetched over HTTP
    [job] = stt.jobs.values()
    assert job.upload.data == data  # uploaded from the server's file
    stored = telegram.files[message["voice"]["file_id"]]
    served = server_dir / BOT_TOKEN / stored.file_path
    assert served.read_bytes() == data  # left where it was: the server's, not ours
    assert TempFiles(settings.temp_folder).leftovers() == []  # and no copy was made


async def test_a_file_over_20_mb_comes_through_a_local_server(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    tmp_path: Path,
) -> None:
    telegram.enable_local_mode(tmp_path / "server")
    # A document says nothing of its length: no quota here to refuse its estimate.
    settings = settings_for(
        TELEGRAM_LOCAL_MODE="true", QUOTA_DAILY_SECONDS="0", QUOTA_MONTHLY_SECONDS="0"
    )
    assert settings.max_file_bytes == 2_000_000_000  # the limit follows the server
    data = note_bytes("localnote0002", 600) + bytes(21_000_000)
    async with running_bot(settings):
        original = telegram.push_document(
            CHAT, data, file_name="meeting.ogg", mime_type="audio/ogg"
        )["message_id"]
        await transcript_reply(telegram, CHAT, original, timeout=30)

    [create] = stt.requests_to("create")
    assert create.audio is not None and create.audio.size == len(data) > 20_000_000


async def test_a_server_path_not_on_this_disk_fails_plainly_and_quietly(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    telegram.enable_local_mode(Path("/unused"), on_this_disk=False)
    settings = settings_for(TELEGRAM_LOCAL_MODE="true")
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, note_bytes("localnote0003", 3), duration=3)
        text = await transcript_reply(telegram, CHAT, original["message_id"])

    assert text == texts.failure("download_failed")
    assert not stt.requests
    # The bot's own lines (PTB's DEBUG lines name its URLs; the log handler redacts those).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "not on this disk" in ours  # the operator learns what to fix
    # The server's paths carry the bot token (<dir>/<token>/voice/...): never in our lines.
    assert BOT_TOKEN.split(":")[1] not in ours


async def test_a_local_server_without_local_mode_set_is_named_at_once(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram.enable_local_mode(tmp_path / "server")
    async with running_bot(settings_for()):  # TELEGRAM_LOCAL_MODE unset
        original = telegram.push_voice(CHAT, note_bytes("localnote0004", 3), duration=3)
        text = await transcript_reply(telegram, CHAT, original["message_id"])

    assert text == texts.failure("download_failed")
    assert len(telegram.calls_to("getFile")) == 1  # no retries of a mistake that will not pass
    assert not telegram.calls_to(DOWNLOAD) and not stt.requests
    assert "set TELEGRAM_LOCAL_MODE=true" in caplog.text


def test_file_limits_follow_the_server(settings_for: SettingsFactory) -> None:
    assert settings_for().max_file_bytes == 20_000_000
    local = settings_for(TELEGRAM_LOCAL_MODE="true", MAX_FILE_BYTES="500000000")
    assert local.max_file_bytes == 500_000_000
    with pytest.raises(SettingsError, match="MAX_FILE_BYTES above 20000000 needs TELEGRAM_LOCAL"):
        settings_for(MAX_FILE_BYTES="2000000000")
    with pytest.raises(SettingsError, match="TELEGRAM_LOCAL_MODE=true needs TELEGRAM_API_URL"):
        settings_for(TELEGRAM_LOCAL_MODE="true", TELEGRAM_API_URL="https://api.telegram.org")
