"""What the pipeline tells the operator's metrics, as a narrow interface.

The pipeline does not import the metrics (bot/observability/metrics.py sits beside it, not
below it): the composition root hands it an object with these methods, and `NoObserver` when
nobody listens. Every method is a quick, synchronous counter update that never raises.
"""

from __future__ import annotations

from typing import Protocol


class PipelineObserver(Protocol):
    def job_finished(self, state: str, reason: str | None, seconds: float) -> None:
        """A job ended: `state` delivered or failed, with its failure reason, after `seconds`
        since it was accepted (a resumed job counts the time the bot was down)."""
        ...

    def job_polled(self, polls: int) -> None:
        """How many polls a job's wait for its result took."""
        ...

    def added_latency(self, seconds: float) -> None:
        """From the API's (estimated) completion of a job to its transcript being delivered."""
        ...

    def audio_transcribed(self, model: str, seconds: float) -> None:
        """Seconds of audio the backend transcribed for a delivered job."""
        ...

    def admission_refused(self, kind: str) -> None:
        """A job refused by the quota, flood control or the bot-wide budget."""
        ...

    def cache_hit(self) -> None: ...

    def api_cost(self, credits: float | None, usd: float | None) -> None:
        """What the API reported a job cost (either may be unknown)."""
        ...


class NoObserver:
    def job_finished(self, state: str, reason: str | None, seconds: float) -> None:
        return None

    def job_polled(self, polls: int) -> None:
        return None

    def added_latency(self, seconds: float) -> None:
        return None

    def audio_transcribed(self, model: str, seconds: float) -> None:
        return None

    def admission_refused(self, kind: str) -> None:
        return None

    def cache_hit(self) -> None:
        return None

    def api_cost(self, credits: float | None, usd: float | None) -> None:
        return None
