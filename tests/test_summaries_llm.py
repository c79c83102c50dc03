"""The language-model client and the summary and translation tasks, against the fake chat server
over real HTTP: answers, typed errors, retries, timeouts, and the context-length error that makes
a long transcript go in pieces."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.config.settings import Settings, SettingsError
from bot.llm.chunks import estimate_tokens, split_text
from bot.llm.client import ChatClient, ChatMessage
from bot.llm.errors import (
    ContextLengthError,
    LlmAuthError,
    LlmMalformedResponseError,
    LlmOutOfCreditsError,
    LlmRateLimitedError,
    LlmRequestError,
    LlmServerError,
    LlmTimeoutError,
)
from bot.llm.tasks import TranscriptTasks
from bot.pipeline.summaries import language_for_model
from bot.retry import RetryPolicy
from tests.conftest import LLM_KEY
from tests.fakes.llm import FakeLlm, RecordedChat

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
HELLO = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello")]


def words(n: int, prefix: str = "word") -> str:
    """A transcript of `n` words in sentences of ten."""
    tokens = [f"{prefix}{i}" for i in range(n)]
    sentences = [" ".join(tokens[i : i + 10]) + "." for i in range(0, n, 10)]
    return " ".join(sentences)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client_for(
    session: aiohttp.ClientSession, llm: FakeLlm, *, key: str | None = LLM_KEY, timeout: float = 10
) -> ChatClient:
    return ChatClient(session, llm.url, key, "test-model", retry=FAST, timeout=timeout)


# --- the client ------------------------------------------------------------------------------


async def test_a_completion_sends_the_openai_request_and_reads_the_answer(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.answer = lambda request: "  General Kenobi.  "
    completion = await client_for(session, llm).complete(HELLO, max_tokens=50, temperature=0.1)

    assert completion.text == "General Kenobi."
    assert completion.finish_reason == "stop"
    [request] = llm.requests
    assert request.auth == f"Bearer {LLM_KEY}"
    assert request.body == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
        ],
        "max_tokens": 50,
        "temperature": 0.1,
        "stream": False,
    }


async def test_a_server_without_a_key_gets_no_authorization_header(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.api_key = None  # a local llama.cpp
    await client_for(session, llm, key=None).complete(HELLO, max_tokens=10)
    assert llm.requests[0].auth is None


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "invalid_api_key", LlmAuthError),
        (404, "model_not_found", LlmRequestError),
        (400, None, LlmRequestError),
        (429, "insufficient_quota", LlmOutOfCreditsError),
    ],
)
async def test_refusals_are_typed_and_not_retried(
    session: aiohttp.ClientSession,
    llm: FakeLlm,
    status: int,
    code: str | None,
    error: type[Exception],
) -> None:
    llm.fail_next(status, code=code, message=f"refused with {LLM_KEY} in the message", count=3)
    with pytest.raises(error) as raised:
        await client_for(session, llm).complete(HELLO, max_tokens=10)
    assert len(llm.requests) == 1
    assert f"HTTP {status}" in str(raised.value)
    assert LLM_KEY not in str(raised.value)  # the key is cut out of what the server said


async def test_a_wrong_key_is_an_auth_error(session: aiohttp.ClientSession, llm: FakeLlm) -> None:
    with pytest.raises(LlmAuthError):
        await client_for(session, llm, key="sk-wrong").complete(HELLO, max_tokens=10)


async def test_server_errors_and_rate_limits_are_retried_under_the_policy(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.fail_next(503)
    llm.fail_next(429, kind="rate_limit_exceeded", retry_after=0.05)
    completion = await client_for(session, llm).complete(HELLO, max_tokens=10)
    assert completion.text.startswith("• summary")
    assert [r.status for r in llm.requests] == [503, 429, 200]
    assert llm.requests[2].at - llm.requests[1].at >= 0.05  # the server's Retry-After


async def test_retries_give_up_after_the_policy_s_tries(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.fail_next(500, count=5)
    with pytest.raises(LlmServerError):
        await client_for(session, llm).complete(HELLO, max_tokens=10)
    assert len(llm.requests) == FAST.attempts
    llm.requests.clear()
    llm.fail_next(429, kind="rate_limit_exceeded", count=5)
    with pytest.raises(LlmRateLimitedError):
        await client_for(session, llm).complete(HELLO, max_tokens=10)


async def test_a_hung_request_times_out_and_is_tried_again(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.stall_next(2.0)
    completion = await client_for(session, llm, timeout=0.3).complete(HELLO, max_tokens=10)
    assert completion.text
    assert len(llm.requests) == 2

    llm.stall_next(2.0, count=3)
    with pytest.raises(LlmTimeoutError):
        await client_for(session, llm, timeout=0.3).complete(HELLO, max_tokens=10)


@pytest.mark.parametrize(
    "body",
    [
        '{"choices": []}',
        '{"choices": [{"message": {"role": "assistant", "content": null}}]}',
        '{"choices": [{"message": {"role": "assistant", "content": "   "}}]}',
        "<html>Bad gateway</html>",
    ],
)
async def test_an_answer_without_text_is_malformed(
    session: aiohttp.ClientSession, llm: FakeLlm, body: str
) -> None:
    llm.malformed_next(body)
    with pytest.raises(LlmMalformedResponseError):
        await client_for(session, llm).complete(HELLO, max_tokens=10)


@pytest.mark.parametrize("style", ["openai", "llamacpp", "vllm"])
async def test_a_prompt_too_long_is_a_context_length_error_in_every_server_s_words(
    session: aiohttp.ClientSession, llm: FakeLlm, style: str
) -> None:
    llm.context_tokens = 30
    llm.error_style = style  # type: ignore[assignment]
    with pytest.raises(ContextLengthError):
        await client_for(session, llm).complete(HELLO, max_tokens=100)
    assert len(llm.requests) == 1  # not retried as it is: the caller must send less


async def test_no_log_line_holds_the_conversation_or_the_key(
    session: aiohttp.ClientSession, llm: FakeLlm, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm.fail_next(500)
    secret_words = [ChatMessage("user", "the launch code is swordfish")]
    await client_for(session, llm).complete(secret_words, max_tokens=10)
    assert "swordfish" not in caplog.text
    assert LLM_KEY not in caplog.text
    assert "retry 1" in caplog.text


# --- pieces ----------------------------------------------------------------------------------


def test_split_text_cuts_between_sentences_then_words_then_characters() -> None:
    text = words(100)
    pieces = split_text(text, 60)
    assert len(pieces) > 1
    assert all(estimate_tokens(piece) <= 60 for piece in pieces)
    assert " ".join(pieces).split() == text.split()  # nothing lost, nothing doubled
    assert all(piece.endswith(".") for piece in pieces[:-1])  # whole sentences where they fit

    run_on = "x" * 1000  # one "word" of a script without spaces
    cut = split_text(run_on, 40)
    assert "".join(cut) == run_on and all(estimate_tokens(p) <= 40 for p in cut)
    assert split_text("   ", 10) == []


def test_the_estimate_errs_long_for_scripts_that_take_more_tokens() -> None:
    # Three bytes of UTF-8 a token: Cyrillic counts about twice as many tokens as Latin.
    assert estimate_tokens("привет" * 10) > estimate_tokens("hello!" * 10)


# --- the tasks -------------------------------------------------------------------------------


async def test_a_short_transcript_is_summarised_in_one_request_in_the_language_asked(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    tasks = TranscriptTasks(client_for(session, llm), context_tokens=8192)
    summary = await tasks.summarise(words(80), language_for_model("ru"))

    assert summary == "• summary (ru) of 80 words"
    [request] = llm.requests
    assert "Write in Russian (ru)" in request.system
    assert "Write two or three short sentences." in request.system  # not bullets: short
    assert request.transcript == words(80)


async def test_a_long_transcript_is_summarised_as_bullets(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    tasks = TranscriptTasks(client_for(session, llm), context_tokens=8192, bullets_from_words=100)
    await tasks.summarise(words(120), "German (de)")
    assert "bullet points" in llm.requests[0].system


async def test_a_transcript_beyond_the_context_is_summarised_from_notes_on_its_pieces(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.context_tokens = 2048
    text = words(3000)  # ~24,000 characters: ten times what one request holds
    tasks = TranscriptTasks(client_for(session, llm), context_tokens=2048)
    summary = await tasks.summarise(text, "English (en)")

    notes = llm.of_task("notes")
    [final] = llm.of_task("summary")
    assert len(notes) > 5
    # Every word went into exactly one piece's notes, in order.
    assert " ".join(n.transcript for n in notes).split() == text.split()
    assert final.transcript.count("• notes (en)") == len(notes)
    assert summary == f"• summary (en) of {len(final.transcript.split())} words"
    # The fake counts tokens more strictly than the bot's estimate: some pieces were refused
    # as too long, and split again.
    assert any(r.status == 400 for r in llm.requests)
    assert all(
        llm.tokens(r.system) + llm.tokens(r.transcript) <= 2048
        for r in llm.requests
        if r.status == 200
    )


async def test_a_translation_goes_piece_by_piece_and_comes_back_whole(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.context_tokens = 2048
    llm.answer = lambda request: request.transcript.upper()
    text = words(1500)
    tasks = TranscriptTasks(client_for(session, llm), context_tokens=2048)
    translated = await tasks.translate(text, "Spanish (es)")

    assert translated.split() == text.upper().split()
    pieces = llm.of_task("translation")
    assert len(pieces) > 2
    assert all("into Spanish (es)" in piece.system for piece in pieces)
    assert all("one part of a longer transcript" in piece.system for piece in pieces)


async def test_a_translation_cut_short_is_asked_again_in_halves(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    def answer(request: RecordedChat) -> str:
        # The model stops at max_tokens when a piece is long.
        llm.finish_reason = "length" if len(request.transcript.split()) > 40 else "stop"
        return request.transcript

    llm.answer = answer
    text = words(60)
    translated = await TranscriptTasks(client_for(session, llm), context_tokens=4096).translate(
        text, "French (fr)"
    )
    assert translated.split() == text.split()
    first, *again = llm.requests
    assert len(first.transcript.split()) == 60  # the whole, cut short; then smaller pieces
    assert len(again) >= 2 and all(len(r.transcript.split()) <= 40 for r in again)


async def test_a_model_whose_context_holds_nothing_fails_rather_than_loops(
    session: aiohttp.ClientSession, llm: FakeLlm
) -> None:
    llm.context_tokens = 10  # even the instructions do not fit
    tasks = TranscriptTasks(client_for(session, llm), context_tokens=2048)
    with pytest.raises(ContextLengthError):
        await tasks.summarise(words(500), "English (en)")
    with pytest.raises(ContextLengthError):
        await tasks.translate(words(500), "English (en)")
    assert len(llm.requests) < 100


def test_instructions_name_languages_in_english_with_their_code() -> None:
    assert language_for_model("ru") == "Russian (ru)"
    assert language_for_model("pt-BR") == "Portuguese (pt-BR)"
    assert language_for_model("fa") == "Persian (fa)"
    assert language_for_model("xx") == "the language with the code xx"


# --- settings --------------------------------------------------------------------------------


def settings(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=None, local_engine_available=lambda: True)


def test_with_an_aiml_key_the_chat_model_is_the_aiml_api_s_with_the_same_key() -> None:
    chosen = settings(AIMLAPI_KEY="aiml-key", LLM_MODEL="gpt-4o-mini")
    assert chosen.llm_enabled
    assert chosen.llm_url == "https://api.aimlapi.com/v1"
    assert chosen.llm_api_key == "aiml-key"
    own = settings(LLM_MODEL="qwen2.5:7b", LLM_BASE_URL="http://127.0.0.1:11434/v1/")
    assert own.llm_url == "http://127.0.0.1:11434/v1"
    assert own.llm_api_key is None
    assert not settings().llm_enabled
    assert settings().summary_min_words == 60


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LLM_MODEL": "m"}, "LLM_MODEL needs AIMLAPI_KEY"),
        ({"LLM_BASE_URL": "http://llm:8080/v1"}, "LLM_BASE_URL and LLM_API_KEY need LLM_MODEL"),
        ({"AIMLAPI_KEY": "k", "LLM_MODEL": "m", "LLM_API_KEY": "sk-9f2c"}, "LLM_API_KEY needs"),
        ({"LLM_MODEL": "gpt 4o", "AIMLAPI_KEY": "k"}, "LLM_MODEL must be a model name"),
        ({"LLM_CONTEXT_TOKENS": "512"}, "LLM_CONTEXT_TOKENS must be at least 2048"),
        ({"SUMMARY_MIN_WORDS": "0"}, "SUMMARY_MIN_WORDS must be at least 1"),
        ({"QUOTA_DAILY_SUMMARIES": "many"}, "QUOTA_DAILY_SUMMARIES must be an integer"),
        ({"GROUP_SUMMARY_SECONDS": "5"}, "GROUP_SUMMARY_SECONDS must be at least 30"),
        ({"LLM_TIMEOUT_SECONDS": "0"}, "LLM_TIMEOUT_SECONDS must be at least 1"),
    ],
)
def test_each_setting_is_checked_with_a_one_line_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(**env)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert "sk-9f2c" not in str(raised.value)
