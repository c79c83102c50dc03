"""Nothing is lost: restart, resume, expired generation ids, SIGKILL at each step, SIGTERM.

The kill tests run the real `python -m bot run` as a subprocess against the in-process fakes,
and read its SQLite file directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.app import BotRuntime
from bot.stt.types import Transcript
from tests.conftest import API_KEY, BOT_TOKEN, BotFactory, SettingsFactory, bot_environment
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import Call, FakeTelegram
from tests.test_pipeline import AUDIO, CHAT, transcript_reply

ROOT = Path(__file__).resolve().parent.parent


def job_rows(database: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return list(connection.execute("SELECT * FROM jobs ORDER BY id"))


def transcript_messages(telegram: FakeTelegram, text: str) -> list[int]:
    return [m.message_id for m in telegram.messages(CHAT) if m.text == text]


async def submit_then_stop(
    telegram: FakeTelegram, stt: FakeStt, bot: BotRuntime, database: Path
) -> tuple[int, sqlite3.Row]:
    """Start a slow job, stop the bot while it polls; return the message id and the job row."""
    stt.delay = 60.0
    async with bot:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: stt.requests_to("fetch"), what="a first poll")
    [row] = job_rows(database)
    return original, row


async def test_restart_resumes_a_submitted_job_without_resubmitting(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    settings = settings_for()
    original, row = await submit_then_stop(telegram, stt, running_bot(settings), database_path)
    assert row["state"] == "submitted" and row["generation_id"]
    generation_id = row["generation_id"]

    stt.jobs[generation_id].delay = 0.0  # the job finishes while the bot is down
    async with running_bot(settings) as runtime:
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(5)  # the job is marked delivered
    assert len(stt.requests_to("create")) == 1
    assert {r.generation_id for r in stt.requests_to("fetch")} == {generation_id}
    assert job_rows(database_path)[0]["state"] == "delivered"
    assert job_rows(database_path)[0]["transcript"] is None  # not kept once delivered


async def test_an_expired_generation_id_is_submitted_again(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    settings = settings_for()
    original, row = await submit_then_stop(telegram, stt, running_bot(settings), database_path)
    stt.expire(row["generation_id"])
    stt.delay = 0.0

    async with running_bot(settings) as runtime:
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(5)
    creates = stt.requests_to("create")
    assert len(creates) == 2
    assert 404 in [r.status for r in stt.requests_to("fetch")]
    assert len(transcript_messages(telegram, stt.transcript)) == 1
    [row] = job_rows(database_path)
    assert row["state"] == "delivered" and row["submissions"] == 2


async def test_an_answer_sent_before_a_stop_is_neither_sent_again_nor_edited_in(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    """The journal alone says a step sent as a new message is done (the job row counts only
    edits): stopped after the answer went out and before the job closed, the restart finds
    the step in the journal. It must not send it again, nor edit the status message into a
    second copy, and the job closes with its quota settled."""
    settings = settings_for()
    original, row = await submit_then_stop(telegram, stt, running_bot(settings), database_path)
    with sqlite3.connect(database_path) as connection:
        [(status_id,)] = connection.execute(
            "SELECT message_id FROM sends WHERE step = 'status' AND state = 'confirmed'"
        )
        # As the stop left it: transcribed, and its answer (the status could not be edited)
        # sent as a new message and confirmed, the job not closed yet.
        connection.execute(
            "UPDATE jobs SET state = 'transcribed', transcript = ? WHERE id = ?",
            (Transcript(text=stt.transcript, duration=3.0).to_json(), row["id"]),
        )
        connection.execute(
            """INSERT INTO sends (job_id, step, state, message_id, attempts, updated_at)
               VALUES (?, 'step0', 'confirmed', ?, 1, '2026-01-01T00:00:00.000+00:00')""",
            (row["id"], status_id + 1),
        )
    calls_before = len(telegram.calls)

    async with running_bot(settings) as runtime:
        assert runtime.services is not None
        await telegram.wait_for(
            lambda: job_rows(database_path)[0]["state"] == "delivered",
            timeout=20,
            what="the job closed after the restart",
        )
        await runtime.services.supervisor.wait_idle(5)

    after = [call.method for call in telegram.calls[calls_before:]]
    assert "sendMessage" not in after and "editMessageText" not in after, after
    assert not [m for m in telegram.messages(CHAT) if m.text == stt.transcript]
    assert len(stt.requests_to("create")) == 1
    with sqlite3.connect(database_path) as connection:
        ledger = connection.execute("SELECT state FROM quota_ledger").fetchall()
    assert ledger == [("committed",)], ledger
    # The recording's one reply is still the status message, not edited into a second copy.
    replies = [m for m in telegram.messages(CHAT) if m.reply_to == original]
    assert [m.message_id for m in replies] == [status_id], replies
    assert replies[0].text != stt.transcript


async def test_a_redelivered_update_does_not_start_a_second_job(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    async with running_bot(settings_for()) as runtime:
        message = telegram.push_voice(CHAT, AUDIO)
        await transcript_reply(telegram, CHAT, message["message_id"])
        # Telegram sends an update again when its confirmation was lost.
        telegram.push_update("message", message)
        await telegram.wait_for(lambda: not telegram.pending_updates)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(5)
    assert len(job_rows(database_path)) == 1
    assert len(stt.requests_to("create")) == 1


# --- the real process ----------------------------------------------------------------------


class BotProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=self._env,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()

    def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def terminate(self, limit: float = 15.0) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), limit)

    async def wait_killed(self) -> None:
        assert self.process is not None
        await asyncio.wait_for(self.process.wait(), 10)


@pytest.fixture
def process_env(telegram: FakeTelegram, stt: FakeStt, database_path: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        **bot_environment(telegram, stt, database_path),
    }
    return env


@asynccontextmanager
async def bot_process(env: dict[str, str], log_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(env, log_path)
    await process.start()
    try:
        yield process
    finally:
        process.kill()


def assert_no_secrets(log_path: Path) -> None:
    log = log_path.read_text(errors="replace")
    assert "DEBUG" in log, "the log should be verbose in these tests"
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY):
        assert secret not in log


KillPoint = Callable[[FakeTelegram, FakeStt, BotProcess], None]


def kill_on_create(telegram: FakeTelegram, stt: FakeStt, process: BotProcess) -> None:
    stt.stall_next("create", 30.0)


def kill_on_poll(telegram: FakeTelegram, stt: FakeStt, process: BotProcess) -> None:
    stt.stall_next("fetch", 30.0)


def kill_on_delivery(telegram: FakeTelegram, stt: FakeStt, process: BotProcess) -> None:
    def kill(call: Call) -> None:
        if call.params.get("text") == stt.transcript:
            process.kill()  # the edit reaches Telegram; the bot never hears the answer

    telegram.on_call("editMessageText", kill)


@pytest.mark.parametrize(
    ("kill_point", "stalled"),
    [(kill_on_create, "create"), (kill_on_poll, "fetch"), (kill_on_delivery, None)],
    ids=["during-submit", "during-poll", "during-delivery"],
)
async def test_exactly_once_delivery_after_sigkill(
    kill_point: KillPoint,
    stalled: str | None,
    telegram: FakeTelegram,
    stt: FakeStt,
    process_env: dict[str, str],
    tmp_path: Path,
    database_path: Path,
) -> None:
    log_path = tmp_path / "bot.log"
    async with bot_process(process_env, log_path) as first:
        kill_point(telegram, stt, first)
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        if stalled is not None:
            await telegram.wait_for(
                lambda: stt.requests_to(stalled), timeout=20, what=f"a {stalled} request"
            )
            first.kill()
        await first.wait_killed()
    assert job_rows(database_path)[0]["state"] != "delivered"

    async with bot_process(process_env, log_path) as second:
        await telegram.wait_for(
            lambda: job_rows(database_path)[0]["state"] == "delivered",
            timeout=30,
            what="the job delivered after the restart",
        )
        assert await second.terminate() == 0

    assert len(transcript_messages(telegram, stt.transcript)) == 1
    sends = [c for c in telegram.calls_to("sendMessage") if c.params.get("text") == stt.transcript]
    assert not sends, "the transcript is an edit of the status message, never a second message"
    status_messages = [m for m in telegram.messages(CHAT) if m.reply_to == original]
    assert len(status_messages) == 1
    assert_no_secrets(log_path)


async def test_sigterm_stops_cleanly_and_the_job_resumes(
    telegram: FakeTelegram,
    stt: FakeStt,
    process_env: dict[str, str],
    tmp_path: Path,
    database_path: Path,
) -> None:
    stt.delay = 120.0
    log_path = tmp_path / "bot.log"
    async with bot_process(process_env, log_path) as first:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await telegram.wait_for(lambda: stt.requests_to("fetch"), timeout=20)
        started = asyncio.get_running_loop().time()
        assert await first.terminate() == 0
        assert asyncio.get_running_loop().time() - started < 10
    [row] = job_rows(database_path)
    assert row["state"] == "submitted"

    stt.jobs[row["generation_id"]].delay = 0.0
    async with bot_process(process_env, log_path) as second:
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
        assert await second.terminate() == 0
    assert len(stt.requests_to("create")) == 1
    assert_no_secrets(log_path)
