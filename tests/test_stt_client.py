"""AimlSttClient and AimlBackend against the fake API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate

import aiohttp
import pytest

from bot.retry import RetryPolicy
from bot.stt.aiml_backend import AimlBackend
from bot.stt.backend import SttBackend
from bot.stt.catalogue import aiml_models, build_params, get_model
from bot.stt.client import AimlSttClient, classify_status, parse_retry_after
from bot.stt.errors import (
    AuthError,
    JobFailedError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    OutOfCreditsError,
    RateLimitedError,
    ServerError,
    SttError,
    SttTimeoutError,
    UnsupportedModelError,
    ValidationError,
)
from bot.stt.types import AudioUpload, JobRequest
from tests.fakes.stt import FakeStt, Upload

KEY = "sk-test-0123456789abcdef"
AUDIO = AudioUpload(data=b"OggS" + bytes(2000), filename="voice.ogg", mime_type="audio/ogg")
TEXT = "He doesn't belong to you. And I don't see how you have anything to do with it."


@pytest.fixture
async def fake() -> AsyncIterator[FakeStt]:
    async with FakeStt(api_key=KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def client(fake: FakeStt, session: aiohttp.ClientSession) -> AimlSttClient:
    return AimlSttClient(session, fake.url, KEY, request_timeout=2.0)


class FastPlanner:
    """Polls every `interval` seconds, `limit` times (forever if None); records what it learns."""

    def __init__(self, interval: float = 0.01, limit: int | None = None) -> None:
        self.interval = interval
        self.limit = limit
        self.plans: list[tuple[str, float | None, float]] = []
        self.observed: list[tuple[str, float | None, float]] = []

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        self.plans.append((model, audio_seconds, elapsed))
        return itertools.islice(itertools.repeat(self.interval), self.limit)

    def observe(
        self,
        model: str,
        audio_seconds: float | None,
        completed_after: float,
        uncertainty: float = 0.0,
    ) -> None:
        self.observed.append((model, audio_seconds, completed_after))


class RecordingSleep:
    """Records every requested sleep but only yields to the loop, so backoffs cost nothing."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


def make_backend(
    client: AimlSttClient,
    planner: FastPlanner | None = None,
    sleep: RecordingSleep | None = None,
    retry: RetryPolicy | None = None,
) -> AimlBackend:
    return AimlBackend(
        client,
        planner or FastPlanner(),
        retry=retry or RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, jitter=0),
        sleep=sleep or asyncio.sleep,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- create --------------------------------------------------------------------------------


async def test_create_upload_is_multipart_with_text_fields(
    fake: FakeStt, client: AimlSttClient
) -> None:
    params = {
        "punctuate": True,
        "diarize": False,
        "utt_split": 0.8,
        "tag": ["bot", "voice"],
        "custom_spelling": [{"from": "aiml", "to": "AIML"}],
        "keywords": "kenobi",
        "language": None,  # None means: do not send
    }
    generation_id = await client.create_upload(AUDIO, "#g1_whisper-large", params)

    assert generation_id in fake.jobs
    (request,) = fake.requests
    assert request.kind == "multipart"
    assert request.model == "#g1_whisper-large"
    assert request.params == {
        "punctuate": "true",
        "diarize": "false",
        "utt_split": "0.8",
        "tag": '["bot","voice"]',
        "custom_spelling": '[{"from":"aiml","to":"AIML"}]',
        "keywords": "kenobi",
    }
    assert request.audio is not None
    assert (request.audio.field, request.audio.size) == ("audio", AUDIO.size)
    assert (request.audio.filename, request.audio.content_type) == ("voice.ogg", "audio/ogg")
    assert request.auth_ok
    assert "Authorization" not in request.headers
    assert request.status == 201
    assert fake.jobs[generation_id].upload.data == AUDIO.data


