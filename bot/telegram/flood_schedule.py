"""Which Bot API request may go next under Telegram's flood limits, interactive ones first.

Telegram's limits for one bot (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits):
about 30 messages a second overall, one a second in one chat (it allows short bursts), and 20 a
minute in one group. Each is a sliding window here: at most `count` requests in any `period`
seconds (see FloodLimits).

Requests wait in one lane per chat, best first: interactive answers (a reply to a command, a
refusal) before bulk traffic (status messages, transcripts), then in arrival order. A lane whose
chat window is open is *ready* and competes for the global window with the other ready lanes,
again interactive first; a lane whose chat window is closed sleeps until it opens, so one busy
chat never holds up the others. A user's command therefore waits for at most the other
interactive requests, never behind thousands of transcripts.

A request let go holds its slot until it leaves (`depart`), and counts in the windows from the
moment it actually leaves: what comes between (the send journal's write) may take a while under
load, and requests let go 1/30 s apart must not reach Telegram bunched together.

This module is pure bookkeeping: it is told the time and answers which requests may go, so its
rules are tested with a hand-moved clock. bot/telegram/rate_limiter.py drives it for
python-telegram-bot.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass
from enum import Enum


class Traffic(Enum):
    """How urgently a request is awaited; the gateway marks bulk traffic (`rate_limit_args`)."""

    INTERACTIVE = 0  # a person waits for this answer now
    BULK = 1  # it may wait its turn: status messages, transcripts, files

    @property
    def rank(self) -> int:
        return self.value


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` requests in any `period` seconds."""

    count: int
    period: float


@dataclass(frozen=True, slots=True)
class FloodLimits:
    # 30 a second, two per 1/15 s: evenly, so that a late timer can catch up by one, and never
    # a burst of 30 at once. At most 30 leave in any second; the jitter on the way (the request's
    # own work after it leaves here, the network) can still bunch a few more into one second at
    # Telegram's end: 32 or 33 in benchmarks/load.py's throughput scenario. Should Telegram
    # answer such a second with a 429, every request pauses for its retry_after and the refused
    # one is sent again (rate_limiter.py): later, never lost.
    overall: Window = Window(2, 1 / 15)
    # One a second, with bursts of three: a status message, its edit and a second part.
    chat: Window = Window(3, 3.0)
    group: Window = Window(20, 60.0)


class SlidingWindow:
    """The times of the last requests within `period`, and the requests let go that have not
    left yet (`holding`: they count as sent until they are); when the next one may go."""

    __slots__ = ("_count", "_period", "_times", "holding")

    def __init__(self, window: Window) -> None:
        self._count = window.count
        self._period = window.period
        self._times: deque[float] = deque()
        self.holding = 0

    def next_free(self, now: float) -> float:
        """When a slot is free: now, a moment to come, or never (inf) before one leaves."""
        times = self._times
        while times and times[0] <= now - self._period:
            times.popleft()
        over = len(times) + self.holding - self._count
        if over < 0:
            return now
        if over >= len(times):
            return math.inf  # every slot is held by requests still on their way out
        return times[over] + self._period

    def hold(self) -> None:
        self.holding += 1

    def leave(self, now: float, *, sent: bool = True) -> None:
        self.holding -= 1
        if sent:
            self._times.append(now)

    def idle(self, now: float) -> bool:
        """Nothing within the window: forgetting it changes nothing."""
        return not self.holding and (not self._times or self._times[-1] <= now - self._period)


class Ticket:
    """One request waiting in a lane. `payload` is the caller's (a future, in the limiter)."""

    __slots__ = ("cancelled", "lane", "left", "payload", "seq", "taken", "traffic")

    def __init__(self, traffic: Traffic, seq: int, lane: _Lane, payload: object) -> None:
        self.traffic = traffic
        self.seq = seq
        self.lane = lane
        self.payload = payload
        self.cancelled = False
        self.taken = False  # handed out by take_due: it holds its slots until it leaves
        self.left = False


