"""LocalBackend: the job interface over engines, model-id mapping, expiry (fake model)."""

from __future__ import annotations

import threading

import pytest

from bot.local.backend import EnginesBusyError, LocalBackend, local_size_for_model
from bot.local.config import LocalConfig
from bot.local.engine import LocalWhisperEngine, QueueFullError
from bot.stt.errors import JobFailedError, NotFoundError, UnsupportedModelError, ValidationError
from bot.stt.types import AudioUpload, JobRequest
from tests.local.fake_model import FakeWhisper, fake_engine, tone_wav

pytestmark = pytest.mark.local_engine

UPLOAD = AudioUpload(tone_wav(), "voice.ogg", "audio/ogg")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend_with(
    model: FakeWhisper, clock: Clock | None = None, *, max_engines: int = 2
) -> LocalBackend:
    engines: dict[str, LocalWhisperEngine] = {}

    def factory(size: str) -> LocalWhisperEngine:
        engines[size] = fake_engine(model, size=size, queue=1)
        return engines[size]

    return LocalBackend(
        LocalConfig(size="base"),
        engine_factory=factory,
        available_sizes={"base"},
        clock=clock or Clock(),
        max_engines=max_engines,
    )


@pytest.mark.parametrize(
    ("model_id", "available", "expected"),
    [
        ("local/small", {"base"}, "small"),  # asked for by name: that size, from the hub
        ("local/large-v3", {"base"}, "large-v3"),
        ("#g1_whisper-large", {"base"}, "base"),  # offline: the packaged base serves it
        ("#g1_whisper-tiny", {"base"}, "base"),
        ("#g1_whisper-large", {"base", "medium"}, "medium"),
        ("#g1_whisper-small", {"base", "medium"}, "medium"),  # a tie goes to the larger
        ("#g1_whisper-tiny", {"tiny", "medium"}, "tiny"),
        ("#g1_whisper-medium", set(), "base"),  # nothing offline: the configured model
    ],
)
def test_model_ids_map_to_engine_sizes(model_id: str, available: set[str], expected: str) -> None:
    assert local_size_for_model(model_id, default_size="base", available=available) == expected


@pytest.mark.parametrize(
    "model_id", ["local/huge", "#g1_whisper-enormous", "#g1_nova-2-general", "aai/slam-1", ""]
)
def test_other_model_ids_are_refused(model_id: str) -> None:
    with pytest.raises(UnsupportedModelError):
        local_size_for_model(model_id, default_size="base", available={"base"})


async def test_submit_then_wait_returns_the_transcript() -> None:
    backend = backend_with(FakeWhisper())
    request = JobRequest("#g1_whisper-large", {"language": "de"})
    try:
        generation_id = await backend.submit(UPLOAD, request)
        transcript = await backend.wait_result(generation_id, request, audio_seconds=0.5)
        assert transcript.text == "hello world"
        assert transcript.language == "de"
        assert transcript.model == "local/base"  # the size really used
        job = backend.job(generation_id)
        assert (job.size, job.model, job.mime_type) == ("base", "#g1_whisper-large", "audio/ogg")
        # Results stay readable after being collected, as the API's do.
        assert (await backend.wait_result(generation_id, request, 0.5)).text == "hello world"
    finally:
        await backend.close()


async def test_an_unknown_id_is_not_found_so_the_pipeline_resubmits() -> None:
    backend = backend_with(FakeWhisper())
    with pytest.raises(NotFoundError) as missing:
        await backend.wait_result("from-before-a-restart", JobRequest("local/base"), None)
    assert missing.value.status == 404
    await backend.close()


async def test_results_expire_after_an_hour() -> None:
    clock = Clock()
    backend = backend_with(FakeWhisper(), clock)
    request = JobRequest("local/base")
    try:
        generation_id = await backend.submit(UPLOAD, request)
        await backend.wait_result(generation_id, request, None)
        clock.now += 3599
        assert backend.job(generation_id).job.state == "completed"
        clock.now += 2
        with pytest.raises(NotFoundError):
            backend.job(generation_id)
    finally:
        await backend.close()


async def test_submit_nowait_refuses_when_the_queue_is_full() -> None:
    gate = threading.Event()
    backend = backend_with(FakeWhisper(gate=gate))
    request = JobRequest("local/base")
    try:
        ids = [backend.submit_nowait(UPLOAD, request) for _ in range(2)]
        with pytest.raises(QueueFullError):
            backend.submit_nowait(UPLOAD, request)
        gate.set()
        for generation_id in ids:
            assert (await backend.wait_result(generation_id, request, None)).text == "hello world"
    finally:
        gate.set()
        await backend.close()


async def test_failures_are_typed() -> None:
    backend = backend_with(FakeWhisper(fail_with=RuntimeError("CTranslate2 exploded")))
    request = JobRequest("local/base")
    try:
        broken = await backend.submit(UPLOAD, request)
        with pytest.raises(JobFailedError, match="CTranslate2 exploded"):
            await backend.wait_result(broken, request, None)
        assert backend.job(broken).job.state == "error"

        garbage = await backend.submit(AudioUpload(b"nope" * 100, "x.ogg", "audio/ogg"), request)
        with pytest.raises(ValidationError, match="could not decode"):
            await backend.wait_result(garbage, request, None)
    finally:
        await backend.close()


async def test_only_a_few_idle_engines_are_kept() -> None:
    backend = backend_with(FakeWhisper(), max_engines=1)
    try:
        base = backend.engine("base")
        small = backend.engine("small")
        assert backend.engine("small") is small
        with pytest.raises(Exception, match="closed"):
            base.try_enqueue(UPLOAD.data)  # evicted: it was idle
    finally:
        await backend.close()


async def test_a_busy_engine_is_not_evicted() -> None:
    gate = threading.Event()
    backend = backend_with(FakeWhisper(gate=gate), max_engines=1)
    try:
        generation_id = backend.submit_nowait(UPLOAD, JobRequest("local/base"))
        # Nor is a second one loaded beside it: the cap holds while engines are busy.
        with pytest.raises(EnginesBusyError):
            backend.engine("small")
        assert backend.engines_alive == ("base",)
        gate.set()
        result = await backend.wait_result(generation_id, JobRequest("local/base"), None)
        assert result.text == "hello world"
    finally:
        gate.set()
        await backend.close()