async def test_create_from_url_is_json(fake: FakeStt, client: AimlSttClient) -> None:
    generation_id = await client.create_from_url(
        "https://example.com/a.mp3", "aai/universal", {"speaker_labels": True, "speakers": 2}
    )
    (request,) = fake.requests
    assert request.kind == "json"
    assert request.model == "aai/universal"
    assert request.params == {
        "speaker_labels": True,
        "speakers": 2,
        "url": "https://example.com/a.mp3",
    }
    assert request.audio is None
    assert fake.jobs[generation_id].upload.url == "https://example.com/a.mp3"


async def test_create_accepts_200_and_id_key(fake: FakeStt, client: AimlSttClient) -> None:
    fake.create_status = 200
    assert await client.create_upload(AUDIO, "openai/gpt-4o-transcribe", {}) in fake.jobs
    fake.malformed_next("create", {"id": "RlLz0hRdAs9voL5Qi1Pzr", "status": "queued"})
    assert await client.create_upload(AUDIO, "openai/gpt-4o-transcribe", {}) == (
        "RlLz0hRdAs9voL5Qi1Pzr"
    )


async def test_unknown_model_is_a_validation_error_with_the_api_message(
    client: AimlSttClient,
) -> None:
    with pytest.raises(ValidationError) as info:
        await client.create_upload(AUDIO, "#g1_nova-3", {})
    assert info.value.status == 400
    assert "Body validation error!" in str(info.value)
    assert "#g1_nova-3" in str(info.value)
    assert not info.value.transient


async def test_fake_rejects_a_create_without_audio(
    fake: FakeStt, session: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with session.post(
        f"{fake.url}/stt/create", json={"model": "aai/slam-1"}, headers=headers
    ) as response:
        assert response.status == 400
        assert (await response.json())["message"].startswith("Body validation error!")


async def test_wrong_key_is_an_auth_error_without_the_key(
    fake: FakeStt, session: aiohttp.ClientSession
) -> None:
    wrong = "sk-wrong-key-98765"
    client = AimlSttClient(session, fake.url, wrong)
    with pytest.raises(AuthError) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert info.value.status == 401
    assert "valid API key" in str(info.value)
    assert wrong not in str(info.value)
    assert not fake.requests[0].auth_ok
    with pytest.raises(AuthError):
        await client.fetch("whatever")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ValidationError),
        (401, AuthError),
        (403, OutOfCreditsError),
        (404, NotFoundError),
        (408, SttTimeoutError),
        (413, ValidationError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (418, SttError),
    ],
)
async def test_http_errors_are_typed(
    fake: FakeStt, client: AimlSttClient, status: int, error_class: type[SttError]
) -> None:
    fake.fail_next("create", status)
    with pytest.raises(error_class) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert type(info.value) is error_class
    assert info.value.status == status
    assert f"HTTP {status}" in str(info.value)
    fake.fail_next("fetch", status)
    with pytest.raises(error_class):
        await client.fetch("some-id")


async def test_forced_errors_are_used_up(fake: FakeStt, client: AimlSttClient) -> None:
    fake.fail_next("create", 503, count=2)
    for _ in range(2):
        with pytest.raises(ServerError, match="Service unavailable"):
            await client.create_upload(AUDIO, "aai/slam-1", {})
    assert await client.create_upload(AUDIO, "aai/slam-1", {})
    assert [r.status for r in fake.requests_to("create")] == [503, 503, 201]


async def test_retry_after_seconds(fake: FakeStt, client: AimlSttClient) -> None:
    fake.fail_next("create", 429, retry_after=7)
    with pytest.raises(RateLimitedError) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert info.value.retry_after == 7.0
    assert info.value.transient
    fake.fail_next("fetch", 429)
    with pytest.raises(RateLimitedError) as info:
        await client.fetch("x")
    assert info.value.retry_after is None


