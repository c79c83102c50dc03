"""A voice note becomes a transcript reply: the spine, end to end over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram

CHAT = 4242
AUDIO = b"OggS" + bytes(range(256)) * 8  # the fake API does not decode audio


async def transcript_reply(
    telegram: FakeTelegram,
    chat_id: int,
    original: int,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the wait, as in FakeTelegram.wait_for
) -> str:
    """Wait until the status message that replies to `original` shows a final text."""

    def final_text() -> str | None:
        for message in telegram.messages(chat_id):
            if message.reply_to == original and message.text not in (None, texts.TRANSCRIBING):
                return message.text
        return None

    text = await telegram.wait_for(
        final_text, timeout, what=f"a final reply to message {original}"
    )
    assert text is not None
    return text


PUSHERS: dict[str, Callable[[FakeTelegram], dict[str, Any]]] = {
    "voice": lambda t: t.push_voice(CHAT, AUDIO, duration=3),
    "audio": lambda t: t.push_audio(CHAT, AUDIO, file_name="talk.mp3", mime_type="audio/mpeg"),
    "video_note": lambda t: t.push_video_note(CHAT, AUDIO),
    "video": lambda t: t.push_video(CHAT, AUDIO, file_name="clip.mp4"),
    "audio_document": lambda t: t.push_document(
        CHAT, AUDIO, file_name="memo.m4a", mime_type="audio/mp4"
    ),
    "video_document": lambda t: t.push_document(
        CHAT, AUDIO, file_name="film.webm", mime_type="video/webm"
    ),
}

EXPECTED_UPLOAD = {
    "voice": ("voice.ogg", "audio/ogg"),
    "audio": ("talk.mp3", "audio/mpeg"),
    "video_note": ("video_note.mp4", "video/mp4"),
    "video": ("clip.mp4", "video/mp4"),
    "audio_document": ("memo.m4a", "audio/mp4"),
    "video_document": ("film.webm", "video/webm"),
}


@pytest.mark.parametrize("kind", list(PUSHERS))
async def test_each_media_type_is_transcribed(
    kind: str,
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = f"This is the {kind} transcript."
    async with running_bot(settings_for()):
        original = PUSHERS[kind](telegram)["message_id"]
        text = await transcript_reply(telegram, CHAT, original)

    assert text == f"This is the {kind} transcript."
    status = next(m for m in telegram.messages(CHAT) if m.reply_to == original)
    assert status.text_history[0] == texts.TRANSCRIBING  # answered at once, then edited
    [create] = stt.requests_to("create")
    # The bytes were uploaded: never a URL, which would carry the bot token.
    assert create.kind == "multipart" and "url" not in create.params
    assert create.audio is not None and create.audio.size == len(AUDIO)
    assert (create.audio.filename, create.audio.content_type) == EXPECTED_UPLOAD[kind]
    assert create.model == "#g1_whisper-large"
    # The status message shows the bot is working; a chat action would be a redundant call.
    assert not telegram.calls_to("sendChatAction")


async def test_notes_sent_together_share_one_status_and_a_later_note_gets_its_own(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.transcript = "Together."
    async with running_bot(settings_for()):
        together = [telegram.push_voice(CHAT, AUDIO)["message_id"] for _ in range(3)]
        for original in together:
            assert await transcript_reply(telegram, CHAT, original) == "Together."
        later = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, later) == "Together."

    def statuses(originals: list[int]) -> int:
        return sum(
            1
            for m in telegram.messages(CHAT)
            if m.reply_to in originals and m.text_history[:1] == [texts.TRANSCRIBING]
        )

    # The first note's status is on its way when the others start: it speaks for them all.
    assert statuses(together) == 1
    # Once it is done, the chat's count of statuses on their way is back to none.
    assert statuses([later]) == 1


async def test_commands_are_registered_and_answered(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        telegram.push_text(CHAT, "/start")
        telegram.push_text(CHAT, "/help")
        await telegram.wait_for(lambda: len(telegram.bot_texts(CHAT)) >= 2)
    names = {command["command"] for command in telegram.commands()}
    assert {"start", "help", "model", "language"} <= names
    start, help_text = telegram.bot_texts(CHAT)[:2]
    assert "voice" in start.lower()
    assert "/model" in help_text and "20 MB" in help_text


async def test_a_document_that_is_not_audio_gets_a_polite_reply(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        telegram.push_document(CHAT, b"%PDF-1.4", file_name="cv.pdf", mime_type="application/pdf")
        await telegram.wait_for(lambda: telegram.bot_texts(CHAT))
    assert telegram.bot_texts(CHAT) == [texts.UNSUPPORTED_FILE]
    assert not stt.requests


async def test_long_transcript_is_split_across_messages(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    words = [f"word{i}" for i in range(800)]  # about 6 000 characters: two messages
    stt.transcript = " ".join(words)
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await transcript_reply(telegram, CHAT, original)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(10)

    replies = [m for m in telegram.messages(CHAT) if m.reply_to == original]
    # The status message edited into the first part, one more message for the rest; a third
    # part would have made it a file (at most one send that cannot be repeated safely).
    assert len(replies) == 2
    assert all(m.text is not None and len(m.text) <= 4096 for m in replies)
    assert " ".join(m.text or "" for m in replies).split() == words


async def test_very_long_transcript_is_sent_as_a_file(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.transcript = " ".join(["lengthy"] * 4000)  # 32 000 characters: more than 4 messages
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        document = await telegram.wait_for(lambda: telegram.documents(CHAT))
    assert await transcript_reply(telegram, CHAT, original) == texts.SENT_AS_FILE
    assert document[0].filename == "transcript.txt"
    assert document[0].data.decode() == stt.transcript
    # A reply to the recording, like every part of an answer.
    [sent] = [m for m in telegram.messages(CHAT) if m.document is not None]
    assert sent.reply_to == original


async def test_empty_transcript_says_no_speech(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.transcript = ""
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.NO_SPEECH


async def test_error_status_is_reported(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.job_error = ("TranscriptionError", "upstream failed")
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.failure("api_error")


async def test_audio_the_api_cannot_decode_is_reported_as_unreadable(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.job_error = ("TranscriptionError", "Failed to decode the audio file")
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.failure("corrupt")


async def test_unauthorised_key_is_reported_without_retrying(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(AIMLAPI_KEY="wrong-key-0000000000")):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.failure("auth")
    assert len(stt.requests_to("create")) == 1


async def test_server_errors_are_retried(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.fail_next("create", 503)
    stt.fail_next("fetch", 500)
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
    assert [r.status for r in stt.requests_to("create")] == [503, 201]


async def test_persistent_server_errors_give_a_clear_failure(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.fail_next("create", 500, count=50)
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.failure("api_error")


async def test_out_of_credits_is_reported(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.fail_next("create", 403)
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        reply = await transcript_reply(telegram, CHAT, original)
    assert reply == texts.failure("out_of_credits")


async def test_corrupt_audio_is_reported(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.fail_next("create", 400, message="Body validation error! audio could not be decoded")
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, b"not audio at all")["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == texts.failure("corrupt")


async def test_oversize_file_is_refused_before_any_download(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        original = telegram.push_voice(CHAT, AUDIO, file_size=25_000_000)["message_id"]
        reply = await transcript_reply(telegram, CHAT, original)
    assert "25.0 MB" in reply and "20 MB" in reply
    assert not telegram.calls_to("getFile")
    assert not stt.requests


async def test_file_too_big_at_download_is_reported(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # A sender may declare no size; Telegram then refuses at getFile.
    async with running_bot(settings_for()):
        telegram.fail_next("getFile", 400, "Bad Request: file is too big")
        original = telegram.push_document(
            CHAT, AUDIO, file_name="long.mp3", mime_type="audio/mpeg"
        )["message_id"]
        reply = await transcript_reply(telegram, CHAT, original)
    assert reply == texts.failure("too_big")
    assert not stt.requests


async def test_flood_limit_from_telegram_is_honoured(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        telegram.fail_next("editMessageText", 429, retry_after=1)
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == stt.transcript
    edits = telegram.calls_to("editMessageText")
    assert [call.status for call in edits] == [429, 200]
    assert edits[1].time - edits[0].time >= 1.0


async def test_edits_and_channel_posts_do_not_start_jobs(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await transcript_reply(telegram, CHAT, original)
        telegram.push_edited_message(CHAT, original, caption="now with a caption")
        telegram.push_channel_post(-100777, "hello")
        telegram.push_text(CHAT, "/help")
        await telegram.wait_for(lambda: len(telegram.bot_texts(CHAT)) == 2)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(5)
    assert len(stt.requests_to("create")) == 1
