"""Webhook mode against the fake Bot API: setWebhook, the secret, answers only after the update
is saved, replays, a SIGKILL right after the 200, and the way back to polling."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest

from bot.app import ALLOWED_UPDATES, StartupError
from bot.config.settings import Settings, SettingsError
from tests.conftest import BotFactory, SettingsFactory, bot_environment
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import AUDIO, final_reply, settled
from tests.test_durability import ROOT, assert_no_secrets, bot_process, job_rows

CHAT = 7001
SECRET = "s3cret_Webhook-token"
PATH = "/telegram/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(port: int) -> dict[str, str]:
    return {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}{PATH}",
        "WEBHOOK_SECRET_TOKEN": SECRET,
        "WEBHOOK_MAX_CONNECTIONS": "5",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
    }


def inbox_rows(database: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return list(connection.execute("SELECT update_id, state FROM inbox ORDER BY update_id"))


def voice_update(telegram: FakeTelegram, update_id: int) -> dict[str, object]:
    """A voice update as Telegram would send it, built without queueing it in the fake."""
    stored = telegram.register_file(AUDIO, kind="voice")
    telegram.add_chat(CHAT)
    return {
        "update_id": update_id,
        "message": {
            "message_id": 77,
            "from": telegram.users[CHAT],
            "chat": telegram.chats[CHAT],
            "date": 1_750_000_000,
            "voice": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": 3,
                "mime_type": "audio/ogg",
                "file_size": stored.file_size,
            },
        },
    }


async def test_webhook_mode_sets_the_webhook_and_serves_updates(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)
        answer = await final_reply(telegram, CHAT, original["message_id"])
        await settled(runtime)
        assert runtime.poller is None

    [call] = telegram.calls_to("setWebhook")
    assert call.params["url"] == f"http://127.0.0.1:{port}{PATH}"
    assert call.params["secret_token"] == SECRET
    assert call.params["max_connections"] == 5
    assert call.params["allowed_updates"] == list(ALLOWED_UPDATES)
    assert not call.params.get("drop_pending_updates")
    assert not telegram.calls_to("getUpdates")
    assert not telegram.calls_to("deleteWebhook")
    assert answer.text == stt.transcript
    assert [d.status for d in telegram.webhook.deliveries] == [200]
    assert [row["state"] for row in inbox_rows(database_path)] == ["done"]
    # Stopped, the bot leaves the webhook set: Telegram keeps updates for the next start.
    assert telegram.webhook.active


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))) as runtime:
        update = voice_update(telegram, 900_001)
        wrong = await telegram.webhook.post(update, secret="not-the-secret")
        missing = await telegram.webhook.post(update, secret=None)
        elsewhere = await telegram.webhook.post(
            update, secret=SECRET, url=f"http://127.0.0.1:{port}/other"
        )
        await settled(runtime)
        metrics = runtime.metrics.render().decode()

    assert (wrong, missing, elsewhere) == (403, 403, 404)
    assert inbox_rows(database_path) == []
    assert job_rows(database_path) == []
    assert telegram.messages(CHAT) == []
    assert not stt.requests_to("create")
    assert 'stt_bot_webhook_requests_total{outcome="forbidden"} 2.0' in metrics


async def test_a_replayed_update_is_handled_once(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))) as runtime:
        message = telegram.push_voice(CHAT, AUDIO)
        await final_reply(telegram, CHAT, message["message_id"])
        [first] = telegram.webhook.deliveries
        # Telegram sends it again, as it does when our 200 was lost on the way.
        again = await telegram.webhook.post(
            {"update_id": first.update_id, "message": message}, secret=SECRET
        )
        await settled(runtime)

    assert (first.status, again) == (200, 200)
    assert len(inbox_rows(database_path)) == 1
    assert len(job_rows(database_path)) == 1
    assert len(stt.requests_to("create")) == 1
    replies = [m.text for m in telegram.messages(CHAT) if m.reply_to == message["message_id"]]
    assert replies == [stt.transcript]


async def test_malformed_bodies_get_400(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))):
        status = await telegram.webhook.post({"update_id": "x"}, secret=SECRET)
    assert status == 400


async def test_an_update_that_cannot_be_saved_gets_500_and_arrives_on_the_retry(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))) as runtime:
        await settled(runtime)
        # Another process holds the write lock past the bot's busy timeout (5 s).
        holder = sqlite3.connect(database_path, timeout=0, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            original = telegram.push_voice(CHAT, AUDIO)
            await telegram.wait_for(
                lambda: any(d.status == 500 for d in telegram.webhook.deliveries),
                timeout=15,
                what="a 500 for the update that could not be saved",
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        answer = await final_reply(telegram, CHAT, original["message_id"])
        await settled(runtime)

    statuses = [d.status for d in telegram.webhook.deliveries]
    assert statuses[0] == 500 and statuses[-1] == 200
    assert answer.text == stt.transcript
    assert len(job_rows(database_path)) == 1


async def test_switching_back_to_polling_deletes_the_webhook_and_keeps_pending_updates(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    port = free_port()
    async with running_bot(settings_for(**webhook_settings(port))):
        assert telegram.webhook.active
    # While the bot is down a note comes: Telegram tries the dead webhook and keeps it.
    original = telegram.push_voice(CHAT, AUDIO)
    await telegram.wait_for(
        lambda: telegram.webhook.deliveries, timeout=5, what="a failed delivery attempt"
    )
    async with running_bot(settings_for()) as runtime:
        answer = await final_reply(telegram, CHAT, original["message_id"])
        await settled(runtime)

    [delete] = telegram.calls_to("deleteWebhook")
    assert not delete.params.get("drop_pending_updates")
    assert not telegram.webhook.active
    assert answer.text == stt.transcript
    assert all(d.status != 200 for d in telegram.webhook.deliveries)


async def test_polling_mode_serves_no_webhook(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    port = free_port()
    async with running_bot(settings_for(HTTP_PORT=str(port), HTTP_HOST="127.0.0.1")):
        status = await telegram.webhook.post(
            {"update_id": 1}, secret=SECRET, url=f"http://127.0.0.1:{port}{PATH}"
        )
    assert status == 404  # only /healthz and /metrics
    assert not telegram.calls_to("setWebhook")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"WEBHOOK_URL": "https://bot.example.com/hook"},
            "WEBHOOK_SECRET_TOKEN is required when WEBHOOK_URL is set",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET_TOKEN": "no spaces!"},
            "WEBHOOK_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET_TOKEN": "a" * 257},
            "WEBHOOK_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ),
        ({"WEBHOOK_URL": "bot.example.com/hook"}, "WEBHOOK_URL must be an http:// or https:// URL"),
        (
            {"WEBHOOK_URL": "https://bot.example.com/metrics", "WEBHOOK_SECRET_TOKEN": "x"},
            "WEBHOOK_URL must not have the path of /healthz or /metrics",
        ),
        ({"HTTP_PORT": "65536"}, "HTTP_PORT must be at most 65535"),
        ({"WEBHOOK_MAX_CONNECTIONS": "0"}, "WEBHOOK_MAX_CONNECTIONS must be at least 1"),
        ({"BUDGET_DAILY_SECONDS": "-5"}, "BUDGET_DAILY_SECONDS must be at least 0"),
    ],
)
def test_webhook_settings_are_checked_in_one_line(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"AIMLAPI_KEY": "k", **variables}, dotenv=None)
    assert str(error.value) == message
    assert "no spaces!" not in str(error.value)


def test_webhook_mode_listens_on_8080_by_default() -> None:
    settings = Settings.from_env(
        {
            "AIMLAPI_KEY": "k",
            "WEBHOOK_URL": "https://bot.example.com/tg/hook/",
            "WEBHOOK_SECRET_TOKEN": SECRET,
        },
        dotenv=None,
    )
    assert (settings.serving_port, settings.http_host, settings.webhook_path) == (
        8080,
        "0.0.0.0",
        "/tg/hook",
    )
    assert Settings.from_env({"AIMLAPI_KEY": "k"}, dotenv=None).serving_port is None


async def test_a_port_in_use_stops_start_up_in_one_line(
    settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(StartupError) as error:
            async with running_bot(settings_for(**webhook_settings(port))):
                pass
    assert str(error.value).startswith(f"cannot listen on 127.0.0.1:{port} (HTTP_HOST, HTTP_PORT)")
    assert SECRET not in str(error.value)


# --- the real process ----------------------------------------------------------------------


@pytest.fixture
def webhook_env(telegram: FakeTelegram, stt: FakeStt, database_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        **bot_environment(telegram, stt, database_path),
        **webhook_settings(free_port()),
    }


async def test_sigkill_right_after_the_200_handles_the_update_exactly_once(
    telegram: FakeTelegram,
    stt: FakeStt,
    webhook_env: dict[str, str],
    tmp_path: Path,
    database_path: Path,
) -> None:
    log_path = tmp_path / "bot.log"
    stt.delay = 2.0  # the job is still running when the process dies
    async with bot_process(webhook_env, log_path) as first:

        def kill_after_ok(update: dict[str, object], status: int) -> None:
            first.kill()  # the update is saved; the bot dies before doing anything with it

        telegram.webhook.after_delivery = kill_after_ok
        await telegram.wait_for(
            lambda: telegram.calls_to("setWebhook"), timeout=30, what="setWebhook"
        )
        original = telegram.push_voice(CHAT, AUDIO)
        await first.wait_killed()
    telegram.webhook.after_delivery = None
    assert len(inbox_rows(database_path)) == 1  # saved before the 200
    assert not any(row["state"] == "delivered" for row in job_rows(database_path))

    async with bot_process(webhook_env, log_path) as second:
        await telegram.wait_for(
            lambda: job_rows(database_path) and job_rows(database_path)[0]["state"] == "delivered",
            timeout=30,
            what="the job delivered after the restart",
        )
        assert await second.terminate() == 0

    deliveries = [d.status for d in telegram.webhook.deliveries]
    assert deliveries == [200]  # Telegram had its answer: it never sent the update again
    assert len(job_rows(database_path)) == 1
    assert len(stt.requests_to("create")) == 1
    replies = [m.text for m in telegram.messages(CHAT) if m.reply_to == original["message_id"]]
    # The transcript arrives once. (A status message the first process sent without hearing
    # back may stay as it is: it is never sent twice, so the transcript then comes anew.)
    assert replies.count(stt.transcript) == 1
    assert len(replies) <= 2
    assert [row["state"] for row in inbox_rows(database_path)] == ["done"]
    assert SECRET not in log_path.read_text(errors="replace")
    assert_no_secrets(log_path)
