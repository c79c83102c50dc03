"""Fault plans for the fakes: faults queued for the next requests, and seeded random rates.

Each fake keeps one `FaultTable` keyed by route (a Bot API method, the download route, an STT
endpoint). A queued fault always wins over the rates; rates draw from one `random.Random`, so a
run with the same seed and the same order of requests injects the same faults. The fakes decide
what a kind means; this module only chooses which fault, if any, a request gets.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Final

ANY_ROUTE: Final = "*"  # rates set on this route apply to every route without rates of its own


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault. Only the fields its kind uses matter."""

    kind: str
    status: int = 502  # for HTTP error kinds
    retry_after: float = 1.0  # for 429s
    seconds: float = 0.0  # for slow answers and hangs


class FaultTable:
    def __init__(self, kinds: frozenset[str], seed: int | None = None) -> None:
        self.kinds = kinds
        self.random = random.Random(seed)
        self._queued: dict[str, deque[Fault]] = {}
        self._rates: dict[str, dict[str, tuple[float, Fault]]] = {}

    def reseed(self, seed: int | None) -> None:
        self.random = random.Random(seed)

    def queue(self, route: str, fault: Fault, count: int = 1) -> None:
        """The next `count` requests on `route` get `fault` (after faults queued earlier)."""
        self._check(fault)
        self._queued.setdefault(route.lower(), deque()).extend([fault] * count)

    def set_rate(self, route: str, fault: Fault, probability: float) -> None:
        """Each request on `route` gets `fault` with this probability (0 removes the rate).

        Several kinds on one route are exclusive: one draw per request picks at most one.
        """
        self._check(fault)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"a probability is between 0 and 1, got {probability}")
        rates = self._rates.setdefault(route.lower(), {})
        if probability == 0.0:
            rates.pop(fault.kind, None)
            return
        others = sum(p for kind, (p, _) in rates.items() if kind != fault.kind)
        if others + probability > 1.0 + 1e-9:
            raise ValueError(f"the fault rates on {route!r} would add up to more than 1")
        rates[fault.kind] = (probability, fault)

    def clear(self) -> None:
        """No more faults: queued ones are dropped and every rate is removed."""
        self._queued.clear()
        self._rates.clear()

    def draw(self, route: str) -> Fault | None:
        route = route.lower()
        queued = self._queued.get(route)
        if queued:
            return queued.popleft()
        rates = self._rates.get(route) or self._rates.get(ANY_ROUTE)
        if not rates:
            return None
        roll = self.random.random()
        for probability, fault in rates.values():
            if roll < probability:
                return fault
            roll -= probability
        return None

    def _check(self, fault: Fault) -> None:
        if fault.kind not in self.kinds:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {sorted(self.kinds)}")
