"""The job API server's guards and error answers, without a model: URL checks, auth, bodies."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient, TestServer

from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.local.engine import LoadRequest, LocalWhisperEngine
from bot.net import guards
from bot.net.guards import (
    PublicOnlyResolver,
    UrlRefusedError,
    check_public_host,
    is_public_address,
    parse_fetch_url,
)
from bot.server.app import API_KEY, JobApi, ServerConfig, create_app
from bot.server.errors import AUTH_MESSAGE
from tests.local.fake_model import tone_wav

KEY = "server-test-key-1"
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata endpoints live here
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.mp3", "file:///etc/passwd", "not a url", "http://", "//x/y"]
)
def test_only_http_urls_with_a_host_are_fetched(url: str) -> None:
    with pytest.raises(UrlRefusedError):
        parse_fetch_url(url)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "::ffff:127.0.0.1", "localhost", "10.9.8.7"]
)
async def test_hosts_resolving_to_private_addresses_are_refused(host: str) -> None:
    with pytest.raises(UrlRefusedError, match="non-public"):
        await check_public_host(host, 80)


async def test_a_public_literal_needs_no_lookup() -> None:
    await check_public_host("93.184.216.34", 443)


class FixedResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_the_client_resolver_refuses_a_host_with_any_private_address() -> None:
    # Checked again at connection time: a host that re-resolves elsewhere (DNS rebinding)
    # cannot slip a private address past the first check.
    mixed = PublicOnlyResolver(FixedResolver("93.184.216.34", "10.0.0.5"))
    with pytest.raises(UrlRefusedError):
        await mixed.resolve("rebind.example", 80)
    public = PublicOnlyResolver(FixedResolver("93.184.216.34"))
    assert [r["host"] for r in await public.resolve("example.com", 80)] == ["93.184.216.34"]


class NeverLoaded:
    """A model loader for tests whose requests must never reach a model."""

    def __call__(self, request: LoadRequest) -> object:
        raise AssertionError("no job should have been started")


def idle_backend(local: LocalConfig | None = None) -> LocalBackend:
    return LocalBackend(
        local or LocalConfig(size="base"),
        engine_factory=lambda size: LocalWhisperEngine(size, loader=NeverLoaded()),  # type: ignore[arg-type]
        available_sizes={"base"},
    )


async def client_for(
    config: ServerConfig, local: LocalConfig | None = None
) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(idle_backend(local), config))
    )
    await client.start_server()
    return client


@pytest.fixture
async def api() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await client_for(ServerConfig(keys=frozenset({KEY, "other"}), max_upload_bytes=1000))
    yield client
    await client.close()


AUTH = {"Authorization": f"Bearer {KEY}"}


async def error_of(response: aiohttp.ClientResponse, status: int) -> str:
    """Check the API's error body (docs §6) and return its message."""
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert body["statusCode"] == status
    assert body["path"] == response.url.path
    assert body["timestamp"].endswith("Z")
    datetime.fromisoformat(body["timestamp"])
    return str(body["message"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": "Basic x"}],
)
async def test_requests_without_a_valid_key_get_401(
    api: TestClient[web.Request, web.Application], headers: dict[str, str]
) -> None:
    for response in (
        await api.post("/v1/stt/create", json={"model": "#g1_whisper-base"}, headers=headers),
        await api.get("/v1/stt/some-id", headers=headers),
    ):
        assert await error_of(response, 401) == AUTH_MESSAGE
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    # A self-hosted server has no billing page: its 401 must not send anybody to aimlapi.com.
    assert "aimlapi" not in AUTH_MESSAGE.lower() and "billing" not in AUTH_MESSAGE.lower()


async def test_every_configured_key_is_accepted(
    api: TestClient[web.Request, web.Application],
) -> None:
    response = await api.get("/v1/stt/some-id", headers={"Authorization": "Bearer other"})
    assert response.status == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "model: Required"),
        ({"model": "#g1_nova-2-general", "url": "http://x"}, "Invalid enum value"),
        ({"model": "aai/slam-1", "url": "http://x"}, "received 'aai/slam-1'"),
        ({"model": "local/huge", "url": "http://x"}, "Invalid enum value"),
        ({"model": 7, "url": "http://x"}, "model: Expected string"),
        ({"model": "#g1_whisper-large"}, "url or audio is required"),
        ({"model": "local/base", "url": "ftp://example.com/a.ogg"}, "http:// or https://"),
        ([1, 2], "Expected object"),
    ],
)
async def test_bad_bodies_get_400(
    api: TestClient[web.Request, web.Application], body: object, fragment: str
) -> None:
    response = await api.post("/v1/stt/create", json=body, headers=AUTH)
    message = await error_of(response, 400)
    assert message.startswith("Body validation error!")
    assert fragment in message


