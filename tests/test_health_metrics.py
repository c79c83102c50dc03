"""/healthz and /metrics: served whenever HTTP_PORT is set, healthy and not, counters moving as
jobs run, and a Grafana dashboard that plots only metrics that exist."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.app import BotRuntime
from bot.observability.http import OperatorServer
from bot.observability.metrics import BotMetrics, LiveState
from bot.pipeline.transcription import MAX_SUBMISSIONS
from storage.db import Database
from storage.health import Heartbeat
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import AUDIO, final_reply, settled

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "stt-bot.json"
USER = 6001
MODEL = "#g1_whisper-large"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def base_url(runtime: BotRuntime) -> str:
    assert runtime.http is not None, "the operator's HTTP server should be running"
    return f"http://127.0.0.1:{runtime.http.port}"


async def get(url: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=15)) as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def scrape(runtime: BotRuntime) -> Samples:
    status, content_type, body = await get(f"{base_url(runtime)}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_healthz_and_metrics_are_served_when_http_port_is_set(
    settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(HTTP_PORT="0", BUDGET_DAILY_SECONDS="900")) as runtime:
        status, content_type, body = await get(f"{base_url(runtime)}/healthz")
        samples = await scrape(runtime)
    assert status == 200 and content_type.startswith("application/json")
    health = json.loads(body)
    assert health["status"] == "ok" and health["database"] == "writable"
    assert value(samples, "stt_bot_budget_daily_seconds") == 900
    assert ("stt_bot_jobs_in_flight", frozenset()) in samples
    assert all(name.startswith("stt_bot_") for name, _ in samples)


async def test_no_http_server_without_http_port(
    settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()) as runtime:
        assert runtime.http is None


async def test_healthz_is_503_while_the_database_cannot_be_written(
    settings_for: SettingsFactory, running_bot: BotFactory, database_path: Path
) -> None:
    async with running_bot(settings_for(HTTP_PORT="0")) as runtime:
        url = f"{base_url(runtime)}/healthz"
        # Another process holds the database's write lock (a stuck tool, a copy gone wrong).
        holder = sqlite3.connect(database_path, timeout=0, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            status, _, body = await get(url)
            assert status == 503
            assert json.loads(body) == {"status": "unhealthy", "database": "no answer"}
            # The event loop still answers everything else meanwhile.
            assert (await get(f"{base_url(runtime)}/metrics"))[0] == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # The lock is gone: healthy again, once the probe that waited for it is through.
        await asyncio.sleep(0.2)
        status, _, body = await get(url)
    assert status == 200, body


@pytest.fixture
async def closed_database_server(tmp_path: Path) -> AsyncIterator[tuple[OperatorServer, Database]]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    metrics = BotMetrics(CollectorRegistry())

    async def live() -> LiveState:
        return LiveState(0, 0, 0, 0.0, 0.0)

    server = OperatorServer(
        "127.0.0.1", 0, probe=Heartbeat(database).beat, metrics=metrics, live_state=live
    )
    await server.start()
    try:
        yield server, database
    finally:
        await server.stop()


async def test_healthz_is_503_once_the_database_connection_is_closed(
    closed_database_server: tuple[OperatorServer, Database],
) -> None:
    server, database = closed_database_server
    url = f"http://127.0.0.1:{server.port}/healthz"
    assert (await get(url))[0] == 200
    await database.close()
    status, _, body = await get(url)
    assert status == 503
    assert json.loads(body) == {"status": "unhealthy", "database": "not writable"}


async def test_metrics_move_as_jobs_run(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.completion_headers = {"x-aimlapi-credits-used": "1200", "x-aimlapi-usd-spent": "0.0006"}
    settings = settings_for(HTTP_PORT="0", QUOTA_DAILY_SECONDS="60", BUDGET_DAILY_SECONDS="600")
    async with running_bot(settings) as runtime:
        before = await scrape(runtime)
        # One delivered job, with polls, a cost and a delivery latency.
        done = telegram.push_voice(USER, AUDIO, duration=4, file_unique_id="talk")
        assert (await final_reply(telegram, USER, done["message_id"])).text == stt.transcript
        await settled(runtime)
        # The same file again: answered from the cache.
        again = telegram.push_voice(USER, AUDIO, duration=4, file_unique_id="talk")
        await final_reply(telegram, USER, again["message_id"])
        # One failed job; one refused by the daily quota; a Telegram error on the way.
        stt.job_error = ("failed", "boom")
        failed = telegram.push_voice(USER, AUDIO, duration=5)
        await final_reply(telegram, USER, failed["message_id"])
        await settled(runtime)
        refused = telegram.push_voice(USER, AUDIO, duration=61)
        telegram.fail_next("sendMessage", 502)
        await final_reply(telegram, USER, refused["message_id"])
        await settled(runtime)
        after = await scrape(runtime)

    assert value(before, "stt_bot_jobs_finished_total", state="delivered", reason="none") == 0
    assert value(after, "stt_bot_jobs_finished_total", state="delivered", reason="none") == 2
    assert value(after, "stt_bot_jobs_finished_total", state="failed", reason="api_error") == 1
    assert value(after, "stt_bot_jobs_finished_total", state="failed", reason="quota") == 1
    assert value(after, "stt_bot_job_duration_seconds_count") == 4
    assert value(after, "stt_bot_quota_refusals_total", kind="daily") == 1
    assert value(after, "stt_bot_cache_hits_total") == 1
    # One wait per generation: the delivered job's, and each of the failed job's tries (a
    # generation failing upstream is submitted again, MAX_SUBMISSIONS in all).
    assert value(after, "stt_bot_polls_per_job_count") == 1 + MAX_SUBMISSIONS
    assert value(after, "stt_bot_polls_per_job_sum") >= 2
    assert value(after, "stt_bot_added_latency_seconds_count") == 1  # the cache has no API
    assert value(after, "stt_bot_audio_seconds_total", model=MODEL) > 0
    assert value(after, "stt_bot_api_credits_total") == 1200
    assert value(after, "stt_bot_api_usd_total") == pytest.approx(0.0006)
    assert value(after, "stt_bot_telegram_errors_total", kind="NetworkError") >= 1
    # Levels: nothing running any more; the delivered job's 4 s are today's spend.
    assert value(after, "stt_bot_jobs_in_flight") == 0
    assert value(after, "stt_bot_transfer_queue_depth") == 0
    assert value(after, "stt_bot_inbox_backlog") == 0
    assert value(after, "stt_bot_spend_today_seconds") == 4
    assert value(after, "stt_bot_spend_month_seconds") == 4


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert expressions, "the dashboard plots nothing"
    return {name for expr in expressions for name in re.findall(r"\bstt_bot_[a-z_]+", expr)}


def exposed_names(body: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(body):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


async def test_every_metric_the_dashboard_plots_exists(
    settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(HTTP_PORT="0")) as runtime:
        _, _, body = await get(f"{base_url(runtime)}/metrics")
    plotted = dashboard_metric_names()
    missing = plotted - exposed_names(body)
    assert not missing, f"the dashboard plots metrics /metrics does not have: {sorted(missing)}"
    # And it plots every family the bot exposes (the _created series aside).
    families = {
        family.name
        for family in text_string_to_metric_families(body)
        if not family.name.endswith("_created")
    }
    unplotted = {
        name
        for name in families
        if not any(plotted_name.startswith(name) for plotted_name in plotted)
    }
    assert not unplotted, f"metrics no panel plots: {sorted(unplotted)}"
