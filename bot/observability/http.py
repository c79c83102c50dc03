"""The operator's HTTP server: /healthz, /metrics, and whatever routes the composition root adds
(the webhook, bot/telegram/webhook.py). One aiohttp server on HTTP_HOST:HTTP_PORT.

/healthz answers 200 only when the event loop answers (it is running this handler) and the
database takes a real write (the probe the composition root passes), else 503; the body is a
short JSON object naming what failed, never a path or a message that could hold one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final

from aiohttp import web

from bot.observability.metrics import CONTENT_TYPE, BotMetrics, LiveState

log = logging.getLogger(__name__)

# Longer than a healthy write ever takes, shorter than the healthchecks' own timeouts.
PROBE_TIMEOUT: Final = 3.0

Probe = Callable[[], Coroutine[Any, Any, None]]


class OperatorServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        probe: Probe,
        metrics: BotMetrics,
        live_state: Callable[[], Awaitable[LiveState]],
        routes: Sequence[web.RouteDef] = (),
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._host = host
        self._port = port
        self._probe = probe
        self._metrics = metrics
        self._live_state = live_state
        self._routes = list(routes)
        self._probe_timeout = probe_timeout
        self._runner: web.AppRunner | None = None
        # A probe that outlived its timeout keeps running: it is never cancelled half-way
        # through a database statement, and the next check waits on it instead of piling up.
        self._pending_probe: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (HTTP_PORT, or the one the system chose for 0)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the operator's HTTP server is not running")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._render_metrics)
        app.router.add_routes(self._routes)
        # No access log: a webhook path may be a secret of its own.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("operator HTTP server on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop answering; requests in progress (a webhook saving its update) finish first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        await asyncio.sleep(0)  # a turn of the loop: how long other work holds it up
        loop_lag = time.monotonic() - started
        problem = await self._database_problem()
        if problem is not None:
            return web.json_response({"status": "unhealthy", "database": problem}, status=503)
        return web.json_response(
            {"status": "ok", "database": "writable", "loop_lag_seconds": round(loop_lag, 4)}
        )

    async def _database_problem(self) -> str | None:
        if self._pending_probe is None or self._pending_probe.done():
            self._pending_probe = asyncio.create_task(self._probe(), name="health-probe")
            self._pending_probe.add_done_callback(_consume_error)
        try:
            await asyncio.wait_for(asyncio.shield(self._pending_probe), self._probe_timeout)
        except TimeoutError:
            return "no answer"
        except Exception as error:
            log.warning("health probe: the database is not writable: %s", type(error).__name__)
            return "not writable"
        return None

    async def _render_metrics(self, request: web.Request) -> web.Response:
        try:
            self._metrics.update(await self._live_state())
        except Exception as error:
            # The counters are still worth serving; the levels keep their last values.
            log.warning("metrics: could not read the live state: %s", type(error).__name__)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def _consume_error(task: asyncio.Task[None]) -> None:
    # A probe that failed after its caller gave up: its error is already reported as 503.
    if not task.cancelled():
        task.exception()
