"""Steps shared by the end-to-end tests of quotas, access, admin tools, groups and the cache."""

from __future__ import annotations

import asyncio

from bot.app import BotRuntime
from bot.presentation import texts
from bot.services import Services
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import ChatMessage, FakeTelegram

AUDIO = b"OggS" + bytes(range(256)) * 4  # the fake API does not decode audio
ADMIN = 9
# Long enough that a job is still running when the next message arrives, short for the suite.
SLOW_JOB = 1.0


async def final_reply(telegram: FakeTelegram, chat_id: int, original: int) -> ChatMessage:
    """The bot's answer to message `original` once it is final (not "Transcribing…")."""

    def find() -> ChatMessage | None:
        for message in telegram.messages(chat_id):
            if message.reply_to == original and message.text not in (None, texts.TRANSCRIBING):
                return message
        return None

    found = await telegram.wait_for(find, what=f"a final reply to message {original}")
    assert found is not None
    return found


async def settled(runtime: BotRuntime) -> None:
    """Let updates already pushed be handled and background jobs finish.

    Only for asserting that something did NOT happen: a handler that ignores an update leaves
    nothing to wait for, so give it a moment (updates are handled concurrently).
    """
    await asyncio.sleep(0.3)
    assert runtime.services is not None
    await runtime.services.supervisor.wait_idle(10)


def services(runtime: BotRuntime) -> Services:
    assert runtime.services is not None
    return runtime.services


def creates(stt: FakeStt) -> int:
    return len(stt.requests_to("create"))
