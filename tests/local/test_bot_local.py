"""The bot end to end on real speech: with no API key (the local engine), and through serve-api.

Real espeak-ng speech, encoded as OGG/Opus like a Telegram voice note, goes through the fake Bot
API to the real Application, and the recognised words come back as the reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.local.backend import LocalBackend
from bot.presentation import texts
from bot.server.app import ServerConfig, create_app
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.telegram import FakeTelegram
from tests.local.conftest import DENTIST, SHOPPING, Speech
from tests.local.wer import assert_heard

pytestmark = pytest.mark.local_engine

CHAT = 5150
# Real recognition (and, for the first note, loading the model) takes seconds on a busy
# two-core machine: far longer than a reply through the fake API, whose tests wait 10 s.
REPLY_TIMEOUT = 60.0


async def transcript_reply(telegram: FakeTelegram, chat_id: int, original: int) -> str:
    """The final text of the status message that replies to `original`."""

    def final_text() -> str | None:
        for message in telegram.messages(chat_id):
            if message.reply_to == original and message.text not in (None, texts.TRANSCRIBING):
                return message.text
        return None

    text = await telegram.wait_for(
        final_text, timeout=REPLY_TIMEOUT, what=f"a final reply to message {original}"
    )
    assert text is not None
    return text


async def test_bot_without_api_key_transcribes_on_the_local_engine(
    telegram: FakeTelegram,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    speech: Speech,
) -> None:
    settings = settings_for(AIMLAPI_KEY="", local_engine=True)
    assert settings.backend == "local" and settings.default_model == "local/base"
    voice = speech(DENTIST).read_bytes()
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, voice, duration=3)["message_id"]
        text = await transcript_reply(telegram, CHAT, original)
        command = telegram.push_text(CHAT, "/model")["message_id"]
        keyboard = await telegram.wait_for(
            lambda: next(
                (m.reply_markup for m in telegram.messages(CHAT) if m.message_id > command),
                None,
            ),
            what="the /model keyboard",
        )
    assert_heard(DENTIST, text)  # the whole reply is the transcript
    offered = [
        button["callback_data"]
        for row in keyboard["inline_keyboard"]
        for button in row
        if "callback_data" in button
    ]
    models = [data.removeprefix("model:") for data in offered if data.startswith("model:")]
    assert "local/base" in models
    assert all(model.startswith("local/") for model in models), models


@pytest.fixture
async def serve_api(backend: LocalBackend) -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(backend, ServerConfig(keys=frozenset({"local-key-123"}))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/v1"
    await runner.cleanup()


async def test_bot_uses_serve_api_as_its_aiml_endpoint(
    telegram: FakeTelegram,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    speech: Speech,
    serve_api: str,
) -> None:
    settings = settings_for(AIMLAPI_BASE_URL=serve_api, AIMLAPI_KEY="local-key-123")
    assert settings.backend == "aiml"
    voice = speech(SHOPPING).read_bytes()
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, voice, duration=3)["message_id"]
        text = await transcript_reply(telegram, CHAT, original)
    assert_heard(SHOPPING, text)