async def test_retry_after_http_date(fake: FakeStt, client: AimlSttClient) -> None:
    fake.fail_next("fetch", 429, retry_after=formatdate(time.time() + 30, usegmt=True))
    with pytest.raises(RateLimitedError) as info:
        await client.fetch("x")
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after(formatdate(now + 42, usegmt=True), now=now) == 42.0
    assert parse_retry_after(formatdate(now - 42, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


async def test_the_key_never_leaks(
    fake: FakeStt, client: AimlSttClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert KEY not in repr(client)
    # An error page echoing the key back must not carry it into the exception.
    fake.fail_next("create", 400, message=f"bad header: Bearer {KEY}")
    with pytest.raises(ValidationError) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert KEY not in str(info.value)
    assert "[REDACTED]" in str(info.value)
    backend = make_backend(client)
    fake.fail_next("fetch", 500)
    generation_id = await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    await backend.wait_result(generation_id, JobRequest("aai/slam-1"), 3.0)
    assert KEY not in repr(backend)
    assert caplog.records  # the client and backend did log
    assert KEY not in caplog.text


async def test_network_error(session: aiohttp.ClientSession) -> None:
    client = AimlSttClient(session, f"http://127.0.0.1:{free_port()}/v1", KEY)
    with pytest.raises(NetworkError) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert info.value.transient
    assert KEY not in str(info.value)
    with pytest.raises(NetworkError):
        await client.fetch("x")


async def test_request_timeout(fake: FakeStt, session: aiohttp.ClientSession) -> None:
    client = AimlSttClient(session, fake.url, KEY, request_timeout=0.2, upload_timeout=0.2)
    fake.stall_next("fetch", 1.0)
    with pytest.raises(SttTimeoutError):
        await client.fetch("x")
    fake.stall_next("create", 1.0)
    with pytest.raises(SttTimeoutError) as info:
        await client.create_upload(AUDIO, "aai/slam-1", {})
    assert info.value.transient


@pytest.mark.parametrize(
    "body",
    [
        "<html>502 Bad Gateway</html>",
        ["generation_id"],
        {"status": "queued"},
        {"generation_id": ""},
        {"generation_id": None},
    ],
)
async def test_malformed_create(fake: FakeStt, client: AimlSttClient, body: object) -> None:
    fake.malformed_next("create", body)
    with pytest.raises(MalformedResponseError):
        await client.create_upload(AUDIO, "aai/slam-1", {})


@pytest.mark.parametrize(
    "body",
    ["not json at all", [], "null", {"generation_id": "x"}, {"status": 3, "result": {}}],
)
async def test_malformed_fetch(fake: FakeStt, client: AimlSttClient, body: object) -> None:
    fake.malformed_next("fetch", body)
    with pytest.raises(MalformedResponseError):
        await client.fetch("x")


# --- fetch and statuses --------------------------------------------------------------------


async def test_fetch_walks_queued_generating_completed(
    fake: FakeStt, client: AimlSttClient
) -> None:
    fake.min_pending_polls = 3
    generation_id = await client.create_upload(AUDIO, "#g1_nova-2-general", {})
    polls = [await client.fetch(generation_id) for _ in range(4)]
    assert [(p.state, p.status) for p in polls] == [
        ("pending", "queued"),
        ("pending", "generating"),
        ("pending", "generating"),
        ("success", "completed"),
    ]
    assert polls[0].result is None and polls[0].error is None
    assert isinstance(polls[-1].result, dict)
    assert fake.completed_at(generation_id) <= time.monotonic()


async def test_fetch_legacy_statuses_and_output_envelope(
    fake: FakeStt, client: AimlSttClient
) -> None:
    fake.pending_statuses = ("waiting", "active")
    fake.min_pending_polls = 2
    fake.envelope = "output"
    generation_id = await client.create_upload(AUDIO, "openai/gpt-4o-mini-transcribe", {})
    polls = [await client.fetch(generation_id) for _ in range(3)]
    assert [(p.state, p.status) for p in polls] == [
        ("pending", "waiting"),
        ("pending", "active"),
        ("success", "completed"),
    ]
    assert isinstance(polls[-1].result, dict)
    assert polls[-1].result["text"] == fake.transcript


async def test_fetch_waits_for_the_processing_delay(fake: FakeStt, client: AimlSttClient) -> None:
    fake.delay = lambda upload: 0.3 if upload.model.startswith("aai/") else 0.0
    slow = await client.create_upload(AUDIO, "aai/universal", {})
    fast = await client.create_upload(AUDIO, "#g1_whisper-tiny", {})
    assert (await client.fetch(slow)).state == "pending"
    assert (await client.fetch(fast)).state == "success"
    with pytest.raises(KeyError):
        fake.completed_at(slow)


async def test_failure_status_carries_the_api_message(fake: FakeStt, client: AimlSttClient) -> None:
    fake.job_error = ("TranscriptionError", "Audio file could not be decoded")
    generation_id = await client.create_upload(AUDIO, "aai/slam-1", {})
    poll = await client.fetch(generation_id)
    assert (poll.state, poll.status, poll.result) == ("failure", "error", None)
    assert poll.error == "TranscriptionError: Audio file could not be decoded"


async def test_unknown_status_is_terminal(fake: FakeStt, client: AimlSttClient) -> None:
    fake.completed_status = "done"
    generation_id = await client.create_upload(AUDIO, "openai/gpt-4o-transcribe", {})
    assert (await client.fetch(generation_id)).state == "success"
    fake.malformed_next("fetch", {"generation_id": "x", "status": "evaporated", "result": None})
    poll = await client.fetch("x")
    assert poll.state == "failure"
    assert poll.error is not None and "evaporated" in poll.error


async def test_expired_job_is_not_found(fake: FakeStt, client: AimlSttClient) -> None:
    generation_id = await client.create_upload(AUDIO, "aai/slam-1", {})
    fake.expire(generation_id)
    with pytest.raises(NotFoundError) as info:
        await client.fetch(generation_id)
    assert not info.value.transient
    fake.retention = 0.0
    other = await client.create_upload(AUDIO, "aai/slam-1", {})
    with pytest.raises(NotFoundError):
        await client.fetch(other)


@pytest.mark.parametrize(
    ("status", "result", "state"),
    [
        ("queued", None, "pending"),
        ("generating", None, "pending"),
        ("waiting", None, "pending"),
        ("active", None, "pending"),
        ("processing", None, "pending"),
        ("pending", None, "pending"),
        ("Queued", None, "pending"),
        ("completed", {"text": ""}, "success"),
        ("completed", None, "success"),
        ("error", None, "failure"),
        ("failed", None, "failure"),
        ("cancelled", None, "failure"),
        ("canceled", None, "failure"),
        ("timeout", {"text": "x"}, "failure"),
        ("succeeded", {"text": "x"}, "success"),
        ("succeeded", None, "failure"),
        ("", None, "failure"),
    ],
)
def test_classify_status(status: str, result: object, state: str) -> None:
    assert classify_status(status, result) == state


# --- AimlBackend ---------------------------------------------------------------------------


def test_backend_satisfies_the_protocol(client: AimlSttClient) -> None:
    backend: SttBackend = make_backend(client)
    assert backend.name == "aiml"


@pytest.mark.parametrize(
    ("model", "language", "expected_text"),
    [
        ("#g1_whisper-large", "en", TEXT),
        ("#g1_nova-2-general", None, TEXT),
        ("aai/universal", None, TEXT),
        ("openai/gpt-4o-transcribe", None, TEXT),
    ],
)
async def test_backend_end_to_end(
    fake: FakeStt, client: AimlSttClient, model: str, language: str | None, expected_text: str
) -> None:
    fake.transcript = TEXT
    fake.min_pending_polls = 2
    planner = FastPlanner()
    backend = make_backend(client, planner)
    request = JobRequest(model, build_params(get_model(model), language=language, diarize=True))

    generation_id = await backend.submit(AUDIO, request)
    started = time.monotonic()
    transcript = await backend.wait_result(generation_id, request, 4.5)

    assert transcript.text == expected_text
    assert transcript.model is not None
    assert fake.requests_to("create")[0].kind == "multipart"  # uploaded, never a URL
    assert len(fake.requests_to("fetch")) == 3
    assert planner.plans == [(model, 4.5, 0.0)]
    ((observed_model, seconds, completed_after),) = planner.observed
    assert (observed_model, seconds) == (model, 4.5)
    assert 0.0 < completed_after < time.monotonic() - started + 0.1
    if get_model(model).capabilities.word_timings:
        assert transcript.words[0].start == 0.0
        assert transcript.words[1].start == pytest.approx(0.5)  # seconds, also for AssemblyAI
        assert transcript.words[0].speaker == 0
    else:
        assert transcript.model == model


async def test_backend_default_params_make_whisper_readable(
    fake: FakeStt, client: AimlSttClient
) -> None:
    fake.transcript = "Hello, World."
    backend = make_backend(client)
    bare = JobRequest("#g1_whisper-base")
    readable = JobRequest(
        "#g1_whisper-base",
        build_params(get_model("#g1_whisper-base"), language=None, diarize=False),
    )
    for request, expected in ((bare, "hello world"), (readable, "Hello, World.")):
        generation_id = await backend.submit(AUDIO, request)
        assert (await backend.wait_result(generation_id, request, 1.0)).text == expected


async def test_backend_accepts_every_catalogue_model(fake: FakeStt, client: AimlSttClient) -> None:
    backend = make_backend(client)
    for spec in aiml_models():
        request = JobRequest(spec.id, build_params(spec, language="en", diarize=False))
        generation_id = await backend.submit(AUDIO, request)
        transcript = await backend.wait_result(generation_id, request, None)
        assert transcript.text, spec.id


async def test_backend_rejects_local_and_unknown_models(client: AimlSttClient) -> None:
    backend = make_backend(client)
    for model in ("local/base", "#g1_nova-3"):
        with pytest.raises(UnsupportedModelError):
            await backend.submit(AUDIO, JobRequest(model))
        with pytest.raises(UnsupportedModelError):
            await backend.wait_result("x", JobRequest(model), None)


async def test_submit_retries_transient_errors(fake: FakeStt, client: AimlSttClient) -> None:
    sleep = RecordingSleep()
    backend = make_backend(
        client, sleep=sleep, retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.5, jitter=0)
    )
    fake.fail_next("create", 503)
    fake.fail_next("create", 500)
    fake.fail_next("create", 502)
    generation_id = await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    assert generation_id in fake.jobs
    assert [r.status for r in fake.requests_to("create")] == [503, 500, 502, 201]
    assert sleep.calls == [0.5, 1.0, 1.5]  # exponential, capped


async def test_submit_honours_retry_after(fake: FakeStt, client: AimlSttClient) -> None:
    sleep = RecordingSleep()
    backend = make_backend(client, sleep=sleep)
    fake.fail_next("create", 429, retry_after=3)
    await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    assert sleep.calls == [3.0]


async def test_submit_gives_up_on_a_huge_retry_after(fake: FakeStt, client: AimlSttClient) -> None:
    sleep = RecordingSleep()
    backend = make_backend(client, sleep=sleep)
    fake.fail_next("create", 429, retry_after=3600)
    with pytest.raises(RateLimitedError):
        await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    assert sleep.calls == []


async def test_submit_gives_up_after_bounded_retries(fake: FakeStt, client: AimlSttClient) -> None:
    backend = make_backend(client, sleep=RecordingSleep())
    fake.fail_next("create", 500, count=5)
    with pytest.raises(ServerError):
        await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    assert len(fake.requests_to("create")) == 3


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, ValidationError), (401, AuthError), (403, OutOfCreditsError)],
)
async def test_submit_does_not_retry_permanent_errors(
    fake: FakeStt, client: AimlSttClient, status: int, error_class: type[SttError]
) -> None:
    backend = make_backend(client, sleep=RecordingSleep())
    fake.fail_next("create", status, count=3)
    with pytest.raises(error_class):
        await backend.submit(AUDIO, JobRequest("aai/slam-1"))
    assert len(fake.requests_to("create")) == 1


