"""python-telegram-bot's rate limiter, interactive first (a `telegram.ext.BaseRateLimiter`).

PTB's own AIORateLimiter keeps one queue: a reply to /start sent while thousands of transcripts
wait is answered after all of them (143 s at 5,000 notes in flight). Here each request is marked
by the gateway (`rate_limit_args`: `Traffic.BULK` for the pipeline's status messages, transcripts
and files; anything unmarked is interactive) and bot/telegram/flood_schedule.py picks which goes
next under Telegram's limits.

What is limited: requests that post to a chat (they carry a `chat_id`). Reads (`get*`: getFile,
getChatMember) and requests without a chat (answerCallbackQuery, getMe, setMyCommands) go at
once, as in PTB's limiter; getUpdates never reaches a rate limiter at all.

A request may carry a `Dispatch` instead of a bare `Traffic`: its `before` is awaited the moment
the request leaves, after its turn. The gateway records a send as in flight there, not before
the wait: a stop while a request waits its turn leaves it surely unsent (and sent again after a
restart), so only the round trip itself can make a send ambiguous.

The limiter never retries. A 429 is re-raised to the gateway, whose one retry policy waits it
out (bot/retry.py); but since Telegram's flood control is global per bot, a 429 also pauses every
request here for its `retry_after`.

No task runs in the background: each request admits whatever is due when it arrives, and one
timer wakes the schedule at its next change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.flood_schedule import FloodLimits, FloodSchedule, Ticket, Traffic
from bot.telegram.outcomes import classify

Result = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A request's traffic class, and what must happen the moment it leaves."""

    traffic: Traffic
    before: Callable[[], Awaitable[None]]


Marking = Traffic | Dispatch


def traffic_of(marking: Marking | None) -> Traffic:
    if isinstance(marking, Dispatch):
        return marking.traffic
    return marking or Traffic.INTERACTIVE


async def leaving(marking: Marking | None) -> None:
    """Run the request's `before`, if it has one: it is about to go on the wire."""
    if isinstance(marking, Dispatch):
        await marking.before()


Callback = Callable[..., Coroutine[Any, Any, Result]]
Clock = Callable[[], float]


def chat_of(data: dict[str, Any]) -> int | str | None:
    """The chat a request posts to, as Telegram counts it: an int id, or an @username."""
    chat_id = data.get("chat_id")
    if chat_id is None or isinstance(chat_id, int):
        return chat_id
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)


class PriorityRateLimiter(BaseRateLimiter[Marking]):
    def __init__(self, limits: FloodLimits | None = None, *, clock: Clock = time.monotonic) -> None:
        self._schedule = FloodSchedule(limits)
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._resumed: asyncio.Event | None = None  # set while no 429 pause holds

    async def initialize(self) -> None:
        self._resumed = asyncio.Event()
        self._resumed.set()

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def backlog(self) -> int:
        """Chats whose next message waits only for a global slot (see FloodSchedule)."""
        return self._schedule.backlog()

    def waiting_in(self, chat_id: int) -> int:
        """Messages waiting to be sent to this chat."""
        return self._schedule.waiting_in(chat_id)

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Marking | None,
    ) -> Result:
        chat = chat_of(data)
        ticket: Ticket | None = None
        if chat is None or endpoint.startswith("get"):
            await self._unpaused()
        else:
            ticket = await self._turn(chat, traffic_of(rate_limit_args))
        try:
            await leaving(rate_limit_args)
        except BaseException:
            if ticket is not None:
                self._give_back(ticket)
            raise
        if ticket is not None:
            # It counts against the limits from this moment, when it really goes.
            self._schedule.depart(ticket, self._clock())
            self._pump()
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            self._pause(classify(error).retry_after or 0.0)
            raise

    async def _unpaused(self) -> None:
        if self._clock() < self._schedule.paused_until():
            assert self._resumed is not None, "initialize() first"
            await self._resumed.wait()

    async def _turn(self, chat: int | str, traffic: Traffic) -> Ticket:
        """Wait until the schedule lets this request go."""
        admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ticket = self._schedule.submit(chat, traffic, self._clock(), admitted)
        self._pump()
        try:
            await admitted
        except asyncio.CancelledError:
            self._give_back(ticket)
            raise
        return ticket

    def _give_back(self, ticket: Ticket) -> None:
        """The request will not go: out of the queue, or its held slots freed."""
        self._schedule.cancel(ticket, self._clock())
        self._pump()

    def _pause(self, seconds: float) -> None:
        self._schedule.pause(self._clock() + seconds)
        if self._resumed is not None:
            self._resumed.clear()
        self._pump()

    def _pump(self) -> None:
        """Admit every request that is due, then set the timer for the next change."""
        now = self._clock()
        for ticket in self._schedule.take_due(now):
            _admit(ticket)
        if self._resumed is not None and now >= self._schedule.paused_until():
            self._resumed.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        moment = self._schedule.next_change(now)
        paused = now < self._schedule.paused_until()
        if moment is None and paused:
            moment = self._schedule.paused_until()  # to let the un-queued requests go
        if moment is not None:
            self._timer = asyncio.get_running_loop().call_later(max(0.0, moment - now), self._pump)


def _admit(ticket: Ticket) -> None:
    admitted = ticket.payload
    assert isinstance(admitted, asyncio.Future)
    if not admitted.done():
        admitted.set_result(None)


class NoRateLimiter(BaseRateLimiter[Marking]):
    """Every request goes at once (TELEGRAM_RATE_LIMIT=off: for benchmarks of the bot's own
    cost, never against the real Telegram). It takes the same `rate_limit_args`."""

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Marking | None,
    ) -> Result:
        await leaving(rate_limit_args)
        return await callback(*args, **kwargs)
