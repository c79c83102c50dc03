"""A fake OpenAI-compatible transcription server over real HTTP: `POST /v1/audio/transcriptions`.

It follows OpenAI's documented request and answers (API reference, "Create transcription"):
a multipart form with `file`, `model`, optional `language`, `prompt`, `temperature`,
`response_format` (`json` by default, `text`, or `verbose_json`) and
`timestamp_granularities[]` (`word`, `segment`; only with `verbose_json`). Answers:

- `json`: `{"text"}`, plus `usage` (`{"type": "duration", "seconds"}` for Whisper);
- `verbose_json`: `{"task", "language", "duration", "text", "segments", "words"}`, where
  `language` is the English name ("english"), `segments` come unless only words were asked for,
  and `words` only when asked for;
- errors: `{"error": {"message", "type", "param", "code"}}`.

GPT-4o models answer `json` or `text` only, as OpenAI's do. Start it with
`async with FakeOpenAi() as fake:` and point a client at `fake.url`
("http://127.0.0.1:PORT/v1"); turn the knobs (public attributes, `fail_next`) and read what
happened from `fake.requests`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import string
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import BodyPartReader, web

OPENAI_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
RESPONSE_FORMATS = frozenset({"json", "text", "verbose_json"})
MAX_BYTES = 25 * 1024 * 1024  # OpenAI's upload limit
WORD_SECONDS = 0.4  # each fake word lasts this long ...
GAP_SECONDS = 0.1  # ... followed by this much silence
_SENTENCE_END = re.compile(r"[.!?]$")


@dataclass(slots=True)
class RecordedTranscription:
    """One request, as the fake read it."""

    at: float
    auth: str | None  # the Authorization header as sent (tests check it never leaks)
    fields: dict[str, str] = field(default_factory=dict)  # every text field but the arrays
    granularities: list[str] = field(default_factory=list)
    file_size: int | None = None
    filename: str | None = None
    content_type: str | None = None
    status: int | None = None

    @property
    def model(self) -> str | None:
        return self.fields.get("model")

    @property
    def response_format(self) -> str:
        return self.fields.get("response_format", "json")


@dataclass(frozen=True, slots=True)
class _Forced:
    status: int
    body: dict[str, object]
    headers: Mapping[str, str]


def error_body(
    message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None
) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class FakeOpenAi:
    """Controller of the fake server. All knobs may be changed while it runs."""

    def __init__(
        self, *, api_key: str | None = "test-key", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.api_key = api_key  # None: no authentication, as many self-hosted servers run
        self.clock = clock
        self.models: set[str] = set(OPENAI_MODELS)
        # The words spoken, fixed or computed from the uploaded bytes.
        self.transcript: str | Callable[[bytes], str] = "Hello there. General Kenobi."
        self.language = "english"  # verbose_json's language: a name, as OpenAI reports it
        self.verbose_json = True  # False: a server that answers json only, refusing the rest
        self.max_bytes = MAX_BYTES
        self.delay = 0.0  # seconds spent "transcribing" each request
        self.requests: list[RecordedTranscription] = []
        self._forced: deque[_Forced] = deque()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=self.max_bytes * 2)
        app.router.add_post("/v1/audio/transcriptions", self.handle)
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

    async def __aenter__(self) -> FakeOpenAi:
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
            raise RuntimeError("FakeOpenAi is not started")
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
        """Answer the next `count` requests with an OpenAI error."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        body = error_body(message, kind=kind, code=code)
        for _ in range(count):
            self._forced.append(_Forced(status, body, headers))

    # --- the endpoint --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        record = RecordedTranscription(at=self.clock(), auth=request.headers.get("Authorization"))
        self.requests.append(record)
        response = await self._answer(request, record)
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, record: RecordedTranscription) -> web.Response:
        refusal = self._auth_refusal(record.auth)
        if refusal is not None:
            return refusal
        if self._forced:
            forced = self._forced.popleft()
            return web.json_response(forced.body, status=forced.status, headers=forced.headers)
        if request.content_type != "multipart/form-data":
            return _invalid("Expected a multipart/form-data body.", None)
        data, refusal = await self._read_form(request, record)
        if refusal is not None:
            return refusal
        assert data is not None
        refusal = self._request_refusal(record)
        if refusal is not None:
            return refusal
        if self.delay:
            await asyncio.sleep(self.delay)
        text = self.transcript(data) if callable(self.transcript) else self.transcript
        return self._transcription(record, text)

    def _auth_refusal(self, auth: str | None) -> web.Response | None:
        if self.api_key is None:
            return None
        if not auth:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return web.json_response(error_body(message, code=None), status=401)
        offered = auth.removeprefix("Bearer ")
        if offered != self.api_key:
            shown = f"{offered[:3]}{'*' * max(0, len(offered) - 7)}{offered[-4:]}"
            message = f"Incorrect API key provided: {shown}."
            return web.json_response(error_body(message, code="invalid_api_key"), status=401)
        return None

    async def _read_form(
        self, request: web.Request, record: RecordedTranscription
    ) -> tuple[bytes | None, web.Response | None]:
        data: bytes | None = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            if part.name == "file":
                data = bytes(await part.read())
                record.file_size = len(data)
                record.filename = part.filename
                record.content_type = part.headers.get("Content-Type")
                if len(data) > self.max_bytes:
                    message = (
                        f"Maximum content size limit ({self.max_bytes}) exceeded "
                        f"({len(data)} bytes read)"
                    )
                    body = error_body(message, kind="server_error", code=None)
                    return None, web.json_response(body, status=413)
            elif part.name == "timestamp_granularities[]":
                record.granularities.append(await part.text())
            elif part.name:
                record.fields[part.name] = await part.text()
        if data is None:
            return None, _invalid("you must provide a file", "file")
        return data, None

    def _request_refusal(self, record: RecordedTranscription) -> web.Response | None:
        model = record.model
        if not model:
            return _invalid("you must provide a model parameter", "model")
        if model not in self.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return web.json_response(error_body(message, code="model_not_found"), status=404)
        fmt = record.response_format
        if fmt not in RESPONSE_FORMATS:
            return _invalid(
                f"Invalid value: '{fmt}'. Supported values are: json, text, verbose_json.",
                "response_format",
            )
        if fmt == "verbose_json" and ("gpt-4o" in model or not self.verbose_json):
            message = (
                f"response_format '{fmt}' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead."
            )
            return _invalid(message, "response_format", code="unsupported_value")
        if record.granularities and fmt != "verbose_json":
            message = "timestamp_granularities requires response_format=verbose_json"
            return _invalid(message, "timestamp_granularities")
        language = record.fields.get("language")
        if language is not None and not re.fullmatch(r"[a-z]{2}", language):
            return _invalid(f"Invalid language '{language}'. Use ISO-639-1.", "language")
        return None

    def _transcription(self, record: RecordedTranscription, text: str) -> web.Response:
        words = _timed_words(text)
        duration = round(words[-1][2] + GAP_SECONDS, 3) if words else 0.0
        usage = {"type": "duration", "seconds": math.ceil(duration)}
        fmt = record.response_format
        if fmt == "text":
            return web.Response(text=text, content_type="text/plain")
        if fmt == "json":
            body: dict[str, object] = {"text": text}
            if "gpt-4o" not in (record.model or ""):
                body["usage"] = usage
            return web.json_response(body)
        granularities = record.granularities or ["segment"]
        body = {
            "task": "transcribe",
            "language": self.language,
            "duration": duration,
            "text": text,
        }
        if granularities != ["word"]:  # OpenAI leaves segments out of a word-only answer
            body["segments"] = _segments(words)
        if "word" in granularities:
            # Whisper's word timestamps carry the words without their punctuation.
            body["words"] = [
                {"word": w.strip(string.punctuation), "start": s, "end": e} for w, s, e in words
            ]
        body["usage"] = usage
        return web.Response(text=json.dumps(body), content_type="application/json")