async def test_wait_result_retries_transient_fetch_errors(
    fake: FakeStt, client: AimlSttClient
) -> None:
    backend = make_backend(client)
    request = JobRequest("#g1_nova-2-meeting", {"punctuate": True})
    generation_id = await backend.submit(AUDIO, request)
    fake.fail_next("fetch", 500)
    fake.fail_next("fetch", 429, retry_after=0)
    transcript = await backend.wait_result(generation_id, request, 2.0)
    assert transcript.text == fake.transcript
    assert [r.status for r in fake.requests_to("fetch")] == [500, 429, 200]


async def test_wait_result_retries_malformed_answers(fake: FakeStt, client: AimlSttClient) -> None:
    # The API may well have done (and billed) the work: a garbled answer is worth another poll.
    backend = make_backend(client)
    request = JobRequest("aai/slam-1")
    generation_id = await backend.submit(AUDIO, request)
    fake.malformed_next("fetch", "{")
    fake.malformed_next("fetch", {"generation_id": generation_id, "status": "completed"})
    transcript = await backend.wait_result(generation_id, request, 2.0)
    assert transcript.text == fake.transcript
    assert len(fake.requests_to("fetch")) >= 3


async def test_wait_result_outlasts_fetch_errors(fake: FakeStt, client: AimlSttClient) -> None:
    # 5xx while polling is transient however many come in a row: only the job's own time limit
    # (enforced by the caller) ends the wait, not the retry policy's number of tries.
    backend = make_backend(client)
    request = JobRequest("aai/slam-1")
    generation_id = await backend.submit(AUDIO, request)
    fake.fail_next("fetch", 503, count=6)
    transcript = await backend.wait_result(generation_id, request, 2.0)
    assert transcript.text == fake.transcript
    assert [r.status for r in fake.requests_to("fetch")][:6] == [503] * 6


