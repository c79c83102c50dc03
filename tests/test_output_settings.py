"""/settings end to end: each toggle is stored and shows in the delivered transcript, for the
families that return the data, and the settings text names the families that do not."""

from __future__ import annotations

from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import ChatMessage, FakeTelegram
from tests.flows import buttons, command, tap_edit, voice_transcript

SPOKEN = "Hello there. General Kenobi."


def label_of(message: ChatMessage, data: str) -> str:
    return next(label for label, d in buttons(message) if d == data)


async def test_toggles_shape_the_transcript_and_its_files(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 51
    stt.transcript = SPOKEN
    async with running_bot(settings_for()) as runtime:
        menu = await command(telegram, chat, "/settings")
        plain = await voice_transcript(telegram, runtime, chat)

        for data, label in [
            ("set:timestamps", "✅ Timestamps"),
            ("set:speakers", "✅ Speaker labels"),
            ("set:show_language", "✅ Show the language"),
            ("set:attach:srt", texts.CURRENT_MARK + ".srt file"),
        ]:
            tapped = await tap_edit(telegram, menu, data)
            assert tapped.answer["text"] == texts.SETTINGS_SAVED
            assert tapped.edit_status == 200
            menu = tapped.message
            assert label_of(menu, data) == label
        dressed = await voice_transcript(telegram, runtime, chat)

        menu = (await tap_edit(telegram, menu, "set:attach:txt")).message
        # Choosing the file already chosen asks for an identical edit: answered, no harm done.
        again = await tap_edit(telegram, menu, "set:attach:txt")
        assert again.edit_status == 400 and again.answer["text"] == texts.SETTINGS_SAVED
        with_txt = await voice_transcript(telegram, runtime, chat)

    assert label_of(again.message, "set:attach:txt") == texts.CURRENT_MARK + ".txt file"
    assert plain.text == SPOKEN
    assert dressed.text == f"[00:00] Speaker 1: {SPOKEN}\n\nLanguage: en"
    assert with_txt.text == dressed.text
    first, second, third = stt.requests_to("create")
    assert "diarize" not in first.params
    assert second.params["diarize"] == third.params["diarize"] == "true"
    srt_file, txt_file = telegram.documents(chat)
    assert srt_file.filename == "transcript.srt"
    # The fake Deepgram puts the whole text in one paragraph, four 0.4 s words 0.1 s apart.
    assert srt_file.data.decode() == f"1\n00:00:00,000 --> 00:00:01,900\n{SPOKEN}\n"
    assert txt_file.filename == "transcript.txt"
    assert txt_file.data.decode() == f"{dressed.text}\n"
    # "Try another model" sits on the last message of a delivery: here the file.
    documents = [m for m in telegram.messages(chat) if m.document is not None]
    assert [buttons(d)[0][0] for d in documents] == [texts.REDO_BUTTON] * 2
    assert dressed.reply_markup is None
    assert texts.failure("internal") not in telegram.bot_texts(chat)


async def test_assemblyai_labels_speakers_and_reports_the_language(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 52
    stt.transcript = SPOKEN
    async with running_bot(settings_for()) as runtime:
        await command(telegram, chat, "/model aai/universal")
        menu = await command(telegram, chat, "/settings")
        menu = (await tap_edit(telegram, menu, "set:speakers")).message
        menu = (await tap_edit(telegram, menu, "set:show_language")).message
        transcript = await voice_transcript(telegram, runtime, chat)

    [create] = stt.requests_to("create")
    assert create.params["speaker_labels"] == "true"
    assert transcript.text == f"Speaker 1: {SPOKEN}\n\nLanguage: en"


async def test_gpt4o_has_no_timings_so_no_timestamps_and_no_srt(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 53
    stt.transcript = SPOKEN
    async with running_bot(settings_for()) as runtime:
        await command(telegram, chat, "/model openai/gpt-4o-mini-transcribe")
        menu = await command(telegram, chat, "/settings")
        for data in ("set:timestamps", "set:speakers", "set:show_language", "set:attach:srt"):
            menu = (await tap_edit(telegram, menu, data)).message
        transcript = await voice_transcript(telegram, runtime, chat)

    assert [label for label, _ in buttons(menu)][:3] == [
        "✅ Timestamps",
        "✅ Speaker labels",
        "✅ Show the language",
    ]
    [create] = stt.requests_to("create")
    assert create.params == {}  # GPT-4o has no diarization parameter
    assert transcript.text == SPOKEN  # readable plain text, nothing it cannot back up
    assert telegram.documents(chat) == []
    # The settings say why, once.
    limits = (menu.text or "").split(texts.SETTINGS_LIMITS, 1)[1]
    assert limits.count("OpenAI GPT-4o") == 1
    assert texts.MISSING_TIMINGS in limits and texts.MISSING_SPEAKERS in limits
