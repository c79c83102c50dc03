"""The bot-wide spend ceiling (BUDGET_DAILY_SECONDS), the API's reported cost, and /stats."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp

from bot.presentation import texts
from bot.stt.aiml_backend import AimlBackend
from bot.stt.client import AimlSttClient
from bot.stt.reports import ApiCost, JobReports, cost_from_headers
from bot.stt.schedule import PollSchedule
from bot.stt.types import AudioUpload, JobRequest
from tests.conftest import API_KEY, FAST_RETRY, FAST_SCHEDULE, BotFactory, SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import command
from tests.metering_flows import ADMIN, AUDIO, creates, final_reply, settled
from tests.test_audio_duration import ogg_opus

USERS = tuple(range(5001, 5009))  # eight people, each well inside their own quota
BUDGET_REFUSAL = "Sorry, the bot has used up today's transcription budget"
ALERT = "The bot has reached its daily budget"
# Generous per-user limits, so only the bot-wide ceiling can refuse.
ROOMY = {
    "ADMIN_USER_IDS": str(ADMIN),
    "QUOTA_DAILY_SECONDS": "600",
    "MAX_JOBS_IN_FLIGHT": "10",
    "MAX_JOBS_PER_MINUTE": "100",
}


def ledger(database: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return list(connection.execute("SELECT * FROM quota_ledger ORDER BY job_id"))


def spent(database: Path) -> float:
    return float(sum(row["seconds"] for row in ledger(database) if row["state"] != "refunded"))


def alerts(telegram: FakeTelegram) -> list[str]:
    return [text for text in telegram.bot_texts(ADMIN) if text.startswith(ALERT)]


def is_budget_refusal(text: str | None) -> bool:
    return (text or "").startswith(BUDGET_REFUSAL)


async def test_a_burst_cannot_overspend_and_the_admins_are_told_once_a_day(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    telegram.add_chat(ADMIN)  # the admin has talked to the bot, so it may write to them
    settings = settings_for(BUDGET_DAILY_SECONDS="10", **ROOMY)
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    async with running_bot(settings, clock=clock) as runtime:
        # Eight 3-second notes from eight people, queued before the bot's next getUpdates: one
        # batch, handled concurrently, against 10 seconds of budget.
        originals = {user: telegram.push_voice(user, AUDIO, duration=3) for user in USERS}
        answers = [
            await final_reply(telegram, user, message["message_id"])
            for user, message in originals.items()
        ]
        await settled(runtime)
        first_day = spent(database_path)

        # Later the same day another refusal (9 s spent, 2 s asked): no second alert.
        late = telegram.push_voice(USERS[0], AUDIO, duration=2, file_unique_id="late")
        late_answer = await final_reply(telegram, USERS[0], late["message_id"])
        # 1 s still fits.
        short = telegram.push_voice(USERS[1], AUDIO, duration=1, file_unique_id="short")
        short_answer = await final_reply(telegram, USERS[1], short["message_id"])
        await settled(runtime)

        # A new UTC day: the budget is whole again.
        clock.set("2025-06-11T00:00:05+00:00")
        fresh = telegram.push_voice(USERS[2], AUDIO, duration=3, file_unique_id="fresh")
        fresh_answer = await final_reply(telegram, USERS[2], fresh["message_id"])
        await settled(runtime)

    transcribed = [answer for answer in answers if answer.text == stt.transcript]
    refused = [answer for answer in answers if is_budget_refusal(answer.text)]
    assert (len(transcribed), len(refused)) == (3, 5)
    assert first_day == 9.0  # a fourth note would have made 12
    assert "Please send it again after 11 June 2025, 00:00 UTC" in (refused[0].text or "")
    assert is_budget_refusal(late_answer.text)
    assert short_answer.text == stt.transcript
    assert fresh_answer.text == stt.transcript
    assert creates(stt) == 5  # three, the short one, and the next day's: no refused note
    [alert] = alerts(telegram)  # six refusals, one alert
    assert "BUDGET_DAILY_SECONDS: 10 s of audio a day" in alert
    assert "until 11 June 2025, 00:00 UTC" in alert


async def test_a_false_declared_duration_cannot_slip_past_the_budget(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    # The client says 2 s; the file holds a minute: measured before the upload, and refused.
    telegram.add_chat(ADMIN)
    async with running_bot(settings_for(BUDGET_DAILY_SECONDS="30", **ROOMY)) as runtime:
        original = telegram.push_voice(USERS[0], ogg_opus(60.0), duration=2)["message_id"]
        answer = await final_reply(telegram, USERS[0], original)
        await settled(runtime)

    assert answer.text == texts.failure("quota")
    assert creates(stt) == 0
    assert spent(database_path) == 0.0
    assert len(alerts(telegram)) == 1


async def test_the_reported_cost_is_kept_per_job_and_stats_shows_the_spend(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    # The API's cost headers (docs/aiml-stt-api.md §1), on the answer of the completed poll.
    stt.completion_headers = {"x-aimlapi-credits-used": "1200", "x-aimlapi-usd-spent": "0.0006"}
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    settings = settings_for(BUDGET_DAILY_SECONDS="3600", **ROOMY)
    async with running_bot(settings, clock=clock) as runtime:
        for user, seconds in ((USERS[0], 3), (USERS[1], 5)):
            message = telegram.push_voice(user, AUDIO, duration=seconds)
            assert (await final_reply(telegram, user, message["message_id"])).text == (
                stt.transcript
            )
        await settled(runtime)
        stats = await command(telegram, ADMIN, "/stats")

    rows = ledger(database_path)
    assert [(row["api_credits"], row["api_usd"]) for row in rows] == [(1200.0, 0.0006)] * 2
    text = stats.text or ""
    assert "Sent to the API: 8 s today (daily budget 1 h), 8 s this month" in text
    assert "Cost the API reported: 2400 credits, $0.0012 today, 2400 credits, $0.0012" in text


async def test_without_a_budget_nothing_is_refused_and_stats_says_unlimited(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(**ROOMY)) as runtime:
        message = telegram.push_voice(USERS[0], AUDIO, duration=300)
        answer = await final_reply(telegram, USERS[0], message["message_id"])
        await settled(runtime)
        stats = await command(telegram, ADMIN, "/stats")

    assert answer.text == stt.transcript
    assert "(daily budget unlimited)" in (stats.text or "")
    assert "Cost the API reported: none reported today" in (stats.text or "")


async def test_the_client_reports_each_answers_cost_and_the_backend_the_polls(
    stt: FakeStt,
) -> None:
    stt.create_headers = {"x-aimlapi-credits-used": "10"}
    stt.completion_headers = {"x-aimlapi-credits-used": "990", "x-aimlapi-usd-spent": "0.0005"}
    stt.min_pending_polls = 2
    reports = JobReports()
    async with aiohttp.ClientSession() as session:
        client = AimlSttClient(session, stt.url, API_KEY, on_cost=reports.add_cost)
        backend = AimlBackend(
            client, PollSchedule(FAST_SCHEDULE), retry=FAST_RETRY, on_polled=reports.polled
        )
        request = JobRequest("#g1_whisper-large")
        generation_id = await backend.submit(AudioUpload(AUDIO, "a.ogg", "audio/ogg"), request)
        await backend.wait_result(generation_id, request, 3.0)

    report = reports.take(generation_id)
    assert report is not None
    assert report.cost == ApiCost(credits=1000.0, usd=0.0005)  # the create's and the poll's
    assert (report.polls, report.completed) == (3, True)  # two pending answers, then done
    assert report.detection_lag is not None and report.detection_lag >= 0
    assert reports.take(generation_id) is None  # taken once


def test_garbled_cost_headers_are_unknown_not_free() -> None:
    assert cost_from_headers({"x-aimlapi-credits-used": "lots"}) == ApiCost(None, None)
    assert cost_from_headers({"x-aimlapi-usd-spent": "-1"}) == ApiCost(None, None)
    assert cost_from_headers({"x-aimlapi-usd-spent": "nan"}) == ApiCost(None, None)
    assert cost_from_headers({}).known is False
    assert cost_from_headers({"x-aimlapi-credits-used": " 42 "}) == ApiCost(42.0, None)