async def test_wait_result_stops_on_a_huge_retry_after(
    fake: FakeStt, client: AimlSttClient
) -> None:
    backend = make_backend(client)
    request = JobRequest("aai/slam-1")
    generation_id = await backend.submit(AUDIO, request)
    fake.fail_next("fetch", 429, retry_after=3600)
    with pytest.raises(RateLimitedError):
        await backend.wait_result(generation_id, request, 2.0)


async def test_wait_result_raises_not_found_as_is(fake: FakeStt, client: AimlSttClient) -> None:
    backend = make_backend(client)
    request = JobRequest("aai/slam-1")
    generation_id = await backend.submit(AUDIO, request)
    fake.expire(generation_id)
    with pytest.raises(NotFoundError):
        await backend.wait_result(generation_id, request, 2.0)
    assert len(fake.requests_to("fetch")) == 1  # no retries: the caller resubmits


async def test_wait_result_failure_status(fake: FakeStt, client: AimlSttClient) -> None:
    fake.job_error = ("Error", "The model is under maintenance")
    fake.failure_status = "failed"
    planner = FastPlanner()
    backend = make_backend(client, planner)
    request = JobRequest("#g1_whisper-medium")
    generation_id = await backend.submit(AUDIO, request)
    with pytest.raises(JobFailedError, match="under maintenance"):
        await backend.wait_result(generation_id, request, 2.0)
    assert planner.observed == []


