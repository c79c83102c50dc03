"""Admin commands end to end, their silence for everyone else, and /forget."""

from __future__ import annotations

import re

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import buttons, command, tap
from tests.metering_flows import ADMIN, AUDIO, creates, final_reply, services, settled

USER = 222
OTHER = 333
GROUP = -100900
MODEL = "#g1_whisper-large"


async def test_stats_counts_users_jobs_seconds_failures_and_models(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    settings = settings_for(ADMIN_USER_IDS=str(ADMIN), QUOTA_DAILY_SECONDS="60")
    async with running_bot(settings, clock=clock) as runtime:
        done = telegram.push_voice(USER, AUDIO, duration=3, file_unique_id="talk")["message_id"]
        await final_reply(telegram, USER, done)
        forwarded = telegram.push_voice(
            USER, AUDIO, duration=3, file_unique_id="talk", forward_from=OTHER
        )["message_id"]
        await final_reply(telegram, USER, forwarded)
        stt.job_error = ("failed", "boom")
        failed = telegram.push_voice(USER, AUDIO, duration=4)["message_id"]
        await final_reply(telegram, USER, failed)
        refused = telegram.push_voice(USER, AUDIO, duration=61)["message_id"]
        await final_reply(telegram, USER, refused)
        await settled(runtime)
        today = await command(telegram, ADMIN, "/stats")
        clock.advance(days=1)
        tomorrow = await command(telegram, ADMIN, "/stats")

    lines = (today.text or "").splitlines()
    assert lines[0] == "Users: 2 (2 active today)"
    assert lines[1] == "Jobs: 1 today, 1 in total"
    assert re.fullmatch(r"Audio: [\d.]+ s today, [\d.]+ s in total", lines[2])
    assert lines[3] == "Failures: 1 today, 1 in total"
    assert lines[4] == "Refused (quota or flood): 1 today, 1 in total"
    assert lines[5] == "Answered from the cache: 1 today, 1 in total"
    assert re.fullmatch(rf"• {MODEL}: 1 job, [\d.]+ s, 1 from the cache", lines[-1])
    later = (tomorrow.text or "").splitlines()
    assert later[0] == "Users: 2 (1 active today)"  # only the admin wrote since midnight
    assert later[1] == "Jobs: 0 today, 1 in total"


async def test_user_quota_and_the_rules(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    settings = settings_for(ADMIN_USER_IDS=str(ADMIN), QUOTA_DAILY_SECONDS="1800")
    async with running_bot(settings, clock=clock) as runtime:
        original = telegram.push_voice(USER, AUDIO, duration=3)["message_id"]
        await final_reply(telegram, USER, original)
        await settled(runtime)
        report = await command(telegram, ADMIN, f"/user {USER}")
        unknown = await command(telegram, ADMIN, "/user 404")
        bad = await command(telegram, ADMIN, "/user abc")

        set_daily = await command(telegram, ADMIN, f"/quota {USER} 5")
        over = telegram.push_voice(USER, AUDIO, duration=3)["message_id"]
        refusal = await final_reply(telegram, USER, over)
        both = await command(telegram, ADMIN, f"/quota {USER} 0 600")
        daily_back = await command(telegram, ADMIN, f"/quota {USER} default")
        negative = await command(telegram, ADMIN, f"/quota {USER} -1")
        chat_quota = await command(telegram, ADMIN, f"/quota {GROUP} 60 default")
        after = await command(telegram, ADMIN, f"/user {USER}")

    assert (report.text or "").splitlines() == [
        f"User {USER}",
        f"Name: User {USER}",
        f"Username: @user{USER}",
        "Language: en",
        "First seen: 2025-06-10 12:00 UTC",
        "Last seen: 2025-06-10 12:00 UTC",
        "Status: normal",
        "",
        "Today: 3 s of 30 min",
        "This month: 3 s of 5 h",
        "Quota override: daily default, monthly default",
        "",
        "Totals: 1 job, 3 s, 0 from the cache",
        f"• {MODEL}: 1 job, 3 s",
    ]
    assert unknown.text == texts.ADMIN_USER_UNKNOWN.format(user_id=404)
    assert bad.text == texts.ADMIN_USAGE["user"]
    assert set_daily.text == f"Quota for {USER}: daily 5 s, monthly default."
    assert "You have used 3 s of 5 s" in (refusal.text or "")
    assert both.text == f"Quota for {USER}: daily unlimited, monthly 10 min."
    assert daily_back.text == f"Quota for {USER}: daily default, monthly 10 min."
    assert negative.text == texts.ADMIN_USAGE["quota"]
    assert chat_quota.text == f"Quota for {GROUP}: daily 1 min, monthly default."
    assert "Quota override: daily default, monthly 10 min" in (after.text or "")
    assert creates(stt) == 1


async def test_admin_commands_answer_others_like_an_unknown_command(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(ADMIN_USER_IDS=str(ADMIN))) as runtime:
        telegram.push_text(USER, "/nosuchcommand")
        await settled(runtime)
        unknown_answer = [m.text for m in telegram.messages(USER)]
        for text in ("/stats", f"/user {ADMIN}", f"/quota {USER} 0", f"/ban {ADMIN}"):
            telegram.push_text(USER, text)
        for text in (f"/unban {USER}", f"/allow {USER}", f"/deny {ADMIN}"):
            telegram.push_text(USER, text)
        # Not in a group either, even from an admin: a report would show users' data to all.
        telegram.push_text(GROUP, "/stats", user=ADMIN)
        await settled(runtime)
        rule = await services(runtime).access.rule(ADMIN)
        allowed = await services(runtime).access.rule(USER)

    assert [m.text for m in telegram.messages(USER)] == unknown_answer
    assert telegram.messages(GROUP) == []
    assert not rule.banned and allowed.allowed is None


async def test_forget_deletes_the_record_after_confirmation_but_not_the_quota(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="3")) as runtime:
        svc = services(runtime)
        original = telegram.push_voice(USER, AUDIO, duration=3)["message_id"]
        await final_reply(telegram, USER, original)
        await settled(runtime)
        await svc.preferences.set_language(USER, "de")
        assert await svc.users.get(USER) is not None

        confirm = await command(telegram, USER, "/forget")
        assert confirm.text == texts.FORGET_CONFIRM
        assert buttons(confirm) == [
            (texts.FORGET_YES, f"forget:yes:{USER}"),
            (texts.FORGET_NO, f"forget:no:{USER}"),
        ]
        # Someone else pressing the button deletes nothing.
        answer = await tap(telegram, confirm, f"forget:yes:{USER}", user=OTHER)
        assert answer.get("text") == texts.FORGET_NOT_YOURS
        assert await svc.users.get(USER) is not None

        await tap(
            telegram,
            confirm,
            f"forget:yes:{USER}",
            until=lambda: telegram.message(USER, confirm.message_id).text == texts.FORGET_DONE,
        )
        assert await svc.users.get(USER) is None
        assert (await svc.preferences.stored(USER)).language is None
        assert await svc.admin.user(USER) is not None  # only the anonymous usage remains
        assert (await svc.quota.status(USER)).day_used == 3.0

        again = telegram.push_voice(USER, AUDIO, duration=3)["message_id"]
        refusal = await final_reply(telegram, USER, again)

    assert "You have used 3 s of 3 s" in (refusal.text or "")
    assert creates(stt) == 1


async def test_forget_can_be_cancelled(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        confirm = await command(telegram, USER, "/forget")
        await tap(
            telegram,
            confirm,
            f"forget:no:{USER}",
            until=lambda: telegram.message(USER, confirm.message_id).text == texts.FORGET_CANCELLED,
        )
        assert await services(runtime).users.get(USER) is not None
