"""The job API server's guards and error answers, without a model: URL checks, auth, bodies."""

from __future__ import annotations

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
from bot.server.app import AUTH_MESSAGE, ServerConfig, create_app

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


def idle_backend() -> LocalBackend:
    return LocalBackend(
        LocalConfig(size="base"),
        engine_factory=lambda size: LocalWhisperEngine(size, loader=NeverLoaded()),  # type: ignore[arg-type]
        available_sizes={"base"},
    )


async def client_for(config: ServerConfig) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(idle_backend(), config))
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
