"""The rate limiter: interactive answers first, Telegram's limits kept, a 429 pauses everything.

The schedule (bot/telegram/flood_schedule.py) is told the time, so its rules are checked at
moments the test picks; the limiter around it takes an injected clock. The last test runs the
real Application against the fake Bot API and shows a command answered ahead of a backlog.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.telegram.flood_schedule import FloodLimits, FloodSchedule, Ticket, Traffic, Window
from bot.telegram.rate_limiter import Dispatch, PriorityRateLimiter, chat_of
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.telegram import FakeTelegram

BULK, INTERACTIVE = Traffic.BULK, Traffic.INTERACTIVE
# Wide enough that only the window a test is about ever closes.
OPEN = Window(1000, 1.0)


def schedule(overall: Window = OPEN, chat: Window = OPEN, group: Window = OPEN) -> FloodSchedule:
    return FloodSchedule(FloodLimits(overall=overall, chat=chat, group=group))


def names(tickets: list[Ticket]) -> list[object]:
    return [ticket.payload for ticket in tickets]


def sent(flood: FloodSchedule, now: float) -> list[object]:
    """What may go at `now`, each leaving at once."""
    due = flood.take_due(now)
    for ticket in due:
        flood.depart(ticket, now)
    return names(due)


# --- the schedule ------------------------------------------------------------------------


def test_an_interactive_answer_goes_before_bulk_that_waited_longer() -> None:
    flood = schedule(overall=Window(2, 1.0))
    for chat in range(1, 6):
        flood.submit(chat, BULK, 0.0, f"bulk{chat}")
    assert sent(flood, 0.0) == ["bulk1", "bulk2"]

    flood.submit(99, INTERACTIVE, 0.5, "start")
    assert sent(flood, 0.5) == []  # the window is full until 1.0
    assert flood.next_change(0.5) == 1.0
    assert sent(flood, 1.0) == ["start", "bulk3"]
    assert sent(flood, 2.0) == ["bulk4", "bulk5"]


def test_an_interactive_answer_overtakes_bulk_in_its_own_chat_too() -> None:
    flood = schedule(chat=Window(1, 1.0))
    flood.submit(7, BULK, 0.0, "status")
    flood.submit(7, BULK, 0.0, "transcript")
    assert sent(flood, 0.0) == ["status"]

    flood.submit(7, INTERACTIVE, 0.2, "help")
    assert sent(flood, 0.2) == []
    assert sent(flood, 1.0) == ["help"]
    assert sent(flood, 2.0) == ["transcript"]


def test_one_message_a_second_in_a_chat_without_holding_up_other_chats() -> None:
    flood = schedule(chat=Window(1, 1.0))
    for n in range(3):
        flood.submit(7, BULK, 0.0, f"a{n}")
    flood.submit(8, BULK, 0.0, "b0")

    assert sent(flood, 0.0) == ["a0", "b0"]
    assert flood.waiting_in(7) == 2
    assert flood.next_change(0.0) == 1.0
    assert sent(flood, 0.9) == []
    assert sent(flood, 1.0) == ["a1"]
    assert sent(flood, 2.0) == ["a2"]
    assert flood.waiting() == 0


def test_a_chat_may_burst_as_its_window_allows() -> None:
    flood = schedule(chat=Window(3, 3.0))
    for n in range(5):
        flood.submit(7, BULK, 0.0, n)
    assert sent(flood, 0.0) == [0, 1, 2]
    assert flood.next_change(0.0) == 3.0
    assert sent(flood, 3.0) == [3, 4]


def test_twenty_messages_a_minute_in_a_group_and_none_of_that_in_private_chats() -> None:
    flood = schedule(group=Window(20, 60.0))
    for n in range(25):
        flood.submit(-100123, BULK, 0.0, f"group{n}")
        flood.submit(4242, BULK, 0.0, f"private{n}")

    due = sent(flood, 0.0)
    assert sum(1 for name in due if str(name).startswith("group")) == 20
    assert sum(1 for name in due if str(name).startswith("private")) == 25
    assert flood.next_change(0.0) == 60.0
    assert sent(flood, 59.0) == []
    assert len(sent(flood, 60.0)) == 5


def test_a_channel_named_by_username_counts_as_a_group() -> None:
    flood = schedule(group=Window(1, 60.0))
    flood.submit("@news", BULK, 0.0, "first")
    flood.submit("@news", BULK, 0.0, "second")
    assert sent(flood, 0.0) == ["first"]
    assert sent(flood, 30.0) == []


def test_the_global_limit_holds_over_every_chat() -> None:
    flood = schedule(overall=Window(30, 1.0))
    for chat in range(100):
        flood.submit(chat, BULK, 0.0, chat)
    assert len(sent(flood, 0.0)) == 30
    assert flood.backlog() == 70  # chats whose next message waits only for a global slot
    assert len(sent(flood, 0.5)) == 0
    assert len(sent(flood, 1.0)) == 30
    assert len(sent(flood, 2.0)) == 30
    assert len(sent(flood, 3.0)) == 10
    assert flood.backlog() == 0


def test_a_pause_holds_everything_until_it_ends() -> None:
    flood = schedule()
    flood.pause(until=5.0)
    flood.submit(1, INTERACTIVE, 1.0, "start")
    assert sent(flood, 1.0) == []
    assert flood.next_change(1.0) == 5.0
    assert sent(flood, 5.0) == ["start"]


def test_a_cancelled_request_never_goes_and_uses_no_slot() -> None:
    flood = schedule(overall=Window(1, 1.0))
    gone = flood.submit(1, BULK, 0.0, "gone")
    flood.submit(2, BULK, 0.0, "kept")
    flood.cancel(gone, 0.0)
    assert flood.waiting() == 1
    assert sent(flood, 0.0) == ["kept"]
    assert flood.next_change(0.0) is None  # nothing left that waits


def test_a_request_holds_its_slot_until_it_leaves_and_counts_from_then() -> None:
    """What comes between its turn and the wire (the journal's write) may take a while: the
    next request is spaced from the moment this one really goes."""
    flood = schedule(overall=Window(1, 1.0))
    first = flood.submit(1, BULK, 0.0, "first")
    flood.submit(2, BULK, 0.0, "second")
    assert names(flood.take_due(0.0)) == ["first"]
    assert flood.take_due(0.5) == []
    assert flood.next_change(0.5) is None  # nothing frees a slot but its leaving
    flood.depart(first, 0.8)
    assert flood.next_change(0.8) == 1.8
    assert flood.take_due(1.7) == []
    assert names(flood.take_due(1.8)) == ["second"]


def test_a_chat_slot_is_held_the_same_way() -> None:
    flood = schedule(chat=Window(1, 1.0))
    first = flood.submit(7, BULK, 0.0, "first")
    flood.submit(7, BULK, 0.0, "second")
    assert names(flood.take_due(0.0)) == ["first"]
    flood.depart(first, 0.5)
    assert flood.take_due(1.4) == []
    assert names(flood.take_due(1.5)) == ["second"]


def test_a_request_that_never_leaves_gives_its_slot_back() -> None:
    flood = schedule(overall=Window(1, 1.0))
    gone = flood.submit(1, BULK, 0.0, "gone")
    flood.submit(2, BULK, 0.0, "next")
    assert names(flood.take_due(0.0)) == ["gone"]
    flood.cancel(gone, 0.3)  # cancelled, or its journal write failed, before the wire
    assert names(flood.take_due(0.3)) == ["next"]
    assert flood.waiting() == 0


def test_nothing_waiting_means_no_wake_up() -> None:
    flood = schedule()
    assert flood.next_change(0.0) is None
    flood.submit(1, BULK, 0.0, "x")
    assert flood.next_change(0.0) == 0.0
    sent(flood, 0.0)
    assert flood.next_change(0.0) is None


# --- the limiter -------------------------------------------------------------------------


class HandClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A callback standing in for PTB's request: records the order calls reach Telegram."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.fail_with = fail_with

    async def __call__(self, name: str) -> dict[str, Any]:
        self.calls.append(name)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        return {"ok": True}


async def request(
    limiter: PriorityRateLimiter,
    callback: Recorder,
    name: str,
    *,
    endpoint: str = "sendMessage",
    chat_id: int | None = 1,
    traffic: Traffic | None = None,
) -> object:
    data: dict[str, Any] = {} if chat_id is None else {"chat_id": chat_id}
    return await limiter.process_request(callback, (name,), {}, endpoint, data, traffic)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_429_is_raised_to_the_caller_and_pauses_every_request() -> None:
    clock = HandClock()
    limiter = PriorityRateLimiter(FloodLimits(overall=OPEN, chat=OPEN, group=OPEN), clock=clock)
    await limiter.initialize()
    telegram = Recorder(fail_with=RetryAfter(timedelta(seconds=30)))
    try:
        with pytest.raises(RetryAfter):
            await request(limiter, telegram, "flooded", chat_id=1)
        assert telegram.calls == ["flooded"]  # no retry inside the limiter

        other_chat = asyncio.create_task(request(limiter, telegram, "other chat", chat_id=2))
        no_chat = asyncio.create_task(
            request(limiter, telegram, "getFile", endpoint="getFile", chat_id=None)
        )
        await settle()
        assert telegram.calls == ["flooded"]  # held by the pause, whatever the chat

        clock.now = 30.5
        # Any request admits whatever is due (the timer would, 30 real seconds later).
        await request(limiter, telegram, "after", chat_id=3)
        await asyncio.wait_for(asyncio.gather(other_chat, no_chat), 5)
        assert sorted(telegram.calls[1:]) == ["after", "getFile", "other chat"]
    finally:
        await limiter.shutdown()


async def test_a_recorded_send_is_marked_only_when_its_turn_comes() -> None:
    clock = HandClock()
    limiter = PriorityRateLimiter(FloodLimits(overall=Window(1, 10.0)), clock=clock)
    await limiter.initialize()
    telegram = Recorder()
    marked: list[str] = []

    async def mark() -> None:
        marked.append("in flight")

    await request(limiter, telegram, "first", chat_id=1)
    data = {"chat_id": 2}
    waiting = asyncio.create_task(
        limiter.process_request(
            telegram, ("second",), {}, "sendMessage", data, Dispatch(BULK, mark)
        )
    )
    await settle()
    assert marked == [] and telegram.calls == ["first"]  # waiting its turn: surely unsent
    clock.now = 10.0
    # Any new request admits what is due (the timer would, 10 real seconds later).
    nudge = asyncio.create_task(request(limiter, telegram, "third", chat_id=3, traffic=BULK))
    await asyncio.wait_for(waiting, 5)
    assert marked == ["in flight"]
    assert telegram.calls == ["first", "second"]  # the third waits for the next slot
    nudge.cancel()
    await limiter.shutdown()


async def test_reads_and_chatless_requests_are_not_queued() -> None:
    limiter = PriorityRateLimiter(FloodLimits(overall=Window(1, 3600.0)), clock=HandClock())
    await limiter.initialize()
    telegram = Recorder()
    await request(limiter, telegram, "first message", chat_id=1)
    queued = asyncio.create_task(request(limiter, telegram, "second message", chat_id=2))
    await request(limiter, telegram, "getChatMember", endpoint="getChatMember", chat_id=-5)
    await request(
        limiter, telegram, "answerCallbackQuery", endpoint="answerCallbackQuery", chat_id=None
    )
    await settle()
    assert telegram.calls == ["first message", "getChatMember", "answerCallbackQuery"]
    assert not queued.done()
    queued.cancel()
    await limiter.shutdown()


async def test_a_caller_that_gives_up_leaves_the_queue() -> None:
    limiter = PriorityRateLimiter(FloodLimits(overall=Window(1, 3600.0)), clock=HandClock())
    await limiter.initialize()
    telegram = Recorder()
    await request(limiter, telegram, "first", chat_id=1)
    waiting = asyncio.create_task(request(limiter, telegram, "gave up", chat_id=2))
    await settle()
    assert limiter.backlog() == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert telegram.calls == ["first"]
    await limiter.shutdown()


@pytest.mark.parametrize(
    ("data", "chat"),
    [({"chat_id": 5}, 5), ({"chat_id": "-100"}, -100), ({"chat_id": "@news"}, "@news"), ({}, None)],
)
def test_the_chat_a_request_posts_to(data: dict[str, Any], chat: int | str | None) -> None:
    assert chat_of(data) == chat


# --- through the real Application --------------------------------------------------------


async def test_a_command_is_answered_ahead_of_a_backlog_of_transcripts(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    """Twelve notes make 24 bulk messages at ten a second; /start still goes next."""
    limits = FloodLimits(overall=Window(1, 0.1), chat=OPEN, group=OPEN)
    users = [10_000 + n for n in range(12)]
    asker = 77_777

    def answered(chat_id: int) -> list[int]:
        return [c.index for c in telegram.calls if c.ok and c.params.get("chat_id") == chat_id]

    async with running_bot(settings_for(), flood_limits=limits):
        for user in users:
            telegram.push_voice(user, b"OggS" + bytes(256), duration=2)
        await telegram.wait_for(lambda: len(answered_any(telegram, users)) >= 2, what="a backlog")
        telegram.push_text(asker, "/start")
        await telegram.wait_for(lambda: answered(asker), timeout=20, what="the answer to /start")
        await telegram.wait_for(
            lambda: len(answered_any(telegram, users)) == 2 * len(users),
            timeout=30,
            what="every status message and transcript",
        )
    start_answer = answered(asker)[0]
    bulk_after = [index for index in answered_any(telegram, users) if index > start_answer]
    # In one queue /start would have waited for all 24; here only those already on their way.
    assert len(bulk_after) >= len(users), telegram.describe_recent()


def answered_any(telegram: FakeTelegram, chats: list[int]) -> list[int]:
    """The indexes of successful sends and edits to these chats."""
    wanted = set(chats)
    return [
        call.index
        for call in telegram.calls
        if call.ok
        and call.method in ("sendMessage", "editMessageText")
        and call.params.get("chat_id") in wanted
    ]
