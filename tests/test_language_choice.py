"""/language end to end: the code is mapped to each family's parameter, a choice a model cannot
honour is warned about and falls back, and the keyboard and typed codes both work."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bot.app import BotRuntime
from bot.presentation import texts
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import (
    ASSEMBLYAI_DEFAULTS,
    DEEPGRAM_DEFAULTS,
    buttons,
    command,
    creates_by_model,
    marked,
    tap,
    voice_transcript,
)


@dataclass(frozen=True)
class Case:
    model: str
    language: str  # as typed after /language
    params: Mapping[str, object]  # the create request's fields
    warned: bool = False  # the model cannot honour the language


CASES = [
    Case("#g1_nova-2-general", "de", {**DEEPGRAM_DEFAULTS, "language": "de"}),
    # Nova-2 knows no Arabic: a warning, then detection instead of a failed job.
    Case("#g1_nova-2-general", "ar", {**DEEPGRAM_DEFAULTS, "detect_language": "true"}, True),
    Case("#g1_whisper-large", "pt-BR", {**DEEPGRAM_DEFAULTS, "language": "pt-BR"}),
    Case("#g1_whisper-tiny", "auto", {**DEEPGRAM_DEFAULTS, "detect_language": "true"}),
    Case("#g1_nova-2-medical", "fr", DEEPGRAM_DEFAULTS, True),  # English only
    Case("#g1_nova-2-meeting", "en", DEEPGRAM_DEFAULTS),
    Case("aai/universal", "de", {**ASSEMBLYAI_DEFAULTS, "language_code": "de"}),
    Case("aai/universal", "en-GB", {**ASSEMBLYAI_DEFAULTS, "language_code": "en_uk"}),
    Case("aai/universal", "auto", {**ASSEMBLYAI_DEFAULTS, "language_detection": "true"}),
    # Slam-1 is English only and has no detection: the field is left out, never a failed job.
    Case("aai/slam-1", "es", ASSEMBLYAI_DEFAULTS, True),
    Case("openai/gpt-4o-transcribe", "pt-BR", {"language": "pt"}),
    Case("openai/gpt-4o-mini-transcribe", "auto", {}),
]


async def run_case(
    telegram: FakeTelegram, runtime: BotRuntime, chat: int, case: Case
) -> tuple[str, str, str]:
    set_language = await command(telegram, chat, f"/language {case.language}")
    set_model = await command(telegram, chat, f"/model {case.model}")
    transcript = await voice_transcript(telegram, runtime, chat)
    return set_language.text or "", set_model.text or "", transcript.text or ""


async def test_language_reaches_each_family_as_its_own_parameter(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.transcript = "Eins zwei drei."
    async with running_bot(settings_for()) as runtime:
        outcomes = await asyncio.gather(
            *(run_case(telegram, runtime, 8000 + i, case) for i, case in enumerate(CASES))
        )

    # Per model, exactly the expected requests: one per case, each with its own fields.
    def canonical(params: Mapping[str, object]) -> list[tuple[str, str]]:
        return sorted((key, str(value)) for key, value in params.items())

    for model, requests in creates_by_model(stt).items():
        expected = [canonical(case.params) for case in CASES if case.model == model]
        assert sorted(canonical(r.params) for r in requests) == sorted(expected), model
    assert len(stt.requests_to("create")) == len(CASES)
    for case, (language_reply, model_reply, transcript) in zip(CASES, outcomes, strict=True):
        assert language_reply.startswith("Language set to"), case
        assert (texts.LANGUAGE_WARNING.split("{")[0] in model_reply) is case.warned, case
        assert transcript == "Eins zwei drei.", case


async def test_warning_at_language_time_and_invalid_codes(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 41
    async with running_bot(settings_for()):
        await command(telegram, chat, "/model aai/slam-1")
        warned = await command(telegram, chat, "/language de")
        fine = await command(telegram, chat, "/language en-GB")
        invalid = await command(telegram, chat, "/language klingon")

    assert (warned.text or "").startswith("Language set to Deutsch (de).")
    assert "Slam-1 cannot transcribe Deutsch (de)" in (warned.text or "")
    assert texts.FALLBACK_ENGLISH in (warned.text or "")
    assert fine.text == "Language set to English (en-GB)."
    assert invalid.text == texts.LANGUAGE_INVALID.format(raw="klingon")
    assert "/language pt-BR" in (invalid.text or "")


async def test_language_keyboard(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    chat = 42
    async with running_bot(settings_for()) as runtime:
        menu = await command(telegram, chat, "/language")
        assert marked(menu) == [texts.CURRENT_MARK + texts.LANGUAGE_AUTO_BUTTON]
        assert ("Deutsch", "lang:de") in buttons(menu)
        assert len(buttons(menu)) == 16

        def german_marked() -> bool:
            return marked(telegram.message(chat, menu.message_id)) == [
                texts.CURRENT_MARK + "Deutsch"
            ]

        answer = await tap(telegram, menu, "lang:de", until=german_marked)
        assert answer["text"] == "Language set to Deutsch (de)."
        await voice_transcript(telegram, runtime, chat)

        menu = telegram.message(chat, menu.message_id)
        await tap(telegram, menu, "lang:auto", until=lambda: not german_marked())
        await voice_transcript(telegram, runtime, chat)

    first, second = stt.requests_to("create")
    assert first.params == {**DEEPGRAM_DEFAULTS, "language": "de"}
    assert second.params == {**DEEPGRAM_DEFAULTS, "detect_language": "true"}