async def test_wait_result_times_out_when_the_plan_runs_out(
    fake: FakeStt, client: AimlSttClient
) -> None:
    fake.delay = 60.0
    planner = FastPlanner(limit=3)
    backend = make_backend(client, planner)
    request = JobRequest("aai/universal")
    generation_id = await backend.submit(AUDIO, request)
    with pytest.raises(SttTimeoutError):
        await backend.wait_result(generation_id, request, 30.0)
    assert [r.generation_id for r in fake.requests_to("fetch")] == [generation_id] * 3


async def test_wait_result_resumes_with_elapsed(fake: FakeStt, client: AimlSttClient) -> None:
    planner = FastPlanner()
    backend = make_backend(client, planner)
    request = JobRequest("aai/universal")
    generation_id = await backend.submit(AUDIO, request)
    transcript = await backend.wait_result(generation_id, request, 8.0, elapsed=42.0)
    assert transcript.text == fake.transcript
    assert planner.plans == [("aai/universal", 8.0, 42.0)]
    # Done at the first poll after a restart: when it completed is unknown, so nothing learnt.
    assert planner.observed == []


async def test_wait_result_learns_midpoint_of_last_pending_and_completed(
    fake: FakeStt, client: AimlSttClient
) -> None:
    fake.delay = 0.25
    planner = FastPlanner(interval=0.05)
    backend = make_backend(client, planner)
    request = JobRequest("#g1_nova-2-general")
    # A slow upload, as CI once met on a busy box: the backend counts from when it starts
    # waiting, so the test does too, and the upload's time must not shift one clock.
    fake.stall_next("create", 0.3)
    generation_id = await backend.submit(AUDIO, request)
    before = time.monotonic()
    await backend.wait_result(generation_id, request, 5.0)
    (_, _, completed_after) = planner.observed[0]
    fetches = fake.requests_to("fetch")
    assert len(fetches) >= 4
    last_pending, completed = fetches[-2].at - before, fetches[-1].at - before
    # Up to the gap between the fake's clock reading and ours (request transit), on a busy box.
    assert last_pending - 0.1 <= completed_after <= completed + 0.2
    assert completed_after == pytest.approx((last_pending + completed) / 2, abs=0.15)
    assert fake.completed_at(generation_id) <= fetches[-1].at


