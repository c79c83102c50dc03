"""LOG_FORMAT=json: one JSON object per line, the job's id, chat and model as fields, nothing
secret and no transcript; and the start-up line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import package_version
from bot.config.settings import SettingsError
from bot.log_fields import bind_log_fields, log_fields
from bot.observability.logging import REDACTED, configure_logging
from tests.conftest import API_KEY, BOT_TOKEN, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import final_reply
from tests.process_env import process_environment
from tests.test_durability import bot_process, job_rows
from tests.test_pipeline import AUDIO, CHAT

log = logging.getLogger("tests.json_logs")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's logging as `run` sets it up with LOG_FORMAT=json, into a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", [BOT_TOKEN, API_KEY], "json", stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def entries(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert lines, "nothing was logged"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def test_a_line_about_a_job_carries_its_fields(json_log: io.StringIO) -> None:
    log.info("before any job")
    with log_fields(job_id=7, chat_id=-100123, model="#g1_whisper-large"):
        log.info("job %d submitted", 7)
    log.warning("after the job")

    before, during, after = entries(json_log.getvalue())
    assert before["message"] == "before any job" and "job_id" not in before
    assert during["message"] == "job 7 submitted"
    assert (during["job_id"], during["chat_id"], during["model"]) == (
        7,
        -100123,
        "#g1_whisper-large",
    )
    assert during["level"] == "INFO" and during["logger"] == "tests.json_logs"
    assert during["time"].endswith("+00:00")
    assert "job_id" not in after


async def test_each_task_keeps_its_own_job_fields(json_log: io.StringIO) -> None:
    async def job(job_id: int) -> None:
        bind_log_fields(job_id=job_id)
        await asyncio.sleep(0.01)  # the other job runs meanwhile
        log.info("job %d done", job_id)

    await asyncio.gather(job(1), job(2))
    log.info("the caller")
    ours = [entry for entry in entries(json_log.getvalue()) if entry["logger"] == log.name]
    by_message = {entry["message"]: entry.get("job_id") for entry in ours}
    assert by_message == {"job 1 done": 1, "job 2 done": 2, "the caller": None}


def test_secrets_are_redacted_in_messages_fields_and_tracebacks(json_log: io.StringIO) -> None:
    try:
        raise RuntimeError(f"GET https://api.telegram.org/file/bot{BOT_TOKEN}/voice/1.oga")
    except RuntimeError:
        log.exception("download failed with key %s", API_KEY, extra={"url": f"?key={API_KEY}"})

    text = json_log.getvalue()
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY):
        assert secret not in text
    [entry] = entries(text)
    assert entry["message"] == f"download failed with key {REDACTED}"
    assert entry["url"] == f"?key={REDACTED}"
    assert "RuntimeError" in entry["exception"] and REDACTED in entry["exception"]


def test_log_format_is_validated_in_one_line(settings_for: SettingsFactory) -> None:
    with pytest.raises(SettingsError, match=r"^LOG_FORMAT must be one of: text, json$"):
        settings_for(LOG_FORMAT="xml")
    assert settings_for(LOG_FORMAT="JSON").log_format == "json"
    assert settings_for().log_format == "text"


async def test_the_bot_logs_json_lines_with_job_fields_and_nothing_private(
    telegram: FakeTelegram, stt: FakeStt, tmp_path: Path, database_path: Path
) -> None:
    """The real process with LOG_FORMAT=json at DEBUG handles a note from a named user."""
    stt.transcript = "The vault code is on the back of the Rembrandt."
    telegram.add_chat(CHAT, first_name="Philippa", username="philippa_vane")
    env = process_environment(telegram, stt, database_path, LOG_FORMAT="json")
    log_path = tmp_path / "bot.log"
    async with bot_process(env, log_path) as bot:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert (await final_reply(telegram, CHAT, original)).text == stt.transcript
        await telegram.wait_for(
            lambda: job_rows(database_path)[0]["state"] == "delivered", what="the job's end"
        )
        assert await bot.terminate() == 0

    text = log_path.read_text()
    for private in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY, "Rembrandt", "vault code"):
        assert private not in text
    for name in ("Philippa", "philippa_vane"):
        assert name not in text
    logged = entries(text)
    assert any(entry["level"] == "DEBUG" for entry in logged), "the log should be verbose here"

    [started] = [e for e in logged if e["message"].startswith("bot started")]
    assert started["message"].startswith(
        f"bot started: version {package_version()}, backend aiml, polling, "
        f"database {database_path};"
    )
    about_the_job = [e for e in logged if e["message"].startswith("job 1 ")]
    assert any(e["message"].startswith("job 1 delivered") for e in about_the_job)
    for entry in about_the_job:
        assert (entry["job_id"], entry["chat_id"], entry["model"]) == (
            1,
            CHAT,
            "#g1_whisper-large",
        ), entry["message"]
