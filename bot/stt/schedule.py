"""An adaptive poll schedule for STT jobs.

The seed client polls every 10 s, which adds about 5 s to every answer. Polling fast all the
time would hammer the API instead. Job time is roughly linear in the audio's duration, so we
predict when a job will finish, probe once early, poll densely in a window around the
prediction, and back off towards a cap after it.

Each completed job teaches the estimator, per model: with a few jobs of different lengths it
fits `time = base + ratio * audio_seconds` by least squares over recent jobs; before that it
scales a prior. The window's width follows the observed relative error, so a model whose timing
is predictable gets a tight window and a fast answer with few polls, and an erratic one a wide
window and more polls rather than late answers.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

_SAMPLES_KEPT = 64


@dataclass(slots=True)
class _ModelTiming:
    relative_error: float  # smoothed |observed / predicted - 1|
    # (audio seconds, seconds from submission to completion) of recent jobs
    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=_SAMPLES_KEPT))


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    prior_base: float = 1.0  # seconds a job takes regardless of length
    prior_ratio: float = 0.2  # seconds of processing per second of audio
    prior_relative_error: float = 0.35
    unknown_audio_seconds: float = 30.0  # assumed when the duration is unknown
    min_interval: float = 0.2
    max_interval: float = 10.0
    dense_polls: int = 11
    # The window spans +-this many smoothed relative errors: the mean error covers only about
    # half of the jobs, twice it nearly all of them.
    window_errors: float = 2.0
    min_spread: float = 0.3  # the dense window is never narrower than +-this, in seconds
    min_relative_error: float = 0.01
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
        relative_error = timing.relative_error if timing else cfg.prior_relative_error
        if audio_seconds is None:
            audio_seconds = cfg.unknown_audio_seconds
            relative_error = max(relative_error, cfg.prior_relative_error)
        expected = self._expected(timing, audio_seconds)
        spread = max(cfg.min_spread, cfg.window_errors * relative_error * expected)
        return expected, spread

    def _expected(self, timing: _ModelTiming | None, audio_seconds: float) -> float:
        prior = self._prior(audio_seconds)
        if timing is None or not timing.samples:
            return prior
        fit = _linear_fit(timing.samples)
        if fit is not None:
            base, ratio = fit
            return max(self.config.min_interval, base + ratio * audio_seconds)
        multiplier = statistics.fmean(t / self._prior(d) for d, t in timing.samples)
        return multiplier * prior

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
        if window_start > 2.0 and spread > 0.2 * expected:
            # While the timing is uncertain, an early probe catches jobs that finish far sooner
            # than predicted; once it is learnt, that poll is better spent in the window.
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
        timing = self._timings.setdefault(model, _ModelTiming(cfg.prior_relative_error))
        if timing.samples:
            predicted = self._expected(timing, audio_seconds)
            error = abs(completed_after / predicted - 1.0)
            timing.relative_error = max(
                cfg.min_relative_error,
                timing.relative_error + cfg.smoothing * (error - timing.relative_error),
            )
        timing.samples.append((audio_seconds, completed_after))

    def _prior(self, audio_seconds: float) -> float:
        return self.config.prior_base + self.config.prior_ratio * max(0.0, audio_seconds)


def _linear_fit(samples: deque[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares (base, ratio), or None while the data cannot support a line."""
    if len(samples) < 3:
        return None
    durations = [d for d, _ in samples]
    times = [t for _, t in samples]
    mean_d, mean_t = statistics.fmean(durations), statistics.fmean(times)
    spread = sum((d - mean_d) ** 2 for d in durations)
    if spread < 1.0:  # all jobs about as long: no slope to learn
        return None
    ratio = sum((d - mean_d) * (t - mean_t) for d, t in samples) / spread
    base = mean_t - ratio * mean_d
    if ratio < 0 or base < 0:
        return None  # noise, not a model of job time
    return base, ratio