def _invalid(message: str, param: str | None, *, code: str | None = None) -> web.Response:
    return web.json_response(error_body(message, param=param, code=code), status=400)


def _timed_words(text: str) -> list[tuple[str, float, float]]:
    """Each word as spoken, with its start and end."""
    timed: list[tuple[str, float, float]] = []
    for index, token in enumerate(text.split()):
        start = round(index * (WORD_SECONDS + GAP_SECONDS), 3)
        timed.append((token, start, round(start + WORD_SECONDS, 3)))
    return timed


def _segments(words: list[tuple[str, float, float]]) -> list[dict[str, object]]:
    """One segment per sentence, with the fields OpenAI's verbose_json carries."""
    segments: list[dict[str, object]] = []
    current: list[tuple[str, float, float]] = []
    for word in words:
        current.append(word)
        if _SENTENCE_END.search(word[0]) or word is words[-1]:
            segments.append(
                {
                    "id": len(segments),
                    "seek": 0,
                    "start": current[0][1],
                    "end": current[-1][2],
                    "text": " " + " ".join(w for w, _, _ in current),
                    "tokens": [50364 + i for i in range(len(current))],
                    "temperature": 0.0,
                    "avg_logprob": -0.25,
                    "compression_ratio": 1.2,
                    "no_speech_prob": 0.01,
                }
            )
            current = []
    return segments
