"""Never pay twice for the same audio: the transcript cache end to end."""

from __future__ import annotations

from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import AUDIO, creates, final_reply, services, settled

CHAT = 4242
FRIEND = 5151
FILE = "same-voice-note"


async def test_a_forwarded_voice_note_is_answered_from_the_cache_for_free(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        first = telegram.push_voice(CHAT, AUDIO, duration=30, file_unique_id=FILE)["message_id"]
        await final_reply(telegram, CHAT, first)
        await settled(runtime)
        first_text = stt.transcript
        stt.transcript = "A different answer: the API must not be asked again."
        # Another user forwards the same note: a new file_id, the same file_unique_id.
        forwarded = telegram.push_voice(
            FRIEND, AUDIO, duration=30, file_unique_id=FILE, forward_from=CHAT
        )["message_id"]
        answer = await final_reply(telegram, FRIEND, forwarded)
        await settled(runtime)
        friend_usage = await services(runtime).quota.status(FRIEND)

    assert creates(stt) == 1
    assert answer.text == first_text
    assert answer.text_history == []  # answered at once: no "Transcribing…" first
    assert friend_usage.day_used == 0.0


async def test_another_language_or_an_expired_entry_is_a_miss(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    async with running_bot(settings_for(CACHE_TTL_HOURS="24"), clock=clock) as runtime:
        first = telegram.push_voice(CHAT, AUDIO, file_unique_id=FILE)["message_id"]
        await final_reply(telegram, CHAT, first)
        await settled(runtime)
        await services(runtime).preferences.set_language(FRIEND, "de")
        german = telegram.push_voice(FRIEND, AUDIO, file_unique_id=FILE)["message_id"]
        await final_reply(telegram, FRIEND, german)
        await settled(runtime)
        assert creates(stt) == 2

        clock.advance(hours=23, minutes=59)
        cached = telegram.push_voice(CHAT, AUDIO, file_unique_id=FILE)["message_id"]
        await final_reply(telegram, CHAT, cached)
        await settled(runtime)
        assert creates(stt) == 2

        clock.advance(minutes=2)  # the entry is now older than CACHE_TTL_HOURS
        expired = telegram.push_voice(CHAT, AUDIO, file_unique_id=FILE)["message_id"]
        await final_reply(telegram, CHAT, expired)
        await settled(runtime)
        assert creates(stt) == 3


async def test_a_zero_ttl_turns_the_cache_off(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(CACHE_TTL_HOURS="0")) as runtime:
        for _ in range(2):
            original = telegram.push_voice(CHAT, AUDIO, file_unique_id=FILE)["message_id"]
            await final_reply(telegram, CHAT, original)
            await settled(runtime)
    assert creates(stt) == 2