async def test_schedule_latency_does_not_drift(fake: FakeStt, client: AimlSttClient) -> None:
    """Sleeps aim at planned moments: the time spent in a request is taken off the next sleep."""
    now = [0.0]
    sleeps: list[float] = []

    def clock() -> float:
        return now[0]

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds + 0.3  # every sleep overshoots; every poll is then late

    fake.min_pending_polls = 2
    planner = FastPlanner(interval=1.0)
    backend = AimlBackend(client, planner, sleep=sleep, clock=clock)
    request = JobRequest("aai/slam-1")
    generation_id = await backend.submit(AUDIO, request)
    await backend.wait_result(generation_id, request, 1.0)
    assert sleeps == pytest.approx([1.0, 0.7, 0.7])
    # Polls at 1.3 and 2.3 (pending) and 3.3 (completed): it completed about (2.3 + 3.3) / 2.
    assert planner.observed == [("aai/slam-1", 1.0, pytest.approx(2.8))]


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(
        attempts=5, base_delay=1.0, factor=2.0, max_delay=3.0, max_retry_after=10, jitter=0
    )
    assert [policy.next_delay(n, 0.0) for n in range(5)] == [1.0, 2.0, 3.0, 3.0, None]
    assert policy.next_delay(2, 0.0, retry_after=0.5) == 3.0
    assert policy.next_delay(0, 0.0, retry_after=9) == 9.0
    assert policy.next_delay(0, 0.0, retry_after=11) is None
    # A deadline stops it before the tries run out.
    assert policy.next_delay(1, 9.5, deadline=10.0) is None


def test_retry_policy_jitter_spreads_waiters() -> None:
    policy = RetryPolicy(base_delay=4.0, max_delay=4.0, jitter=0.5, attempts=None)
    delays = {policy.next_delay(0, 0.0) for _ in range(200)}
    assert all(d is not None and 2.0 <= d <= 4.0 for d in delays)
    assert len(delays) > 100  # not one instant for everybody


async def test_fake_records_uploads_for_callables(fake: FakeStt, client: AimlSttClient) -> None:
    seen: list[Upload] = []

    def transcript(upload: Upload) -> str:
        seen.append(upload)
        return f"{len(upload.data or b'')} bytes"

    fake.transcript = transcript
    backend = make_backend(client)
    request = JobRequest("openai/gpt-4o-transcribe", {"language": "de"})
    generation_id = await backend.submit(AUDIO, request)
    assert (await backend.wait_result(generation_id, request, None)).text == "2004 bytes"
    assert seen[0].params == {"language": "de"}
    assert seen[0].filename == "voice.ogg"
