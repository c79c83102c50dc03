"""The one shape of retry policy: jittered exponential backoff, bounded by tries or a deadline.

Each remote service gets one instance, built in the composition root: the Telegram Bot API, the
STT API, a language model. Callers decide what is worth retrying (each service's errors say so);
the policy only says how long to wait and when to stop.

Jitter matters: after an outage every waiting job would otherwise retry in the same instant, and
the first thing a recovering server sees is a thundering herd.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    # Each wait is drawn from [delay * (1 - jitter), delay]: "equal jitter" keeps a floor, so a
    # retry never comes immediately, yet spreads a crowd of waiters over the interval.
    jitter: float = 0.5
    # Tries in all, the first included; None: only the deadline bounds it.
    attempts: int | None = 4
    # Seconds from the first try after which no further try starts; None: only attempts bound it.
    deadline: float | None = None
    # A server's own "retry after" is honoured up to this; longer is treated as a failure.
    max_retry_after: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """The jittered wait after the 0-based `attempt` failed."""
        delay = min(self.max_delay, self.base_delay * self.factor ** min(attempt, 64))
        return delay * (1.0 - self.jitter * self.rng.random())

    def next_delay(
        self,
        attempt: int,
        elapsed: float,
        *,
        retry_after: float | None = None,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before trying again after `attempt` (0-based) failed, `elapsed`
        seconds after the first try; None when the policy gives up. `deadline` overrides the
        policy's own for one call (an interactive answer waits less than a transcript)."""
        deadline = self.deadline if deadline is None else deadline
        if self.attempts is not None and attempt + 1 >= self.attempts:
            return None
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        delay = self.backoff(attempt)
        if retry_after is not None:
            # The server knows best when it will take us again; a little jitter still spreads
            # the crowd that got the same answer.
            delay = max(delay, retry_after) + self.jitter * self.rng.random()
        if deadline is not None and elapsed + delay > deadline:
            return None
        return delay
