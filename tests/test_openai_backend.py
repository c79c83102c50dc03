"""An OpenAI-compatible server as the third backend: the client, the backend, the settings and
the real bot end to end, against a fake that follows OpenAI's documented shapes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config.settings import Settings, SettingsError
from bot.retry import RetryPolicy
from bot.stt.catalogue import UnknownModelError, aiml_models, build_params, get_model, local_models
from bot.stt.errors import (
    AuthError,
    NotFoundError,
    OutOfCreditsError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    SttError,
    UnsupportedModelError,
    ValidationError,
)
from bot.stt.openai_backend import OpenAiBackend
from bot.stt.openai_client import OpenAiSttClient
from bot.stt.types import AudioUpload, JobRequest, Transcript
from bot.stt.whisper_languages import language_code
from tests.conftest import OPENAI_KEY, BotFactory, SettingsFactory
from tests.fakes.openai import FakeOpenAi
from tests.fakes.telegram import FakeTelegram
from tests.flows import command, tap_edit, voice_transcript

AUDIO_BYTES = b"OggS" + bytes(range(256)) * 4
AUDIO = AudioUpload(AUDIO_BYTES, "voice.ogg", "audio/ogg")
SPOKEN = "Hello there. General Kenobi."
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def backend_for(
    openai: FakeOpenAi,
    session: aiohttp.ClientSession,
    *,
    key: str | None = OPENAI_KEY,
    sleeps: list[float] | None = None,
) -> OpenAiBackend:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return OpenAiBackend(OpenAiSttClient(session, openai.url, key), retry=FAST, sleep=sleep)


def job(model: str, language: str | None = None) -> JobRequest:
    return JobRequest(model, build_params(get_model(model), language=language, diarize=False))


async def transcribe(backend: OpenAiBackend, request: JobRequest) -> Transcript:
    generation_id = await backend.submit(AUDIO, request)
    return await backend.wait_result(generation_id, request, None)


# --- the backend and its client ----------------------------------------------------------------


async def test_whisper_gets_verbose_json_with_segments_words_and_language(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    openai.transcript = SPOKEN
    transcript = await transcribe(backend_for(openai, session), job("oai/whisper-1"))

    [request] = openai.requests
    assert request.auth == f"Bearer {OPENAI_KEY}"
    assert request.model == "whisper-1"  # the server's own name, without our prefix
    assert request.response_format == "verbose_json"
    assert sorted(request.granularities) == ["segment", "word"]
    assert "language" not in request.fields  # none chosen: Whisper detects it
    assert (request.file_size, request.filename, request.content_type) == (
        len(AUDIO_BYTES),
        "voice.ogg",
        "audio/ogg",
    )
    assert transcript.text == SPOKEN
    assert transcript.language == "en"  # "english" in verbose_json
    assert transcript.model == "oai/whisper-1"
    assert transcript.duration == pytest.approx(2.0)
    assert [(s.text, s.start, s.end) for s in transcript.segments] == [
        ("Hello there.", 0.0, 0.9),
        ("General Kenobi.", 1.0, 1.9),
    ]
    assert [w.text for w in transcript.words] == ["Hello", "there", "General", "Kenobi"]
    assert transcript.words[2].start == pytest.approx(1.0)


async def test_a_file_on_disk_is_streamed_to_the_server(
    openai: FakeOpenAi, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    recording = tmp_path / "long.ogg"
    recording.write_bytes(AUDIO_BYTES * 64)
    upload = AudioUpload(recording, "long.ogg", "audio/ogg")
    backend = backend_for(openai, session)
    openai.fail_next(503)  # a retry reads the file again from its start
    generation_id = await backend.submit(upload, job("oai/whisper-1"))
    transcript = await backend.wait_result(generation_id, job("oai/whisper-1"), None)
    assert transcript.text == openai.transcript
    assert [r.status for r in openai.requests] == [503, 200]
    assert openai.requests[1].file_size == len(AUDIO_BYTES) * 64


async def test_gpt4o_gets_plain_json_and_the_chosen_language(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    openai.transcript = SPOKEN
    spec = get_model("oai/gpt-4o-transcribe")
    assert not spec.capabilities.word_timings and not spec.capabilities.reports_language
    transcript = await transcribe(
        backend_for(openai, session), job("oai/gpt-4o-transcribe", language="de-AT")
    )

    [request] = openai.requests
    assert (request.response_format, request.granularities) == ("json", [])
    assert request.fields["language"] == "de"
    assert transcript.text == SPOKEN
    assert (transcript.words, transcript.segments, transcript.language) == ((), (), None)


async def test_a_server_that_refuses_verbose_json_is_asked_for_json_from_then_on(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    # A self-hosted Whisper that only speaks json: the text still arrives, without timings.
    openai.models.add("Systran/faster-whisper-small")
    openai.verbose_json = False
    backend = backend_for(openai, session)
    request = job("oai/Systran/faster-whisper-small")
    first = await transcribe(backend, request)
    second = await transcribe(backend, request)

    assert first.text == second.text == openai.transcript
    assert first.segments == ()
    assert [(r.response_format, r.status) for r in openai.requests] == [
        ("verbose_json", 400),
        ("json", 200),
        ("json", 200),
    ]


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (400, None, ValidationError),
        (401, "invalid_api_key", AuthError),
        (403, None, AuthError),
        (404, "model_not_found", UnsupportedModelError),
        (413, None, PayloadTooLargeError),
        (429, "rate_limit_exceeded", RateLimitedError),
        (429, "insufficient_quota", OutOfCreditsError),
        (500, None, ServerError),
        (503, None, ServerError),
    ],
)
async def test_http_errors_become_typed_errors(
    openai: FakeOpenAi,
    session: aiohttp.ClientSession,
    status: int,
    code: str | None,
    error_type: type[SttError],
) -> None:
    openai.fail_next(status, code=code, message=f"upstream says {status}", retry_after=7)
    client = OpenAiSttClient(session, openai.url, OPENAI_KEY)
    with pytest.raises(error_type) as raised:
        await client.transcribe(AUDIO, "whisper-1", language=None, verbose=True)
    assert type(raised.value) is error_type
    assert f"HTTP {status}: upstream says {status}" in str(raised.value)
    if error_type is RateLimitedError:
        assert raised.value.retry_after == 7  # type: ignore[attr-defined]
    assert len(openai.requests) == 1  # one request per call: retrying is the backend's


async def test_transient_errors_are_retried_waiting_as_told(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    openai.fail_next(429, code="rate_limit_exceeded", retry_after=2)
    openai.fail_next(502)
    sleeps: list[float] = []
    transcript = await transcribe(backend_for(openai, session, sleeps=sleeps), job("oai/whisper-1"))
    assert transcript.text == openai.transcript
    assert [r.status for r in openai.requests] == [429, 502, 200]
    assert sleeps[0] >= 2  # the server's Retry-After
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (429, "insufficient_quota", OutOfCreditsError),  # waiting brings no credit
        (413, None, PayloadTooLargeError),
        (400, None, ValidationError),
    ],
)
async def test_lasting_errors_are_not_retried(
    openai: FakeOpenAi,
    session: aiohttp.ClientSession,
    status: int,
    code: str | None,
    error_type: type[SttError],
) -> None:
    openai.fail_next(status, code=code, message="no")
    with pytest.raises(error_type):
        await transcribe(backend_for(openai, session), job("oai/whisper-1"))
    assert len(openai.requests) == 1


async def test_a_file_over_the_servers_limit_is_too_large(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    openai.max_bytes = 100
    with pytest.raises(PayloadTooLargeError, match="Maximum content size limit"):
        await transcribe(backend_for(openai, session), job("oai/whisper-1"))


async def test_a_wrong_key_fails_once_and_never_shows_the_key(
    openai: FakeOpenAi, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as raised:
        await transcribe(backend_for(openai, session, key=wrong), job("oai/whisper-1"))
    assert len(openai.requests) == 1
    # A server (or a proxy) that echoes the key whole: it is cut out of what we report.
    openai.fail_next(500, message=f"cannot use key {OPENAI_KEY}")
    with pytest.raises(ServerError) as echoed:
        await OpenAiSttClient(session, openai.url, OPENAI_KEY).transcribe(
            AUDIO, "whisper-1", language=None, verbose=False
        )
    for text in (str(raised.value), str(echoed.value), caplog.text):
        assert wrong not in text and OPENAI_KEY not in text
    assert "[REDACTED]" in str(echoed.value)


async def test_a_self_hosted_server_without_keys_gets_no_authorization(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeOpenAi(api_key=None) as server:
        transcript = await transcribe(backend_for(server, session, key=None), job("oai/whisper-1"))
    assert transcript.text == server.transcript
    assert server.requests[0].auth is None


async def test_an_unknown_id_is_not_found_so_the_pipeline_submits_again(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    # After a restart the process knows no request: the job is submitted again.
    with pytest.raises(NotFoundError):
        await backend_for(openai, session).wait_result("oai-from-before", job("oai/whisper-1"), 3)
    backend = backend_for(openai, session)
    generation_id = await backend.submit(AUDIO, job("oai/whisper-1"))
    await backend.wait_result(generation_id, job("oai/whisper-1"), None)
    with pytest.raises(NotFoundError):  # collected once
        await backend.wait_result(generation_id, job("oai/whisper-1"), None)


async def test_only_oai_models_are_submitted(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    backend = backend_for(openai, session)
    for model in ("#g1_whisper-large", "local/base", "nonsense"):
        with pytest.raises(UnsupportedModelError):
            await backend.submit(AUDIO, JobRequest(model))
    assert openai.requests == []


async def test_close_cancels_requests_in_flight(
    openai: FakeOpenAi, session: aiohttp.ClientSession
) -> None:
    openai.delay = 30
    backend = backend_for(openai, session)
    generation_id = await backend.submit(AUDIO, job("oai/whisper-1"))
    await backend.close()
    with pytest.raises(NotFoundError):
        await backend.wait_result(generation_id, job("oai/whisper-1"), None)


# --- the catalogue ---------------------------------------------------------------------------


def test_every_oai_name_is_a_model_with_honest_capabilities() -> None:
    whisper = get_model("oai/whisper-1")
    assert (whisper.backend, whisper.family, whisper.display_name) == ("openai", "oai", "whisper-1")
    assert whisper.capabilities.word_timings and whisper.capabilities.reports_language
    assert not whisper.capabilities.diarization  # no speakers in verbose_json
    hosted = get_model("oai/Systran/faster-whisper-large-v3")  # named by the server, not by us
    assert hosted.display_name == "faster-whisper-large-v3"
    assert hosted.capabilities == whisper.capabilities
    mini = get_model("oai/gpt-4o-mini-transcribe").capabilities
    assert not (mini.word_timings or mini.reports_language)  # json only
    assert not any(spec.backend == "openai" for spec in aiml_models() + local_models())
    with pytest.raises(UnknownModelError):
        get_model("oai/")


@pytest.mark.parametrize(
    ("reported", "code"),
    [("english", "en"), ("English", "en"), ("haitian creole", "ht"), ("en", "en"), ("pt-BR", "pt"),
     ("jw", "jv"), ("klingon", None), (None, None)],
)  # fmt: skip
def test_reported_languages_become_codes(reported: str | None, code: str | None) -> None:
    assert language_code(reported) == code


# --- settings ----------------------------------------------------------------------------------


def settings(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=None, local_engine_available=lambda: False)


def test_openai_base_url_selects_the_backend_and_its_models() -> None:
    official = settings(STT_BACKEND="openai", OPENAI_API_KEY=OPENAI_KEY)
    assert (official.backend, official.openai_url) == ("openai", "https://api.openai.com/v1")
    assert official.default_model == "oai/whisper-1"
    assert [m.id for m in official.offered_models] == [
        "oai/whisper-1",
        "oai/gpt-4o-transcribe",
        "oai/gpt-4o-mini-transcribe",
    ]
    hosted = settings(
        OPENAI_BASE_URL="http://whisper.cluster:8000/v1/",
        OPENAI_MODELS="Systran/faster-whisper-large-v3, oai/distil-whisper-large-v3-en",
    )
    assert (hosted.backend, hosted.openai_url) == ("openai", "http://whisper.cluster:8000/v1")
    assert hosted.openai_api_key is None  # a cluster-internal server may go without
    assert hosted.default_model == "oai/Systran/faster-whisper-large-v3"
    english = get_model("oai/distil-whisper-large-v3-en")
    assert english in hosted.offered_models and english.capabilities.english_only


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AIMLAPI_KEY": "k", "OPENAI_BASE_URL": "http://h/v1"},
            "AIMLAPI_KEY and OPENAI_BASE_URL are both set: choose one with STT_BACKEND=aiml "
            "or STT_BACKEND=openai",
        ),
        (
            {"STT_BACKEND": "openai"},
            "STT_BACKEND=openai needs OPENAI_BASE_URL, or OPENAI_API_KEY for api.openai.com",
        ),
        ({"OPENAI_BASE_URL": "ftp://h"}, "OPENAI_BASE_URL must be an http:// or https:// URL"),
        (
            {"OPENAI_BASE_URL": "http://h/v1", "DEFAULT_MODEL": "#g1_whisper-large"},
            "DEFAULT_MODEL '#g1_whisper-large' is not a model the OpenAI-compatible server "
            "offers (OPENAI_MODELS), and the backend is openai",
        ),
        (
            {"OPENAI_BASE_URL": "http://h/v1", "ALLOWED_MODELS": "oai/whisper-large-v3"},
            "ALLOWED_MODELS names models the openai backend does not offer: oai/whisper-large-v3",
        ),
    ],
)
def test_openai_settings_fail_in_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(**env)
    assert str(raised.value) == message


# --- the real bot, end to end ------------------------------------------------------------------


def openai_settings(settings_for: SettingsFactory, openai: FakeOpenAi) -> Settings:
    configured = settings_for(
        STT_BACKEND="openai", OPENAI_BASE_URL=openai.url, OPENAI_API_KEY=OPENAI_KEY
    )
    assert configured.backend == "openai"
    return configured


async def test_the_bot_transcribes_through_an_openai_compatible_server(
    telegram: FakeTelegram,
    openai: FakeOpenAi,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    chat = 71
    openai.transcript = SPOKEN
    async with running_bot(openai_settings(settings_for, openai)) as runtime:
        plain = await voice_transcript(telegram, runtime, chat)
        menu = await command(telegram, chat, "/model")
    assert plain.text == SPOKEN
    [request] = openai.requests
    # The bytes were uploaded: the Telegram file URL (it holds the bot token) never left.
    assert request.file_size is not None and request.file_size > 0
    assert request.filename == "voice.ogg"
    assert all("api.telegram" not in value for value in request.fields.values())
    assert (request.model, request.response_format) == ("whisper-1", "verbose_json")
    offered = [
        button["callback_data"]
        for row in (menu.reply_markup or {})["inline_keyboard"]
        for button in row
        if button.get("callback_data", "").startswith("model:")
    ]
    assert offered == [
        "model:oai/whisper-1",
        "model:oai/gpt-4o-transcribe",
        "model:oai/gpt-4o-mini-transcribe",
    ]


async def test_verbose_json_segments_give_the_transcript_its_timestamps(
    telegram: FakeTelegram,
    openai: FakeOpenAi,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    chat = 72
    openai.transcript = SPOKEN
    async with running_bot(openai_settings(settings_for, openai)) as runtime:
        menu = await command(telegram, chat, "/settings")
        menu = (await tap_edit(telegram, menu, "set:timestamps")).message
        menu = (await tap_edit(telegram, menu, "set:show_language")).message
        await tap_edit(telegram, menu, "set:attach:srt")
        dressed = await voice_transcript(telegram, runtime, chat)
    assert dressed.text == "[00:00] Hello there.\n[00:01] General Kenobi.\n\nLanguage: en"
    [srt] = telegram.documents(chat)
    assert srt.data.decode() == (
        "1\n00:00:00,000 --> 00:00:00,900\nHello there.\n\n"
        "2\n00:00:01,000 --> 00:00:01,900\nGeneral Kenobi.\n"
    )


async def test_a_server_error_reaches_the_user_as_a_failure(
    telegram: FakeTelegram,
    openai: FakeOpenAi,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    from bot.presentation import texts

    openai.fail_next(401, code="invalid_api_key", message="Incorrect API key provided")
    async with running_bot(openai_settings(settings_for, openai)) as runtime:
        reply = await voice_transcript(telegram, runtime, 73)
    assert reply.text == texts.failure("auth")
    assert len(openai.requests) == 1


async def test_the_transcribe_command_uses_the_server_too(
    openai: FakeOpenAi, tmp_path: Path
) -> None:
    openai.transcript = SPOKEN
    recording = tmp_path / "note.ogg"
    recording.write_bytes(AUDIO_BYTES)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "transcribe",
        str(recording),
        "--format",
        "json",
        cwd=REPO,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "OPENAI_BASE_URL": openai.url,
            "OPENAI_API_KEY": OPENAI_KEY,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert (result["text"], result["model"], result["language"]) == (SPOKEN, "oai/whisper-1", "en")
    assert OPENAI_KEY not in stderr.decode()
    [request] = openai.requests
    assert request.response_format == "verbose_json"
