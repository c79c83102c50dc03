"""Redo ("Try another model") end to end: the button under a transcript opens the model keyboard,
and a model chosen there transcribes the same recording again, from its stored file_id."""

from __future__ import annotations

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt, Upload
from tests.fakes.telegram import FakeTelegram
from tests.flows import (
    AUDIO,
    buttons,
    idle,
    marked,
    replies_to,
    tap,
    tap_edit,
    transcripts,
)

GROUP = -100500
OWNER = 61
STRANGER = 62


def spoken(upload: Upload) -> str:
    return f"Heard by {upload.model}."


async def test_redo_transcribes_the_same_recording_again_with_another_model(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = OWNER
    stt.transcript = spoken
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(chat, AUDIO)["message_id"]
        [first] = await transcripts(telegram, chat, original)
        await idle(runtime)
        first = telegram.message(chat, first.message_id)
        [(label, redo)] = buttons(first)
        assert label == texts.REDO_BUTTON

        answer = await tap(
            telegram, first, redo, until=lambda: replies_to(telegram, chat, first.message_id)
        )
        assert "show_alert" not in answer
        [menu] = replies_to(telegram, chat, first.message_id)
        job_id = redo.removeprefix("redo:")
        assert marked(menu) == [texts.CURRENT_MARK + "Whisper Large"]
        assert f"redo:{job_id}:aai/universal" in [d for _, d in buttons(menu)]
        assert menu.text == texts.REDO_MENU.format(model="Whisper Large")

        started = await tap_edit(telegram, menu, f"redo:{job_id}:aai/universal")
        assert started.message.text == texts.REDO_STARTED.format(model="Universal")
        assert started.message.reply_markup is None
        _, second = await transcripts(telegram, chat, original, count=2)
        await idle(runtime)

        # The same model again is the same request: not a second job.
        menu_again = await tap(
            telegram,
            first,
            redo,
            until=lambda: len(replies_to(telegram, chat, first.message_id)) > 1,
        )
        assert "show_alert" not in menu_again
        menu2 = replies_to(telegram, chat, first.message_id)[-1]
        duplicate = await tap_edit(telegram, menu2, f"redo:{job_id}:aai/universal")

    assert first.text == "Heard by #g1_whisper-large."
    assert second.text == "Heard by aai/universal."
    assert second.reply_to == original  # answers the recording, not the menu
    whisper, universal = stt.requests_to("create")
    assert (whisper.model, universal.model) == ("#g1_whisper-large", "aai/universal")
    assert universal.audio is not None and universal.audio.size == len(AUDIO)
    assert universal.params["language_detection"] == "true"
    # Twice downloaded from Telegram by the same file_id.
    file_ids = {call.params["file_id"] for call in telegram.calls_to("getFile")}
    assert len(telegram.calls_to("getFile")) == 2 and len(file_ids) == 1
    [(_, second_redo)] = buttons(telegram.message(chat, second.message_id))
    assert second_redo != redo and second_redo.startswith("redo:")
    assert duplicate.message.text == texts.REDO_DUPLICATE.format(model="Universal")
    assert len(stt.requests_to("create")) == 2


async def test_only_the_sender_may_redo_in_a_group(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.add_chat(GROUP, "supergroup", title="Team")
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(GROUP, AUDIO, user=OWNER)["message_id"]
        [transcript] = await transcripts(telegram, GROUP, original)
        await idle(runtime)
        transcript = telegram.message(GROUP, transcript.message_id)
        [(_, redo)] = buttons(transcript)

        refused = await tap(telegram, transcript, redo, user=STRANGER)
        job_id = redo.removeprefix("redo:")
        allowed = await tap(
            telegram,
            transcript,
            redo,
            user=OWNER,
            until=lambda: replies_to(telegram, GROUP, transcript.message_id),
        )
        [menu] = replies_to(telegram, GROUP, transcript.message_id)
        # A stranger's tap on the owner's model keyboard is refused as well.
        stolen = await tap(telegram, menu, f"redo:{job_id}:aai/slam-1", user=STRANGER)

    assert refused == {"text": texts.REDO_REFUSALS["not_yours"], "show_alert": True}
    assert stolen == {"text": texts.REDO_REFUSALS["not_yours"], "show_alert": True}
    assert "show_alert" not in allowed
    assert len(stt.requests_to("create")) == 1
    assert menu.reply_markup is not None


async def test_a_legacy_again_button_still_opens_the_redo_menu(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    """Buttons sent before the feature was renamed carry "again:<job id>" and stay in chats."""
    chat = OWNER
    async with running_bot(settings_for()) as runtime:
        original = telegram.push_voice(chat, AUDIO)["message_id"]
        [transcript] = await transcripts(telegram, chat, original)
        await idle(runtime)
        [(_, redo)] = buttons(telegram.message(chat, transcript.message_id))
        legacy = "again:" + redo.removeprefix("redo:")
        query = telegram.push_callback_query(chat, transcript.message_id, legacy)
        await telegram.wait_for(
            lambda: replies_to(telegram, chat, transcript.message_id), what="the redo menu"
        )
        [menu] = replies_to(telegram, chat, transcript.message_id)

    assert "show_alert" not in telegram.callback_answers[query["id"]]
    assert menu.text == texts.REDO_MENU.format(model="Whisper Large")
    assert f"{redo}:aai/universal" in [d for _, d in buttons(menu)]
