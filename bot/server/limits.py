"""Per-key limits of the job API: jobs a minute, and jobs in flight.

One key must not be able to fill the server's queue for every other key. Each key (or, without
authentication, everybody together) may start at most `per_minute` jobs in any 60 seconds and
have at most `in_flight` unfinished at once. A refusal says how long to wait: until the oldest
job of the window leaves it, or a few seconds for a job in flight to finish.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
IN_FLIGHT_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    retry_after: int  # whole seconds, as the Retry-After header takes them


class KeyLimits:
    """Jobs started per key in the last minute; the caller counts the jobs in flight."""

    def __init__(
        self, *, per_minute: int, in_flight: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1 or in_flight < 1:
            raise ValueError("per_minute and in_flight must be at least 1")
        self.per_minute = per_minute
        self.in_flight = in_flight
        self._clock = clock
        # Start times within the window, per key: at most `per_minute` each, and one entry per
        # key that ever passed authentication, so the map cannot grow with junk requests.
        self._started: dict[str, deque[float]] = {}

    def refusal(self, identity: str, in_flight_now: int) -> Refusal | None:
        """Why `identity` may not start a job now, or None when it may."""
        starts = self._window(identity)
        if len(starts) >= self.per_minute:
            wait = starts[0] + WINDOW_SECONDS - self._clock()
            return Refusal(
                f"at most {self.per_minute} jobs a minute per key", max(1, math.ceil(wait))
            )
        if in_flight_now >= self.in_flight:
            return Refusal(
                f"at most {self.in_flight} unfinished jobs per key", IN_FLIGHT_RETRY_SECONDS
            )
        return None

    def record(self, identity: str) -> None:
        """Count a job started by `identity` now."""
        self._window(identity).append(self._clock())

    def _window(self, identity: str) -> deque[float]:
        starts = self._started.setdefault(identity, deque())
        horizon = self._clock() - WINDOW_SECONDS
        while starts and starts[0] <= horizon:
            starts.popleft()
        return starts
