"""What the STT API tells us about a job besides its transcript: its cost, and how it was polled.

The client reports the cost headers of each answer (`x-aimlapi-credits-used`,
`x-aimlapi-usd-spent`, docs/aiml-stt-api.md §1) and the backend reports how many polls a job
took and how late the last one saw it complete. Both are keyed by generation id; the pipeline
takes a job's report once its wait ends, to record the cost per job and feed the metrics.

Reports live in memory only: a restart between a job's create and its completion loses the
create answer's cost (the completed poll's is reported again when the job is polled anew).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# The API's per-request cost headers (docs/aiml-stt-api.md §1).
CREDITS_HEADER = "x-aimlapi-credits-used"
USD_HEADER = "x-aimlapi-usd-spent"


@dataclass(frozen=True, slots=True)
class ApiCost:
    credits: float | None = None
    usd: float | None = None

    def __add__(self, other: ApiCost) -> ApiCost:
        return ApiCost(_sum(self.credits, other.credits), _sum(self.usd, other.usd))

    @property
    def known(self) -> bool:
        return self.credits is not None or self.usd is not None


def _sum(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def cost_from_headers(headers: Mapping[str, str]) -> ApiCost:
    """The cost an answer's headers report (a case-insensitive mapping, as aiohttp's is);
    a missing or garbled value is unknown, never zero."""
    return ApiCost(_number(headers.get(CREDITS_HEADER)), _number(headers.get(USD_HEADER)))


@dataclass(frozen=True, slots=True)
class JobReport:
    cost: ApiCost  # summed over the job's answers that carried the headers
    polls: int  # poll requests made by the last wait, retries included
    completed: bool  # the wait ended with a transcript
    # Seconds from the job's estimated completion (midway between the last poll that found it
    # pending and the first that found it done) to that first poll; None when no poll found
    # it pending (the first one found it done), or it did not complete.
    detection_lag: float | None


class JobReports:
    """Collects reports per generation id until the pipeline takes them."""

    def __init__(self) -> None:
        self._costs: dict[str, ApiCost] = {}
        self._polls: dict[str, tuple[int, bool, float | None]] = {}

    def add_cost(self, generation_id: str, cost: ApiCost) -> None:
        if cost.known:
            self._costs[generation_id] = self._costs.get(generation_id, ApiCost()) + cost

    def polled(
        self, generation_id: str, polls: int, completed: bool, detection_lag: float | None
    ) -> None:
        self._polls[generation_id] = (polls, completed, detection_lag)

    def take(self, generation_id: str) -> JobReport | None:
        """The job's report, forgotten here; None when nothing was reported."""
        cost = self._costs.pop(generation_id, None)
        polls = self._polls.pop(generation_id, None)
        if cost is None and polls is None:
            return None
        count, completed, lag = polls if polls is not None else (0, False, None)
        return JobReport(cost or ApiCost(), count, completed, lag)
