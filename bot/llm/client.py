"""A client for an OpenAI-compatible `POST {base}/chat/completions`.

The AIML API (its chat models answer under the same key as its speech-to-text), OpenAI, and the
servers that copy its API (llama.cpp's llama-server, Ollama, vLLM) all take
`{"model", "messages": [{"role", "content"}], "max_tokens", "temperature"}` and answer
`{"choices": [{"message": {"content"}, "finish_reason"}]}`. Errors come as
`{"error": {"message", "type", "code"}}` (OpenAI, llama.cpp), `{"message", ...}` (vLLM, AIML)
or `{"detail": ...}`: all are read.

Every failure becomes a typed `LlmError`. Transient ones (429, 5xx, a dropped connection, a
timeout) are retried under the client's own retry policy (bot/retry.py); a prompt too long for
the model raises `ContextLengthError` at once, for the caller to send less.

Neither the key nor a word of the conversation reaches a log line or an error: errors quote
the server's message (with the key cut out), log lines give sizes and times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp

from bot.llm.errors import (
    ContextLengthError,
    LlmAuthError,
    LlmError,
    LlmMalformedResponseError,
    LlmNetworkError,
    LlmOutOfCreditsError,
    LlmRateLimitedError,
    LlmRequestError,
    LlmServerError,
    LlmTimeoutError,
)
from bot.redaction import Redactor
from bot.retry import RetryPolicy

log = logging.getLogger(__name__)

COMPLETIONS_PATH = "/chat/completions"
_MAX_MESSAGE = 300  # characters of an error body quoted in an exception
_NO_CREDIT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
# How servers say the prompt is too long: OpenAI's code, llama.cpp's type, and the words of
# vLLM, OpenAI and others when they send neither.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_CONTEXT_WORDS = (
    "maximum context length",
    "context length",
    "context size",
    "context window",
    "too many tokens",
    "prompt is too long",
)

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    # "stop" when the model ended by itself, "length" when max_tokens cut it short.
    finish_reason: str | None = None


class ChatClient:
    """One model on one server. `complete` retries transient failures; nothing else does."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        retry: RetryPolicy,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + COMPLETIONS_PATH
        self._api_key = api_key
        self.model = model
        self._retry = retry
        self._sleep = sleep
        self._redactor = Redactor([api_key or ""])
        # A local model on a CPU writes a few tokens a second: the total bounds the wait.
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)

    def __repr__(self) -> str:
        return f"ChatClient(url={self._url!r}, model={self.model!r})"

    async def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.2
    ) -> Completion:
        """The model's answer to `messages`, retrying what may pass by waiting."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await self._post(messages, max_tokens, temperature)
            except LlmError as error:
                if not error.transient:
                    raise
                retry_after = error.retry_after if isinstance(error, LlmRateLimitedError) else None
                delay = self._retry.next_delay(
                    attempt, time.monotonic() - started, retry_after=retry_after
                )
                if delay is None:
                    raise
                log.info(
                    "chat completion failed (%s); retry %d in %.1fs",
                    type(error).__name__,
                    attempt + 1,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1

    async def _post(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> Completion:
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": False,
        }
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        what = f"POST {COMPLETIONS_PATH}"
        started = time.monotonic()
        try:
            async with self._session.post(
                self._url, json=body, headers=headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:  # asyncio's and aiohttp's timeouts both subclass it
            raise LlmTimeoutError(f"{what} timed out") from exc
        except aiohttp.ClientError as exc:
            raise LlmNetworkError(self._redactor(f"{what} failed: {type(exc).__name__}")) from exc
        log.debug(
            "%s %s -> %d in %.3fs (%d bytes)",
            what,
            self.model,
            status,
            time.monotonic() - started,
            len(raw),
        )
        if not 200 <= status < 300:
            raise self._http_error(status, raw, retry_after, what)
        return _completion(raw, what)

    def _http_error(self, status: int, raw: bytes, retry_after: str | None, what: str) -> LlmError:
        message, kind, code = _error_details(raw)
        text = self._redactor(f"{what}: HTTP {status}: {message}")
        if 400 <= status < 500 and _is_context_error(message, kind, code):
            return ContextLengthError(text, status=status)
        if status in (401, 403):
            return LlmAuthError(text, status=status)
        if status == 408:
            return LlmTimeoutError(text, status=status)
        if status == 429:
            if code in _NO_CREDIT_CODES or kind in _NO_CREDIT_CODES:
                return LlmOutOfCreditsError(text, status=status)
            return LlmRateLimitedError(text, retry_after=_seconds(retry_after))
        if status >= 500:
            return LlmServerError(text, status=status)
        return LlmRequestError(text, status=status)


def _completion(raw: bytes, what: str) -> Completion:
    try:
        decoded = json.loads(raw)
        choice = decoded["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmMalformedResponseError(f"{what}: not a chat completion") from exc
    if not isinstance(content, str) or not content.strip():
        # null (a refusal, a tool call) or only whitespace: nothing to show anyone.
        raise LlmMalformedResponseError(f"{what}: the answer has no text")
    reason = choice.get("finish_reason") if isinstance(choice, Mapping) else None
    return Completion(content.strip(), reason if isinstance(reason, str) else None)


def _is_context_error(message: str, kind: str | None, code: str | None) -> bool:
    if code in _CONTEXT_CODES or kind in _CONTEXT_CODES:
        return True
    lowered = message.lower()
    return any(words in lowered for words in _CONTEXT_WORDS)


def _error_details(raw: bytes) -> tuple[str, str | None, str | None]:
    """The server's message, error type and code, from whichever error shape it uses."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE], None, None
    if not isinstance(decoded, Mapping):
        return text[:_MAX_MESSAGE], None, None
    error = decoded.get("error")
    source: Mapping[str, object] = error if isinstance(error, Mapping) else decoded
    message = source.get("message")
    if message is None:
        message = decoded.get("detail", error if isinstance(error, str) else None)
    if message is None:
        message = text
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False, default=str)
    kind, code = source.get("type"), source.get("code")
    return (
        message[:_MAX_MESSAGE],
        kind if isinstance(kind, str) else None,
        code if isinstance(code, str) else None,
    )


def _seconds(value: str | None) -> float | None:
    """A Retry-After in seconds; None when absent or an HTTP date (the policy's own wait)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
