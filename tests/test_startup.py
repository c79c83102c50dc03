"""Start-up failures an operator meets: one clear line, a non-zero exit, and never the token."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY, BOT_TOKEN, bot_environment
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


async def run_bot(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, (stdout + stderr).decode(errors="replace")


def assert_one_clean_line(output: str, *expected: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for text in expected:
        assert text in lines[0], output
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY):
        assert secret not in output


async def test_a_rejected_token_is_one_line_without_the_token(
    telegram: FakeTelegram, stt: FakeStt, tmp_path: Path
) -> None:
    env = bot_environment(telegram, stt, tmp_path / "bot.sqlite3")
    env["TELEGRAM_BOT_TOKEN"] = "987654321:" + "Z" * 35  # well-formed, but not the fake's
    env["LOG_LEVEL"] = "INFO"
    code, output = await run_bot(env, tmp_path)
    assert code == 1
    assert_one_clean_line(output, "rejected the bot token")
    assert "Z" * 35 not in output


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
async def test_an_unreachable_telegram_is_one_line(
    stt: FakeStt, tmp_path: Path, log_level: str
) -> None:
    async with FakeTelegram(BOT_TOKEN) as telegram:
        env = bot_environment(telegram, stt, tmp_path / "bot.sqlite3")
    # The fake is closed now: nothing listens on its port.
    env["LOG_LEVEL"] = log_level
    code, output = await run_bot(env, tmp_path)
    assert code == 1
    if log_level == "INFO":
        assert_one_clean_line(output, "cannot reach Telegram")
    else:
        assert "cannot reach Telegram" in output.splitlines()[-1]
        assert BOT_TOKEN not in output and BOT_TOKEN.split(":")[1] not in output


async def test_an_unwritable_database_is_one_line(
    telegram: FakeTelegram, stt: FakeStt, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = bot_environment(telegram, stt, blocker / "bot.sqlite3")
    env["LOG_LEVEL"] = "INFO"
    code, output = await run_bot(env, tmp_path)
    assert code == 1
    assert_one_clean_line(output, "cannot open the database")
