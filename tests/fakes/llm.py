"""A fake OpenAI-compatible chat server over real HTTP: `POST /v1/chat/completions`.

It takes OpenAI's documented request (API reference, "Create chat completion"): a JSON body
with `model`, `messages` (`{"role", "content"}`), optional `max_tokens`, `temperature` and
`stream`, and answers `{"id", "object": "chat.completion", "created", "model", "choices":
[{"index", "message": {"role": "assistant", "content"}, "finish_reason"}], "usage"}`.
Errors come in the shape of the server being imitated:

- OpenAI (and the AIML API's pass-through): `{"error": {"message", "type", "param", "code"}}`,
  a prompt too long answered 400 with code `context_length_exceeded`;
- llama.cpp's llama-server: `{"error": {"code": 400, "message", "type":
  "exceed_context_size_error", "n_prompt_tokens", "n_ctx"}}`;
- vLLM: `{"object": "error", "message": "This model's maximum context length is ...",
  "type": "BadRequestError", "code": 400}`.

The fake counts tokens its own way (a token per `chars_per_token` characters, two by default),
stricter than the bot's estimate, so `context_tokens` makes it refuse what the bot thought
would fit: the bot must split and ask again.

Its answers are made from the request, so tests can see what was asked: a summary names the
language and the number of words it was given, a translation repeats the text after a
`[language]` mark. Start it with `async with FakeLlm() as fake:`, point the bot at `fake.url`
("http://127.0.0.1:PORT/v1"), turn the knobs, and read `fake.requests`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from aiohttp import web

ErrorStyle = Literal["openai", "llamacpp", "vllm"]
_LANGUAGE = re.compile(r"(?:Write in|into) (.+?) \(([A-Za-z-]+)\)")
_TRANSCRIPT = re.compile(r"<transcript>\n(.*)\n</transcript>", re.DOTALL)


@dataclass(slots=True)
class RecordedChat:
    """One request, as the fake read it."""

    at: float
    auth: str | None  # the Authorization header as sent (tests check it never leaks)
    body: dict[str, object] = field(default_factory=dict)
    status: int | None = None

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, str]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m.get("role") == "system"), "")

    @property
    def transcript(self) -> str:
        """The text between the <transcript> tags of the user's message."""
        user = next((m["content"] for m in self.messages if m.get("role") == "user"), "")
        found = _TRANSCRIPT.search(user)
        return found.group(1) if found else ""

    @property
    def task(self) -> str:
        """ "summary", "notes" or "translation", from the instructions."""
        system = self.system
        if system.startswith("You translate"):
            return "translation"
        if system.startswith("You take notes"):
            return "notes"
        return "summary"

    @property
    def language_code(self) -> str | None:
        found = _LANGUAGE.search(self.system)
        return found.group(2) if found else None


@dataclass(frozen=True, slots=True)
class _Forced:
    status: int
    body: dict[str, object] | str
    headers: Mapping[str, str]
    stall: float = 0.0


def error_body(message: str, *, kind: str, code: str | None) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def default_answer(request: RecordedChat) -> str:
    """A made-up answer that says what was asked, for the tests to check."""
    words = len(request.transcript.split())
    language = request.language_code or "?"
    if request.task == "translation":
        return f"[{language}] {request.transcript}"
    if request.task == "notes":
        return f"• notes ({language}) on {words} words"
    return f"• summary ({language}) of {words} words"


