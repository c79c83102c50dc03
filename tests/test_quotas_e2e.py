"""Quotas end to end: the exact burst, refusal, refund, the daily window, /usage, durations."""

from __future__ import annotations

from pathlib import Path

from bot.pipeline.transcription import MAX_SUBMISSIONS
from bot.presentation import texts
from storage.db import Database
from storage.jobs import JobRepository, NewJob
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import command
from tests.metering_flows import AUDIO, creates, final_reply, services, settled
from tests.test_audio_duration import ogg_opus

CHAT = 4242
OTHER = 4343


async def test_a_burst_of_twenty_one_second_notes_against_ten_seconds_admits_exactly_ten(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for(
        QUOTA_DAILY_SECONDS="10", MAX_JOBS_IN_FLIGHT="100", MAX_JOBS_PER_MINUTE="100"
    )
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    async with running_bot(settings, clock=clock) as runtime:
        # All twenty are queued before the bot's next getUpdates: they arrive at once.
        originals = [telegram.push_voice(CHAT, AUDIO, duration=1)["message_id"] for _ in range(20)]
        answers = [await final_reply(telegram, CHAT, original) for original in originals]
        await settled(runtime)
        usage = await services(runtime).quota.status(CHAT)

    refusals = [a.text for a in answers if a.text and a.text.startswith("Sorry, this recording")]
    assert len(refusals) == 10
    assert creates(stt) == 10  # refused notes never reached the API
    assert usage.day_used == 10.0
    # The refusal says how much is used, the limit, and when it resets.
    assert "You have used 10 s of 10 s, leaving 0 s." in refusals[0]
    assert "resets on 11 June 2025, 00:00 UTC (in 12 h)" in refusals[0]


async def test_a_failed_job_is_refunded(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.job_error = ("failed", "the model crashed")
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="10")) as runtime:
        original = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        failure = await final_reply(telegram, CHAT, original)
        await settled(runtime)
        assert (await services(runtime).quota.status(CHAT)).day_used == 0.0

        stt.job_error = None
        second = telegram.push_voice(CHAT, AUDIO, duration=8)["message_id"]
        answer = await final_reply(telegram, CHAT, second)
        await settled(runtime)
        assert (await services(runtime).quota.status(CHAT)).day_used == 8.0

    assert failure.text == texts.failure("api_error")
    assert answer.text == stt.transcript
    # A failed generation is tried again (MAX_SUBMISSIONS in all) before the user is told.
    assert creates(stt) == MAX_SUBMISSIONS + 1