async def test_unparseable_or_unsupported_bodies_get_400(
    api: TestClient[web.Request, web.Application],
) -> None:
    response = await api.post(
        "/v1/stt/create", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert "not valid JSON" in await error_of(response, 400)
    response = await api.post(
        "/v1/stt/create", data=b"x", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert "multipart/form-data" in await error_of(response, 400)


async def test_an_upload_over_the_limit_gets_413(
    api: TestClient[web.Request, web.Application],
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "#g1_whisper-base")
    form.add_field("audio", b"OggS" + b"\x00" * 5000, filename="a.mp3", content_type="audio/mpeg")
    response = await api.post("/v1/stt/create", data=form, headers=AUTH)
    assert "larger than 1000 bytes" in await error_of(response, 413)


async def test_unknown_ids_and_routes_get_404(
    api: TestClient[web.Request, web.Application],
) -> None:
    await error_of(await api.get("/v1/stt/0b3e4c1e-unknown", headers=AUTH), 404)
    await error_of(await api.get("/v1/audio/transcriptions", headers=AUTH), 404)


@pytest.fixture
async def audio_host() -> AsyncIterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records requests; /redirect points at another loopback IP."""
    seen: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/redirect":
            port = request.url.port
            raise web.HTTPFound(f"http://127.0.0.2:{port}/voice.ogg")
        return web.Response(body=b"OggS" + b"\x00" * 4000, content_type="audio/ogg")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", seen
    await server.close()


async def test_urls_on_private_addresses_are_refused_without_fetching(
    api: TestClient[web.Request, web.Application], audio_host: tuple[str, list[str]]
) -> None:
    base, seen = audio_host
    for url in (f"{base}/voice.ogg", f"http://localhost:{base.rsplit(':', 1)[1]}/voice.ogg"):
        response = await api.post(
            "/v1/stt/create", json={"model": "#g1_whisper-base", "url": url}, headers=AUTH
        )
        assert "non-public address" in await error_of(response, 400)
    assert seen == []


async def test_a_redirect_to_a_private_address_is_refused(
    audio_host: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, seen = audio_host
    # Pretend 127.0.0.1 is public so that the first hop is fetched; its redirect is not.
    monkeypatch.setattr(guards, "is_public_address", lambda address: address == "127.0.0.1")
    client = await client_for(ServerConfig(keys=frozenset({KEY})))
    try:
        response = await client.post(
            "/v1/stt/create",
            json={"model": "#g1_whisper-base", "url": f"{base}/redirect"},
            headers=AUTH,
        )
        assert "non-public address" in await error_of(response, 400)
    finally:
        await client.close()
    assert seen == ["/redirect"]


async def test_allowed_private_urls_are_fetched_within_the_size_limit(
    audio_host: tuple[str, list[str]],
) -> None:
    base, seen = audio_host
    body = {"model": "#g1_whisper-base", "url": f"{base}/voice.ogg"}
    small = await client_for(
        ServerConfig(keys=frozenset({KEY}), allow_private_urls=True, max_upload_bytes=1000)
    )
    roomy = await client_for(ServerConfig(keys=frozenset({KEY}), allow_private_urls=True))
    try:
        response = await small.post("/v1/stt/create", json=body, headers=AUTH)
        assert "larger than 1000 bytes" in await error_of(response, 413)
        response = await roomy.post("/v1/stt/create", json=body, headers=AUTH)
        assert response.status == 201, await response.text()
        assert (await response.json())["generation_id"]
    finally:
        await small.close()
        await roomy.close()
    assert seen == ["/voice.ogg", "/voice.ogg"]


def serve_api(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve-api", "--port", "0", *args],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_api_refuses_to_start_without_keys() -> None:
    result = serve_api()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "STT_SERVER_KEYS" in result.stderr and "--insecure-no-auth" in result.stderr


def test_serve_api_refuses_keys_together_with_no_auth() -> None:
    result = serve_api("--insecure-no-auth", env={"STT_SERVER_KEYS": "a,b"})
    assert result.returncode == 2
    assert "conflicts" in result.stderr


# --- serve-api under load and abuse ------------------------------------------------------------


def create_head(*, key: str = KEY, content_length: int, expect: bool = False) -> bytes:
    """The head of a multipart create whose body is still to come."""
    lines = [
        "POST /v1/stt/create HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        "Content-Type: multipart/form-data; boundary=cut",
        f"Content-Length: {content_length}",
        *(["Expect: 100-continue"] if expect else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and headers of the next response (or interim response) on a raw socket."""
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    status_line, *header_lines = raw.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    return int(status_line.split()[1]), headers


class SlowUpload:
    """A create whose body trickles in: admitted, it holds a place while its audio arrives."""

    def __init__(self, port: int, key: str = KEY) -> None:
        self.port, self.key = port, key
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> SlowUpload:
        _, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(create_head(key=self.key, content_length=10_000_000) + b"--cut\r\n")
        await self.writer.drain()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.writer is not None
        self.writer.close()


def job_api(client: TestClient[web.Request, web.Application]) -> JobApi:
    return client.app[API_KEY]


async def until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_full_server_answers_429_before_reading_a_body() -> None:
    client = await client_for(
        ServerConfig(keys=frozenset({KEY})), LocalConfig(size="base", workers=1, queue_size=0)
    )
    port = client.server.port
    assert port is not None
    try:
        async with SlowUpload(port):
            await until(lambda: job_api(client).arriving == 1, "the slow upload's admission")
            # Headers only: not one byte of this body is ever sent, and the answer comes.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(create_head(content_length=10_000_000))
            await writer.drain()
            status, headers = await read_head(reader)
            writer.close()
            assert (status, headers["Retry-After"]) == (429, "5")

            # A client that asks first (Expect: 100-continue) is refused without a 100.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(create_head(content_length=10_000_000, expect=True))
            await writer.drain()
            status, _ = await read_head(reader)
            writer.close()
            assert status == 429
        await until(lambda: job_api(client).arriving == 0, "the slow upload to leave")

        # With room again, the same question gets "go ahead".
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(create_head(content_length=10_000_000, expect=True))
        await writer.drain()
        status, _ = await read_head(reader)
        writer.close()
        assert status == 100
    finally:
        await client.close()


async def test_url_jobs_beyond_capacity_are_refused_before_any_download() -> None:
    release = asyncio.Event()
    fetched: list[str] = []

    async def slow_audio(request: web.Request) -> web.Response:
        fetched.append(request.path)
        await release.wait()
        raise web.HTTPNotFound()

    host_app = web.Application()
    host_app.router.add_get("/{name}", slow_audio)
    host = TestServer(host_app, host="127.0.0.1")
    await host.start_server()
    # One worker and one queued place: room for two jobs, whose audio arrives slowly.
    client = await client_for(
        ServerConfig(
            keys=frozenset({KEY}),
            allow_private_urls=True,
            key_jobs_per_minute=100,
            key_jobs_in_flight=100,
        ),
        LocalConfig(size="base", workers=1, queue_size=1),
    )
    try:
        posts = [
            asyncio.create_task(
                client.post(
                    "/v1/stt/create",
                    json={"model": "#g1_whisper-base", "url": f"{host.make_url(f'/n{i}.ogg')}"},
                    headers=AUTH,
                )
            )
            for i in range(40)
        ]
        await until(lambda: sum(task.done() for task in posts) >= 38, "38 refusals")
        answered = [task for task in posts if task.done()]
        assert len(answered) == 38  # answered while two downloads are still held
        for task in answered:
            response = task.result()
            assert "queue is full" in await error_of(response, 429)
            assert response.headers["Retry-After"] == "5"
        await until(lambda: len(fetched) == 2, "the two admitted downloads")

        release.set()
        for task in posts:
            if task in answered:
                continue
            response = await task
            assert "HTTP 404" in await error_of(response, 400)
    finally:
        release.set()
        await client.close()
        await host.close()
    assert len(fetched) == 2
    assert job_api(client).arriving == 0


async def test_each_key_is_limited_in_jobs_a_minute() -> None:
    client = await client_for(ServerConfig(keys=frozenset({KEY, "other"}), key_jobs_per_minute=2))
    body = {"model": "local/huge", "url": "http://x"}  # refused after admission: still counted
    try:
        for _ in range(2):
            await error_of(await client.post("/v1/stt/create", json=body, headers=AUTH), 400)
        response = await client.post("/v1/stt/create", json=body, headers=AUTH)
        assert "2 jobs a minute per key" in await error_of(response, 429)
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # Another key has its own minute.
        other = {"Authorization": "Bearer other"}
        await error_of(await client.post("/v1/stt/create", json=body, headers=other), 400)
    finally:
        await client.close()


async def test_each_key_is_limited_in_jobs_in_flight() -> None:
    client = await client_for(ServerConfig(keys=frozenset({KEY, "other"}), key_jobs_in_flight=1))
    port = client.server.port
    assert port is not None
    body = {"model": "local/huge", "url": "http://x"}
    try:
        async with SlowUpload(port):
            await until(lambda: job_api(client).arriving == 1, "the slow upload's admission")
            response = await client.post("/v1/stt/create", json=body, headers=AUTH)
            assert "1 unfinished jobs per key" in await error_of(response, 429)
            assert response.headers["Retry-After"] == "5"
            other = {"Authorization": "Bearer other"}
            await error_of(await client.post("/v1/stt/create", json=body, headers=other), 400)
    finally:
        await client.close()


async def test_only_the_offered_models_can_be_loaded() -> None:
    async def message(client: TestClient[web.Request, web.Application], model: str) -> str:
        response = await client.post("/v1/stt/create", json={"model": model}, headers=AUTH)
        return await error_of(response, 400)

    # By default: AIML's ids and the sizes at hand, never one to fetch from a hub.
    default = await client_for(ServerConfig(keys=frozenset({KEY})))
    chosen = await client_for(
        ServerConfig(keys=frozenset({KEY}), models=frozenset({"local/large-v3"}))
    )
    try:
        assert "received 'local/large-v3'" in await message(default, "local/large-v3")
        assert "url or audio is required" in await message(default, "local/base")
        assert "url or audio is required" in await message(default, "#g1_whisper-large")
        assert "url or audio is required" in await message(chosen, "local/large-v3")
        assert "received '#g1_whisper-base'" in await message(chosen, "#g1_whisper-base")
    finally:
        await default.close()
        await chosen.close()
    with pytest.raises(ValueError, match="aai/slam-1"):
        create_app(idle_backend(), ServerConfig(models=frozenset({"aai/slam-1"})))


async def test_audio_longer_than_the_cap_is_refused_before_it_is_queued() -> None:
    client = await client_for(ServerConfig(keys=frozenset({KEY}), max_audio_seconds=1.5))
    try:
        form = aiohttp.FormData()
        form.add_field("model", "#g1_whisper-base")
        form.add_field("audio", tone_wav(seconds=2.0), filename="a.wav")
        response = await client.post("/v1/stt/create", data=form, headers=AUTH)
        message = await error_of(response, 400)
        assert "lasts 0:00:02, longer than the 0:00:02 this server accepts" in message
    finally:
        await client.close()
