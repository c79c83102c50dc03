"""Access end to end: allowlist mode, bans, and flood control."""

from __future__ import annotations

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import command
from tests.metering_flows import (
    ADMIN,
    AUDIO,
    SLOW_JOB,
    creates,
    final_reply,
    services,
    settled,
)

ALLOWED = 111
STRANGER = 222
GROUP = -100500


async def test_allowlist_mode_refuses_strangers_once_with_their_id(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for(
        ACCESS_MODE="allowlist", ALLOWED_USER_IDS=str(ALLOWED), ADMIN_USER_IDS=str(ADMIN)
    )
    async with running_bot(settings) as runtime:
        allowed = telegram.push_voice(ALLOWED, AUDIO)["message_id"]
        assert (await final_reply(telegram, ALLOWED, allowed)).text == stt.transcript

        first = telegram.push_voice(STRANGER, AUDIO)["message_id"]
        refusal = await final_reply(telegram, STRANGER, first)
        telegram.push_voice(STRANGER, AUDIO)
        await settled(runtime)
        assert len(telegram.messages(STRANGER)) == 1  # told once, not at every message

        # An admin lets them in; then /deny takes it back.
        await command(telegram, ADMIN, f"/allow {STRANGER}")
        admitted = telegram.push_voice(STRANGER, AUDIO)["message_id"]
        assert (await final_reply(telegram, STRANGER, admitted)).text == stt.transcript
        denied = await command(telegram, ADMIN, f"/deny {STRANGER}")
        telegram.push_voice(STRANGER, AUDIO)
        await settled(runtime)

    assert refusal.text == texts.ACCESS_REFUSED_PRIVATE.format(user_id=STRANGER)
    assert denied.text == texts.ADMIN_DENIED.format(subject_id=STRANGER)
    assert creates(stt) == 2


async def test_an_allowed_group_is_open_to_its_members_and_others_are_told_in_the_group(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for(ACCESS_MODE="allowlist", ALLOWED_CHAT_IDS=str(GROUP))
    async with running_bot(settings) as runtime:
        inside = telegram.push_voice(GROUP, AUDIO, user=STRANGER)["message_id"]
        assert (await final_reply(telegram, GROUP, inside)).text == stt.transcript
        other_group = -100600
        outside = telegram.push_voice(other_group, AUDIO, user=STRANGER)["message_id"]
        refusal = await final_reply(telegram, other_group, outside)
        await settled(runtime)

    assert refusal.text == texts.ACCESS_REFUSED_GROUP.format(
        chat_id=other_group,
        user_part=texts.ACCESS_REFUSED_GROUP_USER.format(user_id=STRANGER),
    )
    assert creates(stt) == 1


async def test_banned_users_are_ignored_until_unbanned(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(ADMIN_USER_IDS=str(ADMIN))) as runtime:
        banned = await command(telegram, ADMIN, f"/ban {STRANGER}")
        telegram.push_voice(STRANGER, AUDIO)
        telegram.push_text(STRANGER, "/start")
        telegram.push_text(STRANGER, "hello?")
        await settled(runtime)
        assert telegram.messages(STRANGER) == []
        assert creates(stt) == 0
        assert await services(runtime).users.get(STRANGER) is None  # not even recorded

        await command(telegram, ADMIN, f"/unban {STRANGER}")
        start = await command(telegram, STRANGER, "/start")

    assert banned.text == texts.ADMIN_BANNED.format(subject_id=STRANGER)
    assert start.text == texts.START


async def test_admins_cannot_be_banned(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(ADMIN_USER_IDS=str(ADMIN))):
        await command(telegram, ADMIN, f"/ban {ADMIN}")
        stats = await command(telegram, ADMIN, "/stats")
    assert (stats.text or "").startswith("Users:")


async def test_jobs_in_flight_are_capped_per_user(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.delay = SLOW_JOB
    async with running_bot(settings_for(MAX_JOBS_IN_FLIGHT="1")) as runtime:
        running = telegram.push_voice(STRANGER, AUDIO)["message_id"]
        await telegram.wait_for(lambda: creates(stt) == 1)
        second = telegram.push_voice(STRANGER, AUDIO)["message_id"]
        refusal = await final_reply(telegram, STRANGER, second)
        other_user = telegram.push_voice(ALLOWED, AUDIO)["message_id"]  # others are not held up
        assert (await final_reply(telegram, ALLOWED, other_user)).text == stt.transcript
        assert (await final_reply(telegram, STRANGER, running)).text == stt.transcript
        await settled(runtime)

    assert refusal.text == (
        "You already have 1 recording being transcribed. Please send this one again when it "
        "is done."
    )
    assert creates(stt) == 2


async def test_jobs_per_minute_are_capped_per_user(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(MAX_JOBS_PER_MINUTE="2")) as runtime:
        for _ in range(2):
            original = telegram.push_voice(STRANGER, AUDIO)["message_id"]
            assert (await final_reply(telegram, STRANGER, original)).text == stt.transcript
        third = telegram.push_voice(STRANGER, AUDIO)["message_id"]
        refusal = await final_reply(telegram, STRANGER, third)
        await settled(runtime)

    assert (refusal.text or "").startswith("That is more than 2 recordings in a minute.")
    assert creates(stt) == 2
