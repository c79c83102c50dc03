"""Shared fixtures: both fakes on 127.0.0.1 and the real bot Application pointed at them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotRuntime
from bot.config.settings import Settings
from bot.retry import RetryPolicy
from bot.stt.schedule import PollSchedule, ScheduleConfig
from bot.telegram.flood_schedule import FloodLimits, Window
from storage.db import Database
from tests.fakes.llm import FakeLlm
from tests.fakes.openai import FakeOpenAi
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram

# As in production (bot/cli/main.py): durations come as timedelta, without deprecation warnings.
os.environ.setdefault("PTB_TIMEDELTA", "true")

# Shaped like real secrets, so the log-scanning tests also catch partial or pattern leaks.
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
API_KEY = "aiml-test-key-5f1e0c9a7b3d4e2f8a6c"
OPENAI_KEY = "sk-test-openai-9c2e7a41b5d3f806"
LLM_KEY = "sk-test-llm-4d7b1e93a0c25f68"

# Jobs in tests finish within milliseconds: poll soon and often, retry quickly.
FAST_SCHEDULE = ScheduleConfig(
    prior_base=0.05, prior_ratio=0.0, min_interval=0.02, max_interval=0.2, min_spread=0.02
)
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
# Telegram trouble in tests lasts seconds, not minutes: retry soon, with the production shape.
FAST_TELEGRAM_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.5, attempts=None)

SettingsFactory = Callable[..., Settings]
BotFactory = Callable[..., BotRuntime]


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(BOT_TOKEN) as fake:
        yield fake
        fake.assert_no_errors()


@pytest.fixture
async def stt() -> AsyncIterator[FakeStt]:
    async with FakeStt(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAi]:
    """An OpenAI-compatible transcription server (tests/fakes/openai.py), keyed OPENAI_KEY."""
    async with FakeOpenAi(api_key=OPENAI_KEY) as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeLlm]:
    """An OpenAI-compatible chat server (tests/fakes/llm.py), keyed LLM_KEY: point the bot at
    it with `settings_for(**llm_environment(llm))`."""
    async with FakeLlm(api_key=LLM_KEY) as fake:
        yield fake


def llm_environment(llm: FakeLlm, model: str = "test-chat-model") -> dict[str, str]:
    return {"LLM_MODEL": model, "LLM_BASE_URL": llm.url, "LLM_API_KEY": LLM_KEY}


def bot_environment(telegram: FakeTelegram, stt: FakeStt, database: Path) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "AIMLAPI_KEY": API_KEY,
        "AIMLAPI_BASE_URL": stt.url,
        "TELEGRAM_API_URL": telegram.url,
        "DATABASE_PATH": str(database),
        "LOG_LEVEL": "DEBUG",
        # Jobs here finish in milliseconds, which would skip every "Transcribing…" the tests
        # look at; the other reasons to skip it (a long queue) still apply.
        "QUICK_ANSWER_SECONDS": "0",
    }


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file, migrated, for the storage layer's own tests."""
    db = await Database.open(tmp_path / "bot.sqlite3")
    yield db
    await db.close()


@pytest.fixture
def settings_for(telegram: FakeTelegram, stt: FakeStt, database_path: Path) -> SettingsFactory:
    """Settings for a bot pointed at both fakes; keyword arguments override the environment."""

    def build(*, local_engine: bool = False, **overrides: str) -> Settings:
        env = bot_environment(telegram, stt, database_path)
        env.update(overrides)
        env = {name: value for name, value in env.items() if value is not None}
        return Settings.from_env(env, dotenv=None, local_engine_available=lambda: local_engine)

    return build


@pytest.fixture
def running_bot() -> BotFactory:
    """`async with running_bot(settings) as runtime:` runs the real Application."""

    def build(settings: Settings, **options: Any) -> BotRuntime:
        options.setdefault("schedule", PollSchedule(FAST_SCHEDULE))
        options.setdefault("stt_retry", FAST_RETRY)
        options.setdefault("llm_retry", FAST_RETRY)
        options.setdefault("telegram_retry", FAST_TELEGRAM_RETRY)
        # The fake has no per-chat flood limit, and tests send a chat dozens of messages a
        # second; tests/test_rate_limiter.py holds the bot to Telegram's.
        options.setdefault("flood_limits", FloodLimits(chat=Window(1000, 1.0)))
        return BotRuntime(settings, **options)

    return build
