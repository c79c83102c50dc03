"""A fake AIML speech-to-text API over real HTTP, per docs/aiml-stt-api.md §10.

Start it with `async with FakeStt() as fake:` (or `await fake.start()` / `await fake.close()`);
point a client at `fake.url` ("http://127.0.0.1:PORT/v1") with `fake.api_key`. Turn the knobs
(public attributes and the `fail_next` / `malformed_next` / `stall_next` / `expire` methods,
and `set_fault_rate` for seeded random storms) and read what happened from `fake.requests`,
`fake.jobs` and `fake.completed_at(id)`.

The model list is spelt out here rather than imported from the catalogue, so the tests can
check the catalogue against an independent copy of the docs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from aiohttp import BodyPartReader, web

from tests.fakes.activity import Activity
from tests.fakes.faults import Fault, FaultTable

Endpoint = Literal["create", "fetch"]
Family = Literal["deepgram", "assemblyai", "openai"]

NOVA2_VARIANTS = (
    "automotive",
    "conversationalai",
    "drivethru",
    "finance",
    "general",
    "medical",
    "meeting",
    "phonecall",
    "video",
    "voicemail",
)
MODEL_FAMILIES: Mapping[str, Family] = {
    "aai/slam-1": "assemblyai",
    "aai/universal": "assemblyai",
    **{f"#g1_nova-2-{v}": "deepgram" for v in NOVA2_VARIANTS},
    **{f"#g1_whisper-{s}": "deepgram" for s in ("tiny", "base", "small", "medium", "large")},
    "openai/gpt-4o-transcribe": "openai",
    "openai/gpt-4o-mini-transcribe": "openai",
}

# §6 messages, so error bodies look like the real thing.
MESSAGES: Mapping[int, str] = {
    400: "Body validation error!",
    401: (
        "This request requires a valid API key. You can create a new API key on the Billing "
        "page: https://aimlapi.com/app/keys"
    ),
    403: (
        "You've run out of credits. Please top up your balance or update your payment method "
        "to continue: https://aimlapi.com/app/billing/"
    ),
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}

# Rate faults (set_fault_rate): "5xx" an HTTP error (502 by default), "429" Too Many Requests
# with Retry-After, "hang" holds the request `seconds` then serves it, "malformed" a 200/201 whose
# body is not JSON, "404" Not Found (the job itself is kept), "error" (create only) a job that
# ends with the `error` status.
STT_FAULT_KINDS = frozenset({"5xx", "429", "hang", "malformed", "404", "error"})

WORD_SECONDS = 0.4  # each fake word lasts this long ...
GAP_SECONDS = 0.1  # ... followed by this much silence


@dataclass(frozen=True, slots=True)
class Upload:
    """What a job was created from: handed to the `delay` and `transcript` callables."""

    model: str
    params: Mapping[str, object]
    data: bytes | None  # None when created from a URL
    filename: str | None
    content_type: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class AudioInfo:
    field: str  # "audio" or "file"
    size: int
    filename: str | None
    content_type: str | None


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    at: float  # clock() when it arrived
    headers: dict[str, str]  # without Authorization
    auth_ok: bool
    kind: Literal["json", "multipart", "none", "other"] = "none"
    model: str | None = None
    params: dict[str, object] = field(default_factory=dict)  # every field but model and audio
    audio: AudioInfo | None = None
    generation_id: str | None = None  # created (create) or asked for (fetch)
    status: int | None = None  # the HTTP status answered


@dataclass(slots=True)
class Job:
    generation_id: str
    upload: Upload
    family: Family
    created_at: float
    delay: float
    text: str
    error: tuple[str, str] | None  # forced terminal failure (name, message)
    polls: int = 0
    pending_answers: int = 0
    last_pending_at: float | None = None
    completed_at: float | None = None

    @property
    def terminal_status(self) -> str:
        return "error" if self.error else "completed"


@dataclass(frozen=True, slots=True)
class _Forced:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str]
    stall: float = 0.0


def _truthy(value: object) -> bool:
    # JSON sends booleans, multipart sends strings.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _plain(token: str) -> str:
    return re.sub(r"[^\w'-]", "", token).lower() or token.lower()


class FakeStt:
    """Controller of the fake API. All knobs may be changed while it runs."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        """seed: for the random fault rates (set_fault_rate), so a run can be repeated."""
        self.api_key = api_key
        self.clock = clock
        # Seconds from creation until a job is completed, fixed or computed from the upload.
        self.delay: float | Callable[[Upload], float] = 0.0
        # The words spoken, fixed or computed from the upload.
        self.transcript: str | Callable[[Upload], str] = (
            "He doesn't belong to you. And I don't see how you have anything to do with it."
        )
        # Pending statuses walked through, one per poll, the last one repeated.
        self.pending_statuses: tuple[str, ...] = ("queued", "generating")
        self.min_pending_polls = 0  # pending answers each job gives however short its delay
        self.completed_status = "completed"  # e.g. an unknown word, to test classification
        self.failure_status = "error"
        self.job_error: tuple[str, str] | None = None  # (name, message): new jobs fail
        self.create_status = 201
        self.envelope: Literal["result", "output"] = "result"  # "output": {id, output} naming
        self.retention = 3600.0  # seconds a job can be fetched
        self.detected_language = "en"
        # Extra headers on a create answer, and on the answer of a poll that finds the job
        # completed: e.g. the API's cost headers (x-aimlapi-credits-used, x-aimlapi-usd-spent).
        self.create_headers: dict[str, str] = {}
        self.completion_headers: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        # Requests being served now, and when the last came or went (the chaos harness).
        self.activity = Activity()
        self.jobs: dict[str, Job] = {}
        self._forced: dict[Endpoint, deque[_Forced]] = {"create": deque(), "fetch": deque()}
        self.faults = FaultTable(STT_FAULT_KINDS, seed)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closing = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        return create_app(self)

    async def start(self) -> str:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{host}:{port}/v1"
        return self._url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeStt:
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
            raise RuntimeError("FakeStt is not started")
        return self._url

    # --- knobs ---------------------------------------------------------------------------

    def fail_next(
        self,
        endpoint: Endpoint,
        status: int,
        *,
        count: int = 1,
        retry_after: str | float | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `count` requests to `endpoint` with an HTTP error (§6 body)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = self._error_body(status, message, f"/v1/stt/{endpoint}")
        for _ in range(count):
            self._forced[endpoint].append(_Forced(status, body, "application/json", headers))

    def malformed_next(
        self,
        endpoint: Endpoint,
        body: str | object = "<html>upstream hiccup</html>",
        *,
        count: int = 1,
        status: int | None = None,
    ) -> None:
        """Answer with `body`: text as is (not JSON), anything else JSON-encoded."""
        if isinstance(body, str):
            raw, content_type = body.encode(), "text/html"
        else:
            raw, content_type = json.dumps(body).encode(), "application/json"
        code = status if status is not None else (201 if endpoint == "create" else 200)
        for _ in range(count):
            self._forced[endpoint].append(_Forced(code, raw, content_type, {}))

    def stall_next(self, endpoint: Endpoint, seconds: float, *, count: int = 1) -> None:
        """Hold the next `count` requests for `seconds` before answering them normally."""
        for _ in range(count):
            self._forced[endpoint].append(_Forced(0, b"", "", {}, stall=seconds))

    def set_fault_rate(
        self,
        endpoint: Endpoint,
        kind: str,
        probability: float,
        *,
        status: int = 502,
        retry_after: float = 1,
        seconds: float = 30.0,
    ) -> None:
        """Each request to `endpoint` suffers a fault of `kind` (STT_FAULT_KINDS) with this
        probability, drawn from the seeded generator after the queued knobs. 0 removes it.

        status is the 5xx's code, retry_after the 429's Retry-After, seconds how long a hang
        lasts (close() cuts it short).
        """
        if kind == "error" and endpoint != "create":
            raise ValueError("the 'error' fault decides a job's fate: set it on 'create'")
        fault = Fault(kind, status=status, retry_after=retry_after, seconds=seconds)
        self.faults.set_rate(endpoint, fault, probability)

    def clear_faults(self) -> None:
        """Drop the queued knobs and every rate."""
        self.faults.clear()
        for queue in self._forced.values():
            queue.clear()

    def expire(self, generation_id: str) -> None:
        """Forget a job, as the API does after an hour: fetching it then answers 404."""
        self.jobs.pop(generation_id, None)

    # --- what happened -------------------------------------------------------------------

    def completed_at(self, generation_id: str) -> float:
        """clock() at the moment the job became completed (KeyError if it has not, yet)."""
        job = self.jobs[generation_id]
        if job.completed_at is None:
            raise KeyError(f"job {generation_id} has not completed")
        return job.completed_at

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        if endpoint == "create":
            return [r for r in self.requests if r.path == "/v1/stt/create"]
        return [r for r in self.requests if r.method == "GET" and r.path.startswith("/v1/stt/")]

    # --- internals -----------------------------------------------------------------------

    def _error_body(self, status: int, message: str | None, path: str) -> bytes:
        return json.dumps(
            {
                "message": message if message is not None else MESSAGES.get(status, "Error"),
                "path": path,
                "requestId": str(uuid.uuid4()),
                "statusCode": status,
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
        ).encode()

    def _error(self, status: int, path: str, message: str | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=self._error_body(status, message, path),
            content_type="application/json",
        )

    async def _forced_response(self, endpoint: Endpoint) -> tuple[web.Response | None, bool]:
        """A queued or drawn fault's answer (None: serve normally), and whether a job created
        by this request must end in error."""
        queue = self._forced[endpoint]
        if queue:
            forced = queue.popleft()
        else:
            fault = self.faults.draw(endpoint)
            if fault is None:
                return None, False
            if fault.kind == "error":
                return None, True
            forced = self._forced_for(endpoint, fault)
        if forced.stall:
            await self._stall(forced.stall)
            return None, False
        response = web.Response(
            status=forced.status,
            body=forced.body,
            content_type=forced.content_type,
            headers=dict(forced.headers),
        )
        return response, False

    def _forced_for(self, endpoint: Endpoint, fault: Fault) -> _Forced:
        path = f"/v1/stt/{endpoint}"
        if fault.kind == "hang":
            return _Forced(0, b"", "", {}, stall=fault.seconds)
        if fault.kind == "malformed":
            status = 201 if endpoint == "create" else 200
            return _Forced(status, b"<html>upstream hiccup</html>", "text/html", {})
        if fault.kind == "429":
            retry_after = f"{fault.retry_after:g}"
            body = self._error_body(429, None, path)
            return _Forced(429, body, "application/json", {"Retry-After": retry_after})
        status = 404 if fault.kind == "404" else fault.status
        return _Forced(status, self._error_body(status, None, path), "application/json", {})

    async def _stall(self, seconds: float) -> None:
        # Cut short by close(), so a test never waits out a stall nobody listens to.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _record(self, request: web.Request) -> RecordedRequest:
        auth = request.headers.get("Authorization", "")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            at=self.clock(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            auth_ok=auth == f"Bearer {self.api_key}",
        )
        self.requests.append(record)
        return record

    async def handle_create(self, request: web.Request) -> web.Response:
        record = self._record(request)
        try:
            response = await self._create(request, record)
        except ConnectionError:
            # The client left while its upload was held (a hang): nobody hears this answer,
            # and no job was created.
            response = web.Response(status=499)
        record.status = response.status
        return response

    async def _create(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if not record.auth_ok:
            return self._error(401, request.path)
        forced, fail_job = await self._forced_response("create")
        if forced is not None:
            return forced

        fields: dict[str, object] = {}
        data: bytes | None = None
        if request.content_type == "application/json":
            record.kind = "json"
            try:
                body = await request.json()
            except ValueError:
                return self._error(400, request.path, "Body validation error! Invalid JSON")
            if not isinstance(body, dict):
                return self._error(400, request.path, "Body validation error!")
            fields = dict(body)
        elif request.content_type == "multipart/form-data":
            record.kind = "multipart"
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None and part.name in ("audio", "file"):
                    data = await part.read()
                    record.audio = AudioInfo(
                        field=part.name,
                        size=len(data),
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                    )
                else:
                    fields[part.name] = await part.text()
        else:
            record.kind = "other"

        model = fields.pop("model", None)
        record.model = model if isinstance(model, str) else None
        record.params = fields
        if not isinstance(model, str) or model not in MODEL_FAMILIES:
            return self._error(
                400,
                request.path,
                f"Body validation error! model: Invalid enum value. Received '{model}'",
            )
        url = fields.get("url")
        if data is None and not isinstance(url, str):
            return self._error(400, request.path, "Body validation error! Expected audio or url")

        upload = Upload(
            model=model,
            params=dict(fields),
            data=data,
            filename=record.audio.filename if record.audio else None,
            content_type=record.audio.content_type if record.audio else None,
            url=url if data is None and isinstance(url, str) else None,
        )
        job = Job(
            generation_id=str(uuid.uuid4()),
            upload=upload,
            family=MODEL_FAMILIES[model],
            created_at=self.clock(),
            delay=self.delay(upload) if callable(self.delay) else self.delay,
            text=self.transcript(upload) if callable(self.transcript) else self.transcript,
            error=("Error", "The generation failed") if fail_job else self.job_error,
        )
        self.jobs[job.generation_id] = job
        record.generation_id = job.generation_id
        return web.json_response(
            {"generation_id": job.generation_id, "status": "queued"},
            status=self.create_status,
            headers=self.create_headers,
        )

    async def handle_fetch(self, request: web.Request) -> web.Response:
        record = self._record(request)
        record.generation_id = request.match_info["generation_id"]
        response = await self._fetch(request, record)
        record.status = response.status
        return response

    async def _fetch(self, request: web.Request, record: RecordedRequest) -> web.Response:
        generation_id = request.match_info["generation_id"]
        if not record.auth_ok:
            return self._error(401, request.path)
        forced, _ = await self._forced_response("fetch")
        if forced is not None:
            return forced
        now = self.clock()
        job = self.jobs.get(generation_id)
        if job is None or now - job.created_at > self.retention:
            return self._error(404, request.path)
        job.polls += 1
        ready = now - job.created_at >= job.delay and job.pending_answers >= self.min_pending_polls
        if job.completed_at is None and not ready:
            statuses = self.pending_statuses or ("queued",)
            status = statuses[min(job.pending_answers, len(statuses) - 1)]
            job.pending_answers += 1
            job.last_pending_at = now
            return self._envelope(job, status, None, None)
        if job.completed_at is None:
            # When it became done: the end of its processing, or the poll that released it.
            job.completed_at = max(job.created_at + job.delay, job.last_pending_at or 0.0)
        if job.error is not None:
            name, message = job.error
            return self._envelope(
                job, self.failure_status, None, {"name": name, "message": message}
            )
        answer = self._envelope(job, self.completed_status, self._result(job), None)
        answer.headers.update(self.completion_headers)
        return answer

    def _envelope(self, job: Job, status: str, result: object, error: object) -> web.Response:
        id_key, result_key = (
            ("id", "output")
            if self.envelope == "output"
            else (
                "generation_id",
                "result",
            )
        )
        return web.json_response(
            {id_key: job.generation_id, "status": status, result_key: result, "error": error}
        )

    # --- result shapes (§5.3-5.5) --------------------------------------------------------

    def _result(self, job: Job) -> dict[str, object]:
        if job.family == "deepgram":
            return self._deepgram(job)
        if job.family == "assemblyai":
            return self._assemblyai(job)
        return {
            "text": job.text,
            "usage": {
                "type": "tokens",
                "total_tokens": 135,
                "input_tokens": 100,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 100},
                "output_tokens": 35,
            },
        }

    @staticmethod
    def _timed_tokens(text: str) -> list[tuple[str, float, float]]:
        step = WORD_SECONDS + GAP_SECONDS
        return [
            (token, round(i * step, 3), round(i * step + WORD_SECONDS, 3))
            for i, token in enumerate(text.split())
        ]

    def _deepgram(self, job: Job) -> dict[str, object]:
        params = job.upload.params
        formatted = _truthy(params.get("punctuate")) or _truthy(params.get("smart_format"))
        diarize = _truthy(params.get("diarize"))
        tokens = self._timed_tokens(job.text)
        # Whisper on Deepgram answers lowercase and unpunctuated unless asked (docs §5.3).
        transcript = job.text if formatted else " ".join(_plain(t) for t, _, _ in tokens)
        words: list[dict[str, object]] = []
        for token, start, end in tokens:
            word: dict[str, object] = {
                "word": _plain(token),
                "start": start,
                "end": end,
                "confidence": 0.98,
            }
            if formatted:
                word["punctuated_word"] = token
            if diarize:
                word["speaker"] = 0
                word["speaker_confidence"] = 0.9
            words.append(word)
        alternative: dict[str, object] = {
            "transcript": transcript,
            "confidence": 0.98,
            "words": words,
        }
        if tokens and (_truthy(params.get("paragraphs")) or _truthy(params.get("smart_format"))):
            alternative["paragraphs"] = {
                "transcript": "\n" + transcript,
                "paragraphs": [
                    {
                        "sentences": [
                            {"text": s, "start": tokens[0][1], "end": tokens[-1][2]}
                            for s in re.split(r"(?<=[.!?])\s+", transcript)
                            if s
                        ],
                        "num_words": len(tokens),
                        "start": tokens[0][1],
                        "end": tokens[-1][2],
                        **({"speaker": 0} if diarize else {}),
                    }
                ],
            }
        channel: dict[str, object] = {"alternatives": [alternative]}
        if _truthy(params.get("detect_language")):
            channel["detected_language"] = self.detected_language
            channel["language_confidence"] = 0.97
        model_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, job.upload.model))
        name = job.upload.model.removeprefix("#g1_")
        if name.startswith("nova-2-"):
            name = name.removeprefix("nova-2-") + "-nova-2"
        duration = tokens[-1][2] + GAP_SECONDS if tokens else 0.0
        results: dict[str, object] = {"channels": [channel]}
        if _truthy(params.get("utterances")) and tokens:
            results["utterances"] = [
                {
                    "start": tokens[0][1],
                    "end": tokens[-1][2],
                    "confidence": 0.98,
                    "channel": 0,
                    "transcript": transcript,
                    "words": words,
                    "speaker": 0,
                    "id": str(uuid.uuid4()),
                }
            ]
        return {
            "metadata": {
                "transaction_key": "deprecated",
                "request_id": str(uuid.uuid4()),
                "sha256": "0" * 64,
                "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "duration": duration,
                "channels": 1,
                "models": [model_uuid],
                "model_info": {
                    model_uuid: {"name": name, "version": "2024-01-09.29447", "arch": name}
                },
            },
            "results": results,
        }

    def _assemblyai(self, job: Job) -> dict[str, object]:
        params = job.upload.params
        labels = _truthy(params.get("speaker_labels"))
        tokens = self._timed_tokens(job.text)
        words = [
            {
                "text": token,
                "start": round(start * 1000),
                "end": round(end * 1000),
                "confidence": 0.89,
                "speaker": "A" if labels else None,
            }
            for token, start, end in tokens
        ]
        utterances = (
            [
                {
                    "text": job.text,
                    "start": words[0]["start"],
                    "end": words[-1]["end"],
                    "confidence": 0.89,
                    "speaker": "A",
                    "words": words,
                }
            ]
            if labels and words
            else None
        )
        detect = _truthy(params.get("language_detection"))
        language = params.get("language_code")
        return {
            "id": job.generation_id,
            "language_model": "assemblyai_default",
            "acoustic_model": "assemblyai_default",
            "language_code": language if isinstance(language, str) else "en_us",
            "status": "completed",
            "audio_url": job.upload.url or "https://cdn.assemblyai.com/upload/fake",
            "text": job.text,
            "words": words,
            "utterances": utterances,
            "confidence": 0.83,
            "audio_duration": round(tokens[-1][2]) if tokens else 0,
            "punctuate": _truthy(params.get("punctuate", True)),
            "format_text": _truthy(params.get("format_text", True)),
            "speaker_labels": labels,
            "speech_model": job.upload.model.removeprefix("aai/"),
            "language_detection": detect,
            "language_confidence": 0.97 if detect else None,
            "summary": None,
            "chapters": None,
            "entities": None,
            "throttled": False,
        }


def create_app(fake: FakeStt) -> web.Application:
    """The aiohttp application serving `fake`'s API under /v1."""
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[fake.activity.middleware])
    app.router.add_post("/v1/stt/create", fake.handle_create)
    app.router.add_get("/v1/stt/{generation_id}", fake.handle_fetch)
    return app
