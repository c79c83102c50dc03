"""How busy a fake is: the bot's requests in flight, and when it last sent or got an answer.

The chaos harness stops a scenario when the bot has made no request for a while (it gave up,
or died). A request the fake is still holding (a hang, a slow answer) is not silence: the bot
is waiting for it. Counted by an aiohttp middleware on each fake's application.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Activity:
    def __init__(self, *, ignore: Callable[[web.Request], bool] = lambda request: False) -> None:
        # Requests that are no sign of work (a long poll waiting for updates) are not counted.
        self._ignore = ignore
        self.in_flight = 0
        # time.monotonic() when a counted request last came in or was last answered.
        self.last_seen = time.monotonic()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._ignore(request):
            return await handler(request)
        self.in_flight += 1
        self.last_seen = time.monotonic()
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1
            self.last_seen = time.monotonic()


def idle_for(*activities: Activity) -> float:
    """Seconds since the last of these fakes saw a request come or go; 0 while one is held."""
    if any(activity.in_flight for activity in activities):
        return 0.0
    return time.monotonic() - max(activity.last_seen for activity in activities)
