"""Groups end to end: modes, administrator checks, requests by reply, and who pays.

Each test uses few messages per group: the rate limiter allows bots 20 a minute in a group.
"""

from __future__ import annotations

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import GROUP_ANONYMOUS_BOT, FakeTelegram
from tests.flows import command
from tests.metering_flows import AUDIO, creates, final_reply, services, settled

GROUP = -100123
MEMBER = 1001
GROUP_ADMIN = 1002
ASKER = 1003


def mention_reply(telegram: FakeTelegram, chat_id: int, reply_to: int, *, user: int) -> int:
    name = f"@{telegram.bot_user['username']}"
    text = f"{name} what does it say?"
    content = {"text": text, "entities": [{"type": "mention", "offset": 0, "length": len(name)}]}
    return int(telegram.push_message(chat_id, content, user=user, reply_to=reply_to)["message_id"])


async def test_auto_mode_transcribes_group_voice_notes_and_charges_the_sender(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        voice = telegram.push_voice(GROUP, AUDIO, duration=4, user=MEMBER)["message_id"]
        video_note = telegram.push_video_note(GROUP, AUDIO, duration=5, user=MEMBER)["message_id"]
        forwarded = telegram.push_voice(GROUP, AUDIO, duration=6, user=ASKER, forward_from=4242)[
            "message_id"
        ]
        for original in (voice, video_note, forwarded):
            assert (await final_reply(telegram, GROUP, original)).text == stt.transcript
        await settled(runtime)
        quota = services(runtime).quota
        member, asker = await quota.status(MEMBER), await quota.status(ASKER)

    assert (member.day_used, asker.day_used) == (9.0, 6.0)
    assert creates(stt) == 3


async def test_the_bot_ignores_its_own_and_other_bots_messages_edits_and_channel_posts(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        telegram.push_voice(GROUP, AUDIO, user=telegram.bot_user)
        other_bot = {"id": 5555, "is_bot": True, "first_name": "Other", "username": "other_bot"}
        telegram.push_voice(GROUP, AUDIO, user=other_bot)
        voice = telegram.push_voice(GROUP, AUDIO, user=MEMBER)
        await final_reply(telegram, GROUP, voice["message_id"])
        telegram.push_edited_message(GROUP, voice["message_id"], caption="edited")
        channel = -100777
        telegram.add_chat(channel, "channel")
        telegram.push_message(channel, {"voice": voice["voice"]})
        await settled(runtime)

    assert creates(stt) == 1
    assert telegram.messages(channel) == []


async def test_anonymous_admins_are_charged_to_the_group_and_may_set_the_mode(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        # Telegram's way: `from` is the GroupAnonymousBot placeholder, sender_chat the group.
        anonymous = telegram.push_voice(
            GROUP, AUDIO, duration=7, user=GROUP_ANONYMOUS_BOT, sender_chat=GROUP
        )["message_id"]
        # The fake's other way: no `from` at all.
        no_from = telegram.push_voice(GROUP, AUDIO, duration=2, user=None, sender_chat=GROUP)[
            "message_id"
        ]
        for original in (anonymous, no_from):
            assert (await final_reply(telegram, GROUP, original)).text == stt.transcript
        await settled(runtime)
        group_usage = await services(runtime).quota.status(GROUP)
        placeholder_usage = await services(runtime).quota.status(GROUP_ANONYMOUS_BOT["id"])
        telegram.push_text(GROUP, "/groupmode off", user=GROUP_ANONYMOUS_BOT, sender_chat=GROUP)
        await telegram.wait_for(
            lambda: texts.GROUP_MODE_SET.split(".")[0] in str(telegram.bot_texts(GROUP))
        )
        mode = await services(runtime).groups.mode(GROUP)

    assert group_usage.day_used == 9.0
    assert placeholder_usage.day_used == 0.0
    assert mode == "off"
    assert not telegram.calls_to("getChatMember")  # an anonymous admin needs no check


async def test_only_group_administrators_change_the_mode(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.set_chat_admins(GROUP, [GROUP_ADMIN])
    async with running_bot(settings_for()) as runtime:
        refused = await command(telegram, GROUP, "/groupmode mention", user=MEMBER)
        unchanged = await services(runtime).groups.mode(GROUP)
        changed = await command(telegram, GROUP, "/groupmode mention", user=GROUP_ADMIN)
        shown = await command(telegram, GROUP, "/groupmode", user=MEMBER)
        private = await command(telegram, MEMBER, "/groupmode off")

    assert refused.text == texts.GROUP_MODE_NOT_ADMIN and unchanged == "auto"
    assert changed.text == texts.GROUP_MODE_SET.format(mode=texts.GROUP_MODE_NAMES["mention"])
    assert shown.text == texts.GROUP_MODES_HELP.format(mode=texts.GROUP_MODE_NAMES["mention"])
    assert private.text == texts.GROUP_MODE_PRIVATE
    checked = {call.params["user_id"] for call in telegram.calls_to("getChatMember")}
    assert checked == {MEMBER, GROUP_ADMIN}


async def test_mention_mode_transcribes_only_what_someone_asks_for_and_charges_the_asker(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.set_chat_admins(GROUP, [GROUP_ADMIN])
    async with running_bot(settings_for()) as runtime:
        await command(telegram, GROUP, "/groupmode mention", user=GROUP_ADMIN)
        first = telegram.push_voice(GROUP, AUDIO, duration=4, user=MEMBER)["message_id"]
        second = telegram.push_voice(GROUP, AUDIO, duration=5, user=MEMBER)["message_id"]
        await settled(runtime)
        assert creates(stt) == 0

        telegram.push_text(GROUP, "/transcribe", user=ASKER, reply_to=first)
        assert (await final_reply(telegram, GROUP, first)).text == stt.transcript
        mention_reply(telegram, GROUP, second, user=ASKER)
        assert (await final_reply(telegram, GROUP, second)).text == stt.transcript
        hint = await command(telegram, GROUP, "/transcribe", user=ASKER)
        await settled(runtime)
        quota = services(runtime).quota
        asker, member = await quota.status(ASKER), await quota.status(MEMBER)

    assert hint.text == texts.TRANSCRIBE_HINT
    assert (asker.day_used, member.day_used) == (9.0, 0.0)
    assert creates(stt) == 2


async def test_off_mode_transcribes_nothing(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.set_chat_admins(GROUP, [GROUP_ADMIN])
    async with running_bot(settings_for()) as runtime:
        await command(telegram, GROUP, "/groupmode off", user=GROUP_ADMIN)
        voice = telegram.push_voice(GROUP, AUDIO, user=MEMBER)["message_id"]
        await settled(runtime)
        ask = telegram.push_text(GROUP, "/transcribe", user=ASKER, reply_to=voice)
        refusal = await final_reply(telegram, GROUP, ask["message_id"])
        await settled(runtime)

    assert refusal.text == texts.GROUP_OFF
    assert creates(stt) == 0


async def test_auto_mode_warns_when_the_bot_cannot_see_group_messages(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    bot_id = telegram.bot_user["id"]
    telegram.set_chat_admins(GROUP, [GROUP_ADMIN])
    telegram.can_read_all_group_messages = False  # privacy mode on: BotFather's default
    async with running_bot(settings_for()):
        blind = await command(telegram, GROUP, "/groupmode auto", user=GROUP_ADMIN)
        telegram.set_chat_admins(GROUP, [bot_id])  # an admin bot sees everything
        as_admin = await command(telegram, GROUP, "/groupmode auto", user=GROUP_ADMIN)
        telegram.set_member_status(GROUP, bot_id, "member")
        telegram.can_read_all_group_messages = True  # privacy mode turned off
        privacy_off = await command(telegram, GROUP, "/groupmode auto", user=GROUP_ADMIN)

    done = texts.GROUP_MODE_SET.format(mode=texts.GROUP_MODE_NAMES["auto"])
    assert blind.text == done + texts.GROUP_MODE_BLIND
    assert as_admin.text == done
    assert privacy_off.text == done
