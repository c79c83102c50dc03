"""The engine's bounded queue and job handles, on a fake model (real PyAV decoding, no weights)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from bot.local.backend import EnginesBusyError, LocalBackend
from bot.local.config import LocalConfig
from bot.local.engine import (
    EngineClosedError,
    EngineOptions,
    LoadRequest,
    LocalWhisperEngine,
    QueueFullError,
    load_faster_whisper,
)
from bot.stt.errors import ValidationError
from bot.stt.types import AudioUpload, JobRequest
from tests.local.fake_model import FakeWhisper, fake_engine, tone_wav

pytestmark = pytest.mark.local_engine

AUDIO = tone_wav()


async def started(model: FakeWhisper, count: int = 1) -> None:
    """Wait until `count` more jobs reached the model (they run in worker threads)."""
    for _ in range(count):
        assert await asyncio.to_thread(model.running.acquire, True, 5)


async def test_a_job_reports_waiting_active_then_completed() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, queue=2)
    try:
        first = engine.try_enqueue(AUDIO)
        second = engine.try_enqueue(AUDIO, language="de")
        await started(model)
        assert (first.state, second.state) == ("active", "waiting")
        assert first.transcript() is None and first.error() is None

        gate.set()
        transcript = await second.result()
        assert first.state == second.state == "completed"
        assert transcript.text == "hello world"
        assert transcript.language == "de"
        assert [w.text for w in transcript.words] == ["hello", "world"]
        assert transcript.duration == pytest.approx(0.5)
        assert transcript.model == "local/base"
        assert model.calls[0]["beam_size"] == 5 and model.calls[0]["vad_filter"] is True
        assert engine.pending == 0
    finally:
        gate.set()
        engine.close()


async def test_try_enqueue_refuses_when_every_place_is_taken() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, workers=1, queue=1)
    try:
        assert engine.capacity == 2
        jobs = [engine.try_enqueue(AUDIO), engine.try_enqueue(AUDIO)]
        with pytest.raises(QueueFullError) as refused:
            engine.try_enqueue(AUDIO)
        assert refused.value.status == 429 and refused.value.transient

        gate.set()
        for job in jobs:
            await job.result()
        engine.try_enqueue(AUDIO)  # a place is free again
    finally:
        gate.set()
        engine.close()


async def test_transcribe_waits_for_a_place_instead_of_dropping_work() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, workers=1, queue=0)
    try:
        busy = engine.try_enqueue(AUDIO)
        waiting = [asyncio.create_task(engine.transcribe(AUDIO)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)
        assert engine.pending == 1

        gate.set()
        await busy.result()
        results = await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
        assert [r.text for r in results] == ["hello world"] * 3
        assert len(model.calls) == 4
        assert engine.pending == 0
    finally:
        gate.set()
        engine.close()


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, workers=1, queue=0)
    try:
        busy = engine.try_enqueue(AUDIO)
        waiter = asyncio.create_task(engine.transcribe(AUDIO))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        await busy.result()
        assert engine.pending == 0
        engine.try_enqueue(AUDIO)
    finally:
        gate.set()
        engine.close()


async def test_undecodable_audio_is_a_validation_error_and_the_worker_survives() -> None:
    engine = fake_engine(FakeWhisper(), queue=1)
    try:
        for bad in (b"", b"definitely not audio" * 50, AUDIO[:40]):
            with pytest.raises(ValidationError, match="could not decode the audio"):
                await engine.transcribe(bad)
        assert (await engine.transcribe(AUDIO)).text == "hello world"
        assert engine.pending == 0
    finally:
        engine.close()


async def test_an_unknown_language_is_refused() -> None:
    engine = fake_engine(FakeWhisper())
    try:
        with pytest.raises(ValidationError, match="unsupported language"):
            await engine.transcribe(AUDIO, language="xx")
        assert (await engine.transcribe(AUDIO, language="auto")).language == "en"
        assert (await engine.transcribe(AUDIO, language="de-AT")).language == "de"
    finally:
        engine.close()


async def test_close_refuses_new_work_and_wakes_waiters() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, workers=1, queue=0)
    busy = engine.try_enqueue(AUDIO)
    waiter = asyncio.create_task(engine.transcribe(AUDIO))
    await asyncio.sleep(0.05)
    engine.close()
    with pytest.raises(EngineClosedError):
        await waiter
    with pytest.raises(EngineClosedError):
        engine.try_enqueue(AUDIO)
    gate.set()
    with pytest.raises(EngineClosedError):  # stopped at its first segment boundary
        await busy.result()
    assert busy.state == "error"


def test_an_engine_serves_one_event_loop_and_engines_can_share_a_model() -> None:
    model = FakeWhisper()
    engine = fake_engine(model, queue=1)
    try:
        assert asyncio.run(engine.transcribe(AUDIO)).text == "hello world"
        with pytest.raises(RuntimeError, match="one event loop"):
            asyncio.run(engine.transcribe(AUDIO))
    finally:
        engine.close()
    # One engine per loop over the same loaded model: how the tests share the real one.
    for _ in range(2):
        per_loop = fake_engine(model, queue=1)
        try:
            assert asyncio.run(per_loop.transcribe(AUDIO)).text == "hello world"
        finally:
            per_loop.close()
    assert len(model.calls) == 3


async def test_progress_is_reported_up_to_the_whole_duration() -> None:
    engine = fake_engine(FakeWhisper())
    seen: list[tuple[float, float]] = []
    try:
        await engine.transcribe(AUDIO, on_progress=lambda done, total: seen.append((done, total)))
    finally:
        engine.close()
    assert seen[0] == pytest.approx((0.4, 0.5))
    assert seen[-1] == pytest.approx((0.5, 0.5))


async def test_a_model_that_fails_to_load_is_a_typed_error() -> None:
    from bot.local.engine import LocalWhisperEngine, ModelLoadError

    def broken(_request: object) -> FakeWhisper:
        raise OSError("no route to the model hub")

    engine = LocalWhisperEngine("small", loader=broken)
    try:
        with pytest.raises(ModelLoadError, match="no route to the model hub"):
            await engine.transcribe(AUDIO)
        assert engine.pending == 0
    finally:
        engine.close()


def test_an_unusable_gpu_falls_back_to_the_cpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    import ctranslate2

    from bot.local import engine as engine_module

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.bin").write_bytes(b"weights")
    tried: list[str] = []

    def whisper_model(source: str, device: str, options: EngineOptions) -> FakeWhisper:
        tried.append(device)
        if device == "cuda":
            raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")
        return FakeWhisper()

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(engine_module, "_whisper_model", whisper_model)
    request = LoadRequest("base", model_dir, tmp_path, EngineOptions())

    assert isinstance(engine_module.load_faster_whisper(request), FakeWhisper)
    assert tried == ["cuda", "cpu"]
    assert "GPU is visible but unusable" in caplog.text

    tried.clear()
    engine_module.load_faster_whisper(
        LoadRequest("base", model_dir, tmp_path, EngineOptions(device="cpu"))
    )
    assert tried == ["cpu"]


async def test_two_workers_run_two_jobs_at_once() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    engine = fake_engine(model, workers=2, queue=0)
    try:
        first, second = engine.try_enqueue(AUDIO), engine.try_enqueue(AUDIO)
        await started(model, 2)  # both reached the model before either may finish
        gate.set()
        await first.result()
        await second.result()
    finally:
        gate.set()
        engine.close()
    assert engine.options.num_workers == 2  # the model gets a worker per thread
    a, b = first.times, second.times
    assert a.started is not None and a.finished is not None
    assert b.started is not None and b.finished is not None
    assert a.started < b.finished and b.started < a.finished  # the two overlapped


async def test_one_worker_runs_jobs_one_after_the_other() -> None:
    engine = fake_engine(FakeWhisper(), workers=1, queue=1)
    try:
        first, second = engine.try_enqueue(AUDIO), engine.try_enqueue(AUDIO)
        await first.result()
        await second.result()
    finally:
        engine.close()
    assert first.times.finished is not None and second.times.started is not None
    assert first.times.finished <= second.times.started


def test_cores_are_shared_among_the_workers() -> None:
    cores = os.cpu_count() or 1
    assert EngineOptions(num_workers=1).threads_per_worker() == cores
    assert EngineOptions(num_workers=2).threads_per_worker() == max(1, cores // 2)
    assert EngineOptions(num_workers=64).threads_per_worker() == 1
    assert EngineOptions(num_workers=2, cpu_threads=3).threads_per_worker() == 3


def test_the_real_model_gets_a_worker_per_engine_thread(model_cache: Path) -> None:
    # faster-whisper serialises concurrent calls unless the CTranslate2 model has as many
    # workers as there are threads calling it: the loaded model says how many it has.
    engine = LocalWhisperEngine("base", cache_dir=model_cache, workers=2, queue_size=0)
    try:
        request = LoadRequest("base", None, model_cache, engine.options)
        whisper = load_faster_whisper(request)
    finally:
        engine.close()
    assert whisper.model.num_workers == 2  # type: ignore[attr-defined]


async def test_a_third_size_waits_for_a_loaded_model_to_go_idle() -> None:
    gate = threading.Event()
    model = FakeWhisper(gate=gate)
    backend = LocalBackend(
        LocalConfig(size="tiny"),
        max_engines=1,
        engine_factory=lambda size: fake_engine(model, size=size, workers=1, queue=0),
        available_sizes={"tiny", "small"},
    )
    upload = AudioUpload(AUDIO, "a.wav", "audio/wav")
    try:
        busy = await backend.submit(upload, JobRequest("local/tiny"))
        waiting = asyncio.create_task(backend.submit(upload, JobRequest("local/small")))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        assert backend.engines_alive == ("tiny",)  # never more than the cap, busy or not
        with pytest.raises(EnginesBusyError):
            backend.submit_nowait(upload, JobRequest("local/small"))

        gate.set()
        await backend.wait_result(busy, JobRequest("local/tiny"), None)
        second = await asyncio.wait_for(waiting, timeout=5)
        transcript = await backend.wait_result(second, JobRequest("local/small"), None)
        assert transcript.model == "local/small"
        assert backend.engines_alive == ("small",)
    finally:
        gate.set()
        await backend.close()