async def test_the_daily_quota_resets_at_utc_midnight(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    clock = FakeClock("2025-06-10T23:50:00+00:00")
    settings = settings_for(QUOTA_DAILY_SECONDS="10", QUOTA_MONTHLY_SECONDS="15")
    async with running_bot(settings, clock=clock) as runtime:
        first = telegram.push_voice(CHAT, AUDIO, duration=10)["message_id"]
        assert (await final_reply(telegram, CHAT, first)).text == stt.transcript
        refused = telegram.push_voice(CHAT, AUDIO, duration=1)["message_id"]
        refusal = (await final_reply(telegram, CHAT, refused)).text or ""
        assert "daily quota" in refusal and "(in 10 min)" in refusal

        clock.set("2025-06-11T00:00:01+00:00")
        next_day = telegram.push_voice(CHAT, AUDIO, duration=5)["message_id"]
        assert (await final_reply(telegram, CHAT, next_day)).text == stt.transcript
        # 15 s this month now: the monthly limit holds although the day has room.
        over_month = telegram.push_voice(CHAT, AUDIO, duration=1)["message_id"]
        monthly = (await final_reply(telegram, CHAT, over_month)).text or ""
        await settled(runtime)

    assert "monthly quota" in monthly and "1 July 2025, 00:00 UTC" in monthly
    assert creates(stt) == 2


async def test_usage_shows_the_day_the_month_the_resets_and_the_model(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    settings = settings_for(QUOTA_DAILY_SECONDS="600", QUOTA_MONTHLY_SECONDS="6000")
    async with running_bot(settings, clock=clock) as runtime:
        original = telegram.push_voice(CHAT, AUDIO, duration=90)["message_id"]
        await final_reply(telegram, CHAT, original)
        await settled(runtime)
        usage = await command(telegram, CHAT, "/usage")

    assert usage.text == (
        "Your usage\n\n"
        "Today: 1 min 30 s used of 10 min, 8 min 30 s left.\n"
        "Resets on 11 June 2025, 00:00 UTC (in 12 h).\n\n"
        "This month: 1 min 30 s used of 1 h 40 min, 1 h 38 min left.\n"
        "Resets on 1 July 2025, 00:00 UTC (in 20 d 12 h).\n\n"
        "Model: Whisper Large (#g1_whisper-large)"
    )


async def test_a_false_declared_duration_is_caught_before_the_api(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # The client says 1 s; the file holds a minute of Opus.
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="10")) as runtime:
        original = telegram.push_voice(CHAT, ogg_opus(60.0), duration=1)["message_id"]
        answer = await final_reply(telegram, CHAT, original)
        await settled(runtime)
        assert (await services(runtime).quota.status(CHAT)).day_used == 0.0

    assert answer.text == texts.failure("quota")
    assert creates(stt) == 0


async def test_documents_without_a_duration_are_estimated_then_measured(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="30")) as runtime:
        # 200 kB of MP3 we cannot measure: estimated at 50 s, over the 30 s quota.
        big = telegram.push_document(
            CHAT, AUDIO, file_name="talk.mp3", mime_type="audio/mpeg", file_size=200_000
        )["message_id"]
        refusal = (await final_reply(telegram, CHAT, big)).text or ""
        # 100 kB of Opus (estimated 25 s) that is 5 s long: admitted, then charged 5 s. (The
        # API's report bounds a measured duration from below; a two-word transcript reports
        # less than 5 s, so the measurement stands.)
        stt.transcript = "Short memo."
        opus = ogg_opus(5.0, pages=310)
        assert len(opus) > 100_000
        small = telegram.push_document(CHAT, opus, file_name="memo.ogg", mime_type="audio/ogg")[
            "message_id"
        ]
        answer = await final_reply(telegram, CHAT, small)
        await settled(runtime)
        assert (await services(runtime).quota.status(CHAT)).day_used == 5.0

    assert "It is 50 s long" in refusal
    assert answer.text == "Short memo."
    assert creates(stt) == 1


async def test_a_job_saved_without_a_reservation_reserves_when_resumed(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    """A crash between saving a job and reserving its seconds leaves a job with no
    reservation: resumed, it reserves before anything reaches the API, or fails if over."""
    settings = settings_for(QUOTA_DAILY_SECONDS="10")
    database = await Database.open(database_path)
    jobs = JobRepository(database)
    for chat_id, seconds in ((CHAT, 3), (OTHER, 20)):
        telegram.add_chat(chat_id, "private")
        stored = telegram.register_file(AUDIO, kind="voice")
        await jobs.insert(
            NewJob(
                dedupe_key=f"crashed:{chat_id}",
                chat_id=chat_id,
                chat_type="private",
                message_id=1,  # the original is gone from the fake: replies go without it
                user_id=chat_id,
                file_id=stored.file_id,
                file_unique_id=stored.file_unique_id,
                media_kind="voice",
                mime_type="audio/ogg",
                file_name=None,
                duration=float(seconds),
                file_size=len(AUDIO),
                model="#g1_whisper-large",
                language=None,
                options={},
            )
        )
    await database.close()

    async with running_bot(settings) as runtime:
        [ok] = await telegram.wait_for(lambda: telegram.messages(CHAT))
        [over] = await telegram.wait_for(lambda: telegram.messages(OTHER))
        await settled(runtime)
        quota = services(runtime).quota
        charged, refused = await quota.status(CHAT), await quota.status(OTHER)

    assert ok.text == stt.transcript and charged.day_used == 3.0
    assert over.text == texts.failure("quota") and refused.day_used == 0.0
    assert creates(stt) == 1