class FakeLlm:
    """Controller of the fake server. All knobs may be changed while it runs."""

    def __init__(
        self, *, api_key: str | None = "llm-test-key", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.api_key = api_key  # None: no authentication, as a local llama.cpp runs
        self.clock = clock
        self.models: set[str] | None = None  # None: any model name is served
        self.answer: Callable[[RecordedChat], str] = default_answer
        # The model's context: prompt and max_tokens together; None: no limit.
        self.context_tokens: int | None = None
        self.chars_per_token = 2
        self.error_style: ErrorStyle = "openai"
        self.delay = 0.0  # seconds spent "thinking" on each request
        self.finish_reason = "stop"
        self.requests: list[RecordedChat] = []
        self._forced: deque[_Forced] = deque()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{host}:{port}/v1"
        return self._url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLlm:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeLlm is not started")
        return self._url

    # --- knobs ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        message: str = "The server had an error while processing your request.",
        kind: str = "server_error",
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `count` requests with an OpenAI-shaped error."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        for _ in range(count):
            self._forced.append(_Forced(status, error_body(message, kind=kind, code=code), headers))

    def malformed_next(self, body: str = '{"choices": []}', *, count: int = 1) -> None:
        """Answer the next `count` requests 200 with `body`, which is no chat completion."""
        for _ in range(count):
            self._forced.append(_Forced(200, body, {}))

    def stall_next(self, seconds: float, *, count: int = 1) -> None:
        """Hold the next `count` requests this long before answering them normally."""
        for _ in range(count):
            self._forced.append(_Forced(0, "", {}, stall=seconds))

    def tokens(self, text: str) -> int:
        return -(-len(text) // self.chars_per_token)

    def of_task(self, task: str) -> list[RecordedChat]:
        return [r for r in self.requests if r.task == task and r.status == 200]

    # --- the endpoint --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        record = RecordedChat(at=self.clock(), auth=request.headers.get("Authorization"))
        self.requests.append(record)
        response = await self._answer(request, record)
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, record: RecordedChat) -> web.Response:
        refusal = self._auth_refusal(record.auth)
        if refusal is not None:
            return refusal
        if self._forced:
            forced = self._forced.popleft()
            if forced.stall:
                await asyncio.sleep(forced.stall)
            elif isinstance(forced.body, str):
                return web.Response(
                    text=forced.body, status=forced.status, content_type="application/json"
                )
            else:
                return web.json_response(forced.body, status=forced.status, headers=forced.headers)
        try:
            body = await request.json()
        except ValueError:
            return _invalid("We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _invalid("The body must be a JSON object.")
        record.body = body
        refusal = self._request_refusal(record)
        if refusal is not None:
            return refusal
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._completion(record, self.answer(record))

    def _auth_refusal(self, auth: str | None) -> web.Response | None:
        if self.api_key is None:
            return None
        if auth != f"Bearer {self.api_key}":
            message = "Incorrect API key provided."
            body = error_body(message, kind="invalid_request_error", code="invalid_api_key")
            return web.json_response(body, status=401)
        return None

    def _request_refusal(self, record: RecordedChat) -> web.Response | None:
        model = record.model
        if not model:
            return _invalid("you must provide a model parameter")
        if self.models is not None and model not in self.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            body = error_body(message, kind="invalid_request_error", code="model_not_found")
            return web.json_response(body, status=404)
        messages = record.messages
        if not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            return _invalid("'messages' must be a non-empty array of messages with content")
        return self._context_refusal(record)

    def _context_refusal(self, record: RecordedChat) -> web.Response | None:
        if self.context_tokens is None:
            return None
        prompt = sum(self.tokens(m["content"]) + 4 for m in record.messages)
        max_tokens = record.body.get("max_tokens")
        answer = max_tokens if isinstance(max_tokens, int) else 0
        if prompt + answer <= self.context_tokens:
            return None
        limit = self.context_tokens
        if self.error_style == "llamacpp":
            body: dict[str, object] = {
                "error": {
                    "code": 400,
                    "message": (
                        f"request ({prompt} tokens) exceeds the available context size "
                        f"({limit} tokens), try increasing it"
                    ),
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": prompt,
                    "n_ctx": limit,
                }
            }
        elif self.error_style == "vllm":
            body = {
                "object": "error",
                "message": (
                    f"This model's maximum context length is {limit} tokens. However, you "
                    f"requested {prompt + answer} tokens ({prompt} in the messages, {answer} in "
                    "the completion). Please reduce the length of the messages or completion."
                ),
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        else:
            message = (
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt + answer} tokens ({prompt} in the messages, {answer} in the "
                "completion). Please reduce the length of the messages or completion."
            )
            body = error_body(message, kind="invalid_request_error", code="context_length_exceeded")
        return web.json_response(body, status=400)

    def _completion(self, record: RecordedChat, text: str) -> web.Response:
        prompt = sum(self.tokens(m["content"]) for m in record.messages)
        body = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": record.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": self.tokens(text),
                "total_tokens": prompt + self.tokens(text),
            },
        }
        return web.Response(text=json.dumps(body), content_type="application/json")


def _invalid(message: str) -> web.Response:
    body = error_body(message, kind="invalid_request_error", code=None)
    return web.json_response(body, status=400)
