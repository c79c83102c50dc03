"""Translation into English with no language model, by the local Whisper engine's own translate
task: from the backend's request down to the model, and through the real Application."""

from __future__ import annotations

from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.local.engine import LocalWhisperEngine
from bot.presentation import texts
from bot.stt.types import AudioUpload, JobRequest
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.telegram import FakeTelegram
from tests.flows import buttons, command, replies_to, tap, transcripts
from tests.local.fake_model import FakeWhisper, fake_engine, tone_wav

CHAT = 81


def backend_over(model: FakeWhisper) -> LocalBackend:
    engines: dict[str, LocalWhisperEngine] = {}

    def factory(size: str) -> LocalWhisperEngine:
        return engines.setdefault(size, fake_engine(model, size=size, queue=4))

    return LocalBackend(LocalConfig(size="base"), engine_factory=factory, available_sizes={"base"})


async def test_the_backend_hands_whisper_the_translate_task_when_asked() -> None:
    model = FakeWhisper()
    backend = backend_over(model)
    try:
        for params in ({"language": "de", "task": "translate"}, {"language": "de"}):
            request = JobRequest("local/base", params)
            upload = AudioUpload(tone_wav(), "voice.wav", "audio/wav")
            generation_id = await backend.submit(upload, request)
            await backend.wait_result(generation_id, request, None)
    finally:
        await backend.close()
    translate, transcribe = model.calls
    assert translate["task"] == "translate" and translate["language"] == "de"
    assert transcribe["task"] == "transcribe"


async def test_without_a_model_an_english_speaker_can_have_a_note_translated_by_whisper(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    model = FakeWhisper()  # it hears "hello world", in the language it is told
    settings = settings_for(AIMLAPI_KEY="", local_engine=True)
    assert settings.backend == "local" and not settings.llm_enabled
    async with running_bot(settings, backend=backend_over(model)) as runtime:
        await command(telegram, CHAT, "/language de")  # so Whisper reports German
        original = telegram.push_voice(CHAT, tone_wav())["message_id"]
        [transcript] = await transcripts(telegram, CHAT, original)
        assert runtime.services is not None
        await runtime.services.supervisor.wait_idle(10)
        transcript = telegram.message(CHAT, transcript.message_id)
        labels = [label for label, _ in buttons(transcript)]
        [data] = [data for label, data in buttons(transcript) if label == texts.TRANSLATE_BUTTON]
        answer = await tap(
            telegram,
            transcript,
            data,
            until=lambda: replies_to(telegram, CHAT, transcript.message_id),
        )
        await runtime.services.supervisor.wait_idle(10)

    assert texts.SUMMARY_BUTTON not in labels  # summaries need a language model
    assert answer == {"text": texts.SUMMARY_WORKING}
    [translation] = replies_to(telegram, CHAT, transcript.message_id)
    assert translation.text == texts.TRANSLATION_ANSWER.format(text="hello world")
    first, second = model.calls
    assert first["task"] == "transcribe" and second["task"] == "translate"
    assert second["language"] == "de"
    assert len(telegram.calls_to("getFile")) == 2  # the recording fetched again: none is kept