class _State(Enum):
    IDLE = "idle"  # nothing waiting (its windows may still remember recent requests)
    READY = "ready"  # its chat window is open: its best request waits for a global slot
    SLEEPING = "sleeping"  # its chat window is closed until `wake_at`


class _Lane:
    __slots__ = ("key", "state", "waiting", "wake_at", "windows")

    def __init__(self, key: int | str, windows: tuple[SlidingWindow, ...]) -> None:
        self.key = key
        self.windows = windows
        self.waiting: list[tuple[int, int, Ticket]] = []  # a heap: (rank, seq, ticket)
        self.state = _State.IDLE
        self.wake_at = 0.0

    def head(self) -> Ticket:
        return self.waiting[0][2]

    def next_free(self, now: float) -> float:
        return max(window.next_free(now) for window in self.windows)

    def hold(self) -> None:
        for window in self.windows:
            window.hold()

    def leave(self, now: float, *, sent: bool) -> None:
        for window in self.windows:
            window.leave(now, sent=sent)

    def forgettable(self, now: float) -> bool:
        return not self.waiting and all(window.idle(now) for window in self.windows)


def is_group(chat_id: int | str) -> bool:
    """Groups and channels have negative ids, or are named by @username."""
    return isinstance(chat_id, str) or chat_id < 0


