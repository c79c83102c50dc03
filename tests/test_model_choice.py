"""/model end to end: every model id reaches the API with its own parameters, the keyboard flow,
and the operator's ALLOWED_MODELS and DEFAULT_MODEL."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from bot.config.settings import SettingsError
from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt, Upload
from tests.fakes.telegram import FakeTelegram
from tests.flows import (
    ASSEMBLYAI_DEFAULTS,
    AUDIO,
    DEEPGRAM_DEFAULTS,
    buttons,
    command,
    creates_by_model,
    marked,
    tap,
    tap_edit,
    transcripts,
    voice_transcript,
)

NOVA2_ENGLISH = [
    f"#g1_nova-2-{v}"
    for v in (
        "automotive",
        "conversationalai",
        "drivethru",
        "finance",
        "medical",
        "meeting",
        "phonecall",
        "video",
        "voicemail",
    )
]
DETECTS = {"detect_language": "true"}
# What each of the 19 models must send with a user's default settings (language: auto).
EXPECTED_PARAMS: dict[str, Mapping[str, object]] = {
    "aai/slam-1": ASSEMBLYAI_DEFAULTS,  # English only: no detection parameter exists for it
    "aai/universal": {**ASSEMBLYAI_DEFAULTS, "language_detection": "true"},
    "#g1_nova-2-general": {**DEEPGRAM_DEFAULTS, **DETECTS},
    **{model: DEEPGRAM_DEFAULTS for model in NOVA2_ENGLISH},
    **{
        f"#g1_whisper-{size}": {**DEEPGRAM_DEFAULTS, **DETECTS}
        for size in ("tiny", "base", "small", "medium", "large")
    },
    "openai/gpt-4o-transcribe": {},
    "openai/gpt-4o-mini-transcribe": {},
}


def spoken(upload: Upload) -> str:
    return f"This was heard by {upload.model} today."


async def test_every_model_can_be_chosen_and_transcribes(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    assert len(EXPECTED_PARAMS) == 19
    stt.transcript = spoken
    # One private chat (one user) per model, all at once.
    chats = {model: 7000 + index for index, model in enumerate(EXPECTED_PARAMS)}
    async with running_bot(settings_for()) as runtime:
        confirmations = await asyncio.gather(
            *(command(telegram, chat, f"/model {model}") for model, chat in chats.items())
        )
        results = await asyncio.gather(
            *(voice_transcript(telegram, runtime, chat) for chat in chats.values())
        )

    creates = creates_by_model(stt)
    for (model, chat), confirmation, transcript in zip(
        chats.items(), confirmations, results, strict=True
    ):
        assert confirmation.text is not None and f"({model})" in confirmation.text
        assert confirmation.text.startswith("Model set to")
        [create] = creates[model]
        assert create.params == EXPECTED_PARAMS[model], model
        assert create.audio is not None and create.audio.size == len(AUDIO)
        # Each family's result shape came back as the same readable text.
        assert transcript.text == f"This was heard by {model} today.", model
        [(label, data)] = buttons(transcript)
        assert label == texts.REDO_BUTTON and data.startswith("redo:")
        assert transcript.chat_id == chat


async def test_model_keyboard_saves_the_choice_and_confirms(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 31
    async with running_bot(settings_for()) as runtime:
        menu = await command(telegram, chat, "/model")
        labels = [label for label, _ in buttons(menu)]
        assert labels[0] == "— AssemblyAI —" and "— OpenAI —" in labels
        assert len([d for _, d in buttons(menu) if d.startswith("model:")]) == 19
        assert marked(menu) == [texts.CURRENT_MARK + "Whisper Large"]  # DEFAULT_MODEL
        assert "Whisper Large (#g1_whisper-large)" in (menu.text or "")

        header = await tap(telegram, menu, "noop")
        assert "text" not in header  # a header only labels a group

        def edited() -> bool:
            return marked(telegram.message(chat, menu.message_id)) == [
                texts.CURRENT_MARK + "Universal"
            ]

        answer = await tap(telegram, menu, "model:aai/universal", until=edited)
        assert answer["text"] == "Model set to Universal (aai/universal)."
        menu = telegram.message(chat, menu.message_id)
        assert (menu.text or "").startswith("Model set to Universal (aai/universal).")

        # The same tap again edits to identical content: answered, and nothing breaks.
        same = await tap_edit(telegram, menu, "model:aai/universal")
        assert same.edit_status == 400 and same.answer["text"] == answer["text"]

        transcript = await voice_transcript(telegram, runtime, chat)

    assert [r.model for r in stt.requests_to("create")] == ["aai/universal"]
    assert transcript.text == stt.transcript
    assert texts.failure("internal") not in telegram.bot_texts(chat)


async def test_allowed_models_restrict_the_offer_and_unknown_ids_get_the_list(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 32
    settings = settings_for(
        ALLOWED_MODELS="aai/universal,openai/gpt-4o-transcribe",
        DEFAULT_MODEL="openai/gpt-4o-transcribe",
    )
    async with running_bot(settings):
        menu = await command(telegram, chat, "/model")
        refused = await command(telegram, chat, "/model #g1_whisper-large")
        typo = await command(telegram, chat, "/model gpt-5")
        await transcripts(telegram, chat, telegram.push_voice(chat, AUDIO)["message_id"])
        mixed_case = await command(telegram, chat, "/model AAI/Universal")

    assert [d for _, d in buttons(menu)] == [
        "noop",
        "model:aai/universal",
        "noop",
        "model:openai/gpt-4o-transcribe",
    ]
    assert marked(menu) == [texts.CURRENT_MARK + "GPT-4o Transcribe"]
    for reply, typed in ((refused, "#g1_whisper-large"), (typo, "gpt-5")):
        text = reply.text or ""
        assert f"“{typed}”" in text
        listed = text.split(":\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert listed == ["aai/universal", "openai/gpt-4o-transcribe"]
    # DEFAULT_MODEL applied until the user chose; the refused ids changed nothing.
    assert [r.model for r in stt.requests_to("create")] == ["openai/gpt-4o-transcribe"]
    assert (mixed_case.text or "").startswith("Model set to Universal")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ALLOWED_MODELS": "aai/universal, #g1_whisper-larg"}, "ALLOWED_MODELS"),
        ({"DEFAULT_MODEL": "whisper-large"}, "DEFAULT_MODEL"),
    ],
)
def test_mistyped_model_ids_stop_start_up(
    settings_for: SettingsFactory, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        settings_for(**overrides)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
