"""The environment of the real `python -m bot ...` process in the tests that run it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import bot_environment
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def process_environment(
    telegram: FakeTelegram, stt: FakeStt, database: Path, **overrides: str
) -> dict[str, str]:
    """What `bot_environment` sets, plus what a bare subprocess needs to import the bot."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        **bot_environment(telegram, stt, database),
        **overrides,
    }
