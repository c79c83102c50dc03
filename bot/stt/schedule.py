"""An adaptive poll schedule for STT jobs.

The seed client polls every 10 s, which adds about 5 s to every answer. Polling fast all the
time would hammer the API instead. Job time is roughly linear in the audio's duration, so we
predict when a job will finish (`base + ratio * audio_seconds`, scaled by what we have learnt
for that model), probe once early, poll densely in a window around the prediction, and back off
towards a cap after it. Each completed job teaches the estimator: its multiplier moves towards
the observed ratio, and the window's width follows the observed relative error, so a model
whose timing is predictable gets a tight window and a fast answer with few polls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class _ModelTiming:
    multiplier: float  # observed time / prior prediction, smoothed
    relative_error: float  # smoothed |observed / predicted - 1|


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    prior_base: float = 1.0  # seconds a job takes regardless of length
    prior_ratio: float = 0.2  # seconds of processing per second of audio
    prior_relative_error: float = 0.35
    unknown_audio_seconds: float = 30.0  # assumed when the duration is unknown
    min_interval: float = 0.2
    max_interval: float = 10.0
    dense_polls: int = 6
    min_spread: float = 0.3  # the dense window is never narrower than +-this, in seconds
    min_relative_error: float = 0.02
    smoothing: float = 0.3  # weight of a new observation
    horizon: float = 900.0  # give up after this many seconds


class PollSchedule:
    """Plans poll times per job and learns from completed jobs, per model."""

    def __init__(self, config: ScheduleConfig | None = None) -> None:
        self.config = config or ScheduleConfig()
        self._timings: dict[str, _ModelTiming] = {}

    def predict(self, model: str, audio_seconds: float | None) -> tuple[float, float]:
        """Return (expected seconds from submission to completion, half-width of the window)."""
        cfg = self.config
        timing = self._timings.get(model)
        multiplier = timing.multiplier if timing else 1.0
        relative_error = timing.relative_error if timing else cfg.prior_relative_error
        if audio_seconds is None:
            audio_seconds = cfg.unknown_audio_seconds
            relative_error = max(relative_error, cfg.prior_relative_error)
        expected = multiplier * self._prior(audio_seconds)
        spread = max(cfg.min_spread, relative_error * expected)
        return expected, spread

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        """Yield the seconds to sleep before each next poll, starting `elapsed` after submit."""
        now = elapsed
        for moment in self.poll_times(model, audio_seconds):
            if moment < now:
                continue
            yield moment - now
            now = moment

    def poll_times(self, model: str, audio_seconds: float | None) -> Iterator[float]:
        """Poll moments in seconds after submission, increasing, up to the horizon."""
        cfg = self.config
        expected, spread = self.predict(model, audio_seconds)
        window_start = max(cfg.min_interval, expected - spread)
        window_end = expected + spread
        if window_start > 2.0:
            # One early probe catches jobs that finish far sooner than predicted.
            yield window_start / 2
        step = max(cfg.min_interval, (window_end - window_start) / max(1, cfg.dense_polls - 1))
        moment = window_start
        while moment <= window_end + 1e-9:
            yield moment
            moment += step
        interval = step
        while moment < cfg.horizon:
            yield moment
            interval = min(cfg.max_interval, max(cfg.min_interval, interval * 1.5))
            moment += interval

    def observe(self, model: str, audio_seconds: float | None, completed_after: float) -> None:
        """Learn from a job that completed `completed_after` seconds after submission."""
        if audio_seconds is None or completed_after <= 0:
            return
        cfg = self.config
        prior = self._prior(audio_seconds)
        observed_multiplier = completed_after / prior
        timing = self._timings.get(model)
        if timing is None:
            self._timings[model] = _ModelTiming(
                multiplier=observed_multiplier, relative_error=cfg.prior_relative_error
            )
            return
        error = abs(observed_multiplier / timing.multiplier - 1.0)
        alpha = cfg.smoothing
        timing.multiplier += alpha * (observed_multiplier - timing.multiplier)
        timing.relative_error = max(
            cfg.min_relative_error, timing.relative_error + alpha * (error - timing.relative_error)
        )

    def _prior(self, audio_seconds: float) -> float:
        return self.config.prior_base + self.config.prior_ratio * max(0.0, audio_seconds)