class FloodSchedule:
    """The waiting requests and the windows; every method is told the current time."""

    # How often lanes of chats that went quiet are forgotten, in seconds.
    SWEEP_INTERVAL = 60.0

    def __init__(self, limits: FloodLimits | None = None) -> None:
        self._limits = limits or FloodLimits()
        self._overall = SlidingWindow(self._limits.overall)
        self._lanes: dict[int | str, _Lane] = {}
        # Lanes that may send now, best head first. Entries go stale when a lane's head changes;
        # `_valid` tells, and stale ones are skipped when they surface.
        self._ready: list[tuple[int, int, _Lane]] = []
        self._sleeping: list[tuple[float, int, _Lane]] = []  # (wake_at, seq, lane)
        self._seq = itertools.count()
        self._paused_until = float("-inf")
        self._swept_at = float("-inf")
        self._ready_lanes = 0
        self._waiting = 0

    # --- what callers ask --------------------------------------------------------------

    def submit(
        self, chat_id: int | str, traffic: Traffic, now: float, payload: object = None
    ) -> Ticket:
        """Queue a request for `chat_id`; it goes once `take_due` returns its ticket."""
        lane = self._lanes.get(chat_id)
        if lane is None:
            lane = self._lanes[chat_id] = self._new_lane(chat_id)
        seq = next(self._seq)
        ticket = Ticket(traffic, seq, lane, payload)
        heapq.heappush(lane.waiting, (traffic.rank, seq, ticket))
        self._waiting += 1
        if lane.state is _State.IDLE:
            self._place(lane, now)
        elif lane.state is _State.READY and lane.head() is ticket:
            # It overtakes the lane's head: enter it with its own rank (the old entry goes stale).
            heapq.heappush(self._ready, (traffic.rank, seq, lane))
        return ticket

    def cancel(self, ticket: Ticket, now: float) -> None:
        """The caller gave up: a waiting ticket is dropped when it reaches the front; one taken
        but not yet gone gives its slots back, unused."""
        if ticket.taken:
            if not ticket.left:
                self._leave(ticket, now, sent=False)
        elif not ticket.cancelled:
            ticket.cancelled = True
            self._waiting -= 1

    def depart(self, ticket: Ticket, now: float) -> None:
        """A taken ticket's request goes on the wire now: it counts in the windows from now."""
        if ticket.taken and not ticket.left:
            self._leave(ticket, now, sent=True)

    def _leave(self, ticket: Ticket, now: float, *, sent: bool) -> None:
        ticket.left = True
        self._overall.leave(now, sent=sent)
        ticket.lane.leave(now, sent=sent)
        if ticket.lane.state is _State.SLEEPING and not math.isfinite(ticket.lane.wake_at):
            # It slept until one of its own left: look again now.
            self._set_state(ticket.lane, _State.IDLE)
            self._place(ticket.lane, now)

    def pause(self, until: float) -> None:
        """Send nothing before `until` (Telegram's flood control answered 429: it is global)."""
        self._paused_until = max(self._paused_until, until)

    def paused_until(self) -> float:
        return self._paused_until

    def take_due(self, now: float) -> list[Ticket]:
        """The tickets that may go at `now`, best first, counted in their windows."""
        if now < self._paused_until:
            return []
        self._wake(now)
        due: list[Ticket] = []
        while self._ready:
            _, seq, lane = self._ready[0]
            if not self._valid(seq, lane):
                heapq.heappop(self._ready)
                continue
            ticket = lane.head()
            if not ticket.cancelled:
                if self._overall.next_free(now) > now:
                    break
                self._overall.hold()
                lane.hold()
                self._waiting -= 1
                ticket.taken = True
                due.append(ticket)
            heapq.heappop(self._ready)
            heapq.heappop(lane.waiting)
            self._set_state(lane, _State.IDLE)
            self._place(lane, now)
        self._sweep(now)
        return due

    def next_change(self, now: float) -> float | None:
        """When `take_due` may next return something; None while nothing waits."""
        if not self._waiting:
            return None
        if now < self._paused_until:
            return self._paused_until
        moments = []
        if self._ready_lanes:
            moments.append(self._overall.next_free(now))
        if self._sleeping:
            moments.append(self._sleeping[0][0])
        # inf: nothing changes before a request leaves, and `depart` tells the caller then.
        soonest = min(moments, default=math.inf)
        return soonest if math.isfinite(soonest) else None

    def backlog(self) -> int:
        """Chats with a request due that waits only for a global slot: about this many
        requests go before a new one in another chat (at 30 a second, 30 is one second)."""
        return self._ready_lanes

    def waiting_in(self, chat_id: int | str) -> int:
        """Requests waiting in this chat's lane (cancelled ones included until they surface)."""
        lane = self._lanes.get(chat_id)
        return len(lane.waiting) if lane is not None else 0

    def waiting(self) -> int:
        return self._waiting

    # --- lanes ---------------------------------------------------------------------------

    def _new_lane(self, chat_id: int | str) -> _Lane:
        windows = [SlidingWindow(self._limits.chat)]
        if is_group(chat_id):
            windows.append(SlidingWindow(self._limits.group))
        return _Lane(chat_id, tuple(windows))

    def _valid(self, seq: int, lane: _Lane) -> bool:
        return lane.state is _State.READY and bool(lane.waiting) and lane.head().seq == seq

    def _set_state(self, lane: _Lane, state: _State) -> None:
        if lane.state is _State.READY:
            self._ready_lanes -= 1
        if state is _State.READY:
            self._ready_lanes += 1
        lane.state = state

    def _place(self, lane: _Lane, now: float) -> None:
        """An idle lane: ready when its window is open, asleep until it opens otherwise."""
        if not lane.waiting:
            return
        opens = lane.next_free(now)
        if opens <= now:
            self._set_state(lane, _State.READY)
            head = lane.head()
            heapq.heappush(self._ready, (head.traffic.rank, head.seq, lane))
        else:
            self._set_state(lane, _State.SLEEPING)
            lane.wake_at = opens
            if math.isfinite(opens):  # otherwise it wakes when one of its requests leaves
                heapq.heappush(self._sleeping, (opens, next(self._seq), lane))

    def _wake(self, now: float) -> None:
        while self._sleeping and self._sleeping[0][0] <= now:
            wake_at, _, lane = heapq.heappop(self._sleeping)
            if lane.state is _State.SLEEPING and lane.wake_at == wake_at:
                self._set_state(lane, _State.IDLE)
                self._place(lane, now)

    def _sweep(self, now: float) -> None:
        """Forget the windows of chats that went quiet, so memory follows the active chats."""
        if now - self._swept_at < self.SWEEP_INTERVAL:
            return
        self._swept_at = now
        quiet = [key for key, lane in self._lanes.items() if lane.forgettable(now)]
        for key in quiet:
            del self._lanes[key]
