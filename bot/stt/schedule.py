"""An adaptive poll schedule for STT jobs.

The seed client polls every 10 s, which adds about 5 s to every answer. Polling fast all the
time would hammer the API instead. Job time is roughly linear in the audio's duration, so we
predict a window in which the job will finish, poll densely inside it, and back off after it.

Per model, the estimator fits `time = base + ratio * audio_seconds` by weighted least squares
over recent jobs, the prior counting as one more job known only roughly, outliers left out.
The window spans the jobs' relative deviations from that line, so a predictable model gets a
tight window and a fast answer with few polls, and an erratic one a wide window rather than
late answers.

Three rules bound the cost whatever the estimate:
- no gap between polls, nor before the first one, exceeds `max_interval` (the seed's 10 s);
- a job has `poll_budget` polls to reach the end of its window, and the polls that the gap cap
  forces on the way there come out of the same budget;
- a declared duration is the sender's word: one that is no plausible length counts as
  unknown, and a plausible lie is left out of learning as an outlier.

Every poll asks for the plan anew, so a job submitted while the schedule knows nothing profits
from the jobs that finish while it runs. `snapshot()` and `restore()` carry what was learnt
across restarts.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

JsonValue: TypeAlias = "float | int | str | bool | list[JsonValue] | dict[str, JsonValue] | None"

SNAPSHOT_VERSION = 1

# How far a job's time strays from the line, relatively, when weighing jobs against each other:
# with the same relative noise, a second off a long job tells less than one off a short job.
_RELATIVE_NOISE = 0.05


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    prior_base: float = 0.8  # seconds a job takes regardless of length
    prior_ratio: float = 0.25  # seconds of processing per second of audio
    prior_relative_error: float = 0.3  # the window's half-width before anything is learnt
    prior_weight: float = 1.0  # the prior counts as this many jobs
    prior_reference_seconds: float = 60.0  # the prior line is pinned at 0 s and here
    unknown_audio_seconds: float = 30.0  # assumed when the duration is unknown
    max_audio_seconds: float = 4 * 3600.0  # a longer declared duration is not believed
    min_interval: float = 0.2
    max_interval: float = 10.0  # never longer between two polls: the seed client's interval
    # Polls to reach the window's end, those on the way included. One more is left for a job
    # that overruns its window: a 60 s job takes at most 12.
    poll_budget: int = 11
    min_spread: float = 0.3  # the window reaches at least this far either side, in seconds
    window_margin: float = 1.15  # learnt deviations are widened by this factor
    # A job that strays further than this many median deviations (and at least
    # `min_outlier_error`) is left out: a lying duration, or a hiccup of the API.
    outlier_errors: float = 4.0
    min_outlier_error: float = 0.15
    # A job whose moment is known less precisely than this share of its time (one caught by a
    # poll 10 s after the last) counts only for the least deviation it certainly had.
    max_relative_uncertainty: float = 0.05
    backoff: float = 0.5  # past the window, each gap grows by this share of the overrun
    samples_kept: int = 64
    horizon: float = 900.0  # give up after this many seconds


@dataclass(frozen=True, slots=True)
class Sample:
    """One completed job: its audio length, and when it completed after submission."""

    audio_seconds: float
    completed_after: float
    uncertainty: float  # +- seconds: half the gap between its last two polls


@dataclass(frozen=True, slots=True)
class Window:
    """Where a job should complete, in seconds from submission, and how to poll for it."""

    expected: float
    start: float
    end: float
    gap: float  # between polls inside the window
    first: float  # the next poll inside the window; the polls before it approach it


@dataclass(frozen=True, slots=True)
class _Fit:
    base: float
    ratio: float
    below: float  # jobs complete as early as (1 - below) * expected ...
    above: float  # ... and as late as (1 + above) * expected


class _ModelTiming:
    __slots__ = ("fit", "samples", "unfitted")

    def __init__(self, kept: int) -> None:
        self.samples: deque[Sample] = deque(maxlen=kept)
        self.fit: _Fit | None = None
        self.unfitted = 0  # samples added since `fit` was computed


class PollSchedule:
    """Plans poll times per job and learns from completed jobs, per model."""

    def __init__(self, config: ScheduleConfig | None = None) -> None:
        self.config = config or ScheduleConfig()
        self._timings: dict[str, _ModelTiming] = {}

    # --- planning ------------------------------------------------------------------------

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        """Yield the seconds to sleep before each next poll, starting `elapsed` after submit."""
        now = max(0.0, elapsed) if math.isfinite(elapsed) else 0.0
        polls = 0
        if now > 0 and now >= self.window(model, audio_seconds).end:
            # Resumed after its window (a restart): most likely done by now, so ask at once.
            yield 0.0
            polls = 1
        while True:
            moment = self.next_poll(model, audio_seconds, now, polls)
            if moment > self.config.horizon:
                return
            yield moment - now
            now, polls = moment, polls + 1

    def poll_times(self, model: str, audio_seconds: float | None) -> Iterator[float]:
        """Poll moments after submission, as planned now (nothing learnt in between)."""
        now, polls = 0.0, 0
        while (now := self.next_poll(model, audio_seconds, now, polls)) <= self.config.horizon:
            yield now
            polls += 1

    def next_poll(
        self, model: str, audio_seconds: float | None, now: float, polls: int = 0
    ) -> float:
        """The moment of the poll after `now`, for a job polled `polls` times by then."""
        cfg = self.config
        window = self.window(model, audio_seconds, now, cfg.poll_budget - polls)
        if now < window.end:
            # As few polls as the cap allows up to the window's next poll, evenly spaced.
            steps = math.ceil((window.first - now) / cfg.max_interval - 1e-9)
            gap = (window.first - now) / max(1, steps)
        else:
            # Late: back off from the window's usual density, whatever budget is left.
            usual = (window.end - window.start) / max(1, cfg.poll_budget)
            gap = usual + cfg.backoff * (now - window.end)
        return now + min(cfg.max_interval, max(cfg.min_interval, gap))

    def window(
        self,
        model: str,
        audio_seconds: float | None,
        now: float = 0.0,
        polls_left: int | None = None,
    ) -> Window:
        """Where the job should complete, polled as sparsely as reaches the window's end in
        `polls_left` polls after `now`, those on the way to the window included."""
        cfg = self.config
        fit = self._fit(model)
        audio = plausible_duration(audio_seconds, cfg.max_audio_seconds)
        below, above = fit.below, fit.above
        if audio is None:
            audio = cfg.unknown_audio_seconds
            below = max(below, cfg.prior_relative_error)
            above = max(above, cfg.prior_relative_error)
        expected = max(cfg.min_interval, fit.base + fit.ratio * audio)
        start = max(0.0, min(expected * (1 - below), expected - cfg.min_spread))
        end = max(expected * (1 + above), expected + cfg.min_spread)
        left = cfg.poll_budget if polls_left is None else polls_left
        ahead = max(start, now)  # the part of the window still to poll
        for inside in range(max(1, left), 0, -1):
            gap = min(cfg.max_interval, max(cfg.min_interval, (end - ahead) / inside))
            # No poll at the window's very start: a job is seldom done by then.
            first = ahead + gap
            on_the_way = math.ceil((first - now) / cfg.max_interval - 1e-9) - 1
            if on_the_way + inside <= left:
                break
        return Window(expected, start, end, gap, first)

    def predict(self, model: str, audio_seconds: float | None) -> tuple[float, float]:
        """Return (expected seconds from submission to completion, the window's half-width)."""
        window = self.window(model, audio_seconds)
        return window.expected, (window.end - window.start) / 2

    # --- learning ------------------------------------------------------------------------

    def observe(
        self,
        model: str,
        audio_seconds: float | None,
        completed_after: float,
        uncertainty: float = 0.0,
    ) -> None:
        """Learn from a job that completed `completed_after` +- `uncertainty` seconds after
        submission: the midpoint of its last two polls, and half the gap between them."""
        cfg = self.config
        audio = plausible_duration(audio_seconds, cfg.max_audio_seconds)
        # Written so that NaN fails the test as well.
        if audio is None or not 0.0 < completed_after <= cfg.horizon:
            return
        if not 0.0 <= uncertainty <= completed_after:
            uncertainty = completed_after  # unknown: anywhere since submission
        self._add(model, Sample(audio, completed_after, uncertainty))

    def _add(self, model: str, sample: Sample) -> None:
        timing = self._timings.get(model)
        if timing is None:
            timing = self._timings[model] = _ModelTiming(self.config.samples_kept)
        timing.samples.append(sample)
        timing.unfitted += 1

    def _fit(self, model: str) -> _Fit:
        timing = self._timings.get(model)
        if timing is None:
            return self._prior_fit()
        # Refit after every job while few are known, then after every few: the fit runs on the
        # poll path of every job, and one job more among 64 barely moves it.
        if timing.fit is None or timing.unfitted > len(timing.samples) // 16:
            timing.fit = self._fit_samples(list(timing.samples))
            timing.unfitted = 0
        return timing.fit

    def _prior_fit(self) -> _Fit:
        cfg = self.config
        return _Fit(
            cfg.prior_base, cfg.prior_ratio, cfg.prior_relative_error, cfg.prior_relative_error
        )

    def _fit_samples(self, samples: list[Sample]) -> _Fit:
        cfg = self.config
        if not samples:
            return self._prior_fit()
        points = [_Point.of(s) for s in samples]
        # Least squares is easily tilted by one lying duration, so outliers are judged first
        # against the prior line scaled to the median job, which they cannot move, then against
        # the line fitted without them.
        scale = statistics.median([p.time / self._prior_time(p.audio) for p in points])
        kept = self._without_outliers(points, scale * cfg.prior_base, scale * cfg.prior_ratio)
        kept = self._without_outliers(kept, *self._line(kept))
        base, ratio = self._line(kept)
        # Each job's moment is the midpoint of its last two polls. Where those were close (a
        # short job polled every 0.2 s) the gap would pass for a large relative deviation, so
        # uncertainty within the window's minimum spread, which it always covers, is forgiven.
        # A job known only roughly counts for the least deviation it certainly had.
        deviations = sorted(
            p.deviation(
                base,
                ratio,
                forgiven=min(p.uncertainty, cfg.min_spread)
                if p.uncertainty <= cfg.max_relative_uncertainty * p.time
                else p.uncertainty,
            )
            for p in kept
        )
        above = self._bound(deviations[::-1])
        # Late jobs are seen precisely, as the polls after the window thin out slowly; early
        # ones only through the sparse polls before it, which hide how early they were. So the
        # window never reaches less far below the line than above it.
        below = max(above, self._bound([-d for d in deviations]))
        return _Fit(base, ratio, below, above)

    def _without_outliers(self, points: list[_Point], base: float, ratio: float) -> list[_Point]:
        cfg = self.config
        deviations = [abs(p.deviation(base, ratio)) for p in points]
        limit = max(cfg.min_outlier_error, cfg.outlier_errors * statistics.median(deviations))
        return [p for p, deviation in zip(points, deviations, strict=True) if deviation <= limit]

    def _bound(self, deviations: list[float]) -> float:
        """The window's relative half-width on one side, from the deviations, largest first.

        The k-th largest of n draws from -b..b lies about 2b(k+1)/(n+1) inside b; skipping the
        top 5 % keeps one odd job from widening the window for the next 64. The prior counts as
        `prior_weight` jobs, so one lucky job cannot shut the window either.
        """
        cfg = self.config
        n = len(deviations)
        skip = n // 20
        learnt = 0.0
        if n - 1 - 2 * skip > 0:
            learnt = max(0.0, deviations[skip]) * (n + 1) / (n - 1 - 2 * skip)
        learnt *= cfg.window_margin
        return (n * learnt + cfg.prior_weight * cfg.prior_relative_error) / (n + cfg.prior_weight)

    def _line(self, points: list[_Point]) -> tuple[float, float]:
        """Weighted least squares (base, ratio), neither negative, the prior as two points.

        Each job weighs by its variance: relative noise, plus our uncertainty about its moment.
        The prior's two points together weigh as `prior_weight` jobs known only to within the
        prior's relative error, so a wrong prior gives way within a few jobs.
        """
        cfg = self.config
        prior = [(d, self._prior_time(d)) for d in (0.0, cfg.prior_reference_seconds)]
        weighted = [(p.audio, p.time, p.weight) for p in points] + [
            (d, t, cfg.prior_weight / 2 / (cfg.prior_relative_error * t) ** 2) for d, t in prior
        ]
        sw = sd = st = sdd = sdt = 0.0
        for d, t, w in weighted:
            sw += w
            sd += w * d
            st += w * t
            sdd += w * d * d
            sdt += w * d * t
        spread = sw * sdd - sd * sd
        if spread <= 1e-12 * sw * sdd:
            return st / sw, 0.0  # every job equally long: no slope to learn
        ratio = (sw * sdt - sd * st) / spread
        if ratio < 0:
            return st / sw, 0.0  # longer jobs were not slower: no slope to learn
        base = (st - ratio * sd) / sw
        if base < 0:
            return 0.0, sdt / sdd  # through the origin instead: no job takes less than nothing
        return base, ratio

    def _prior_time(self, audio_seconds: float) -> float:
        cfg = self.config
        return max(cfg.min_interval, cfg.prior_base + cfg.prior_ratio * audio_seconds)

    # --- persistence ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, JsonValue]:
        """What was learnt, as plain JSON-able data for `restore`."""
        models: dict[str, JsonValue] = {
            model: [[s.audio_seconds, s.completed_after, s.uncertainty] for s in timing.samples]
            for model, timing in self._timings.items()
        }
        return {"version": SNAPSHOT_VERSION, "models": models}

    def restore(self, snapshot: Mapping[str, object]) -> int:
        """Replace what was learnt with a snapshot's; return how many jobs it held.

        A snapshot comes from disk: anything malformed in it is skipped, never trusted. One of
        another version is ignored whole, and the schedule starts from the prior.
        """
        models = snapshot.get("models")
        if snapshot.get("version") != SNAPSHOT_VERSION or not isinstance(models, Mapping):
            return 0
        self._timings.clear()
        loaded = 0
        for model, rows in models.items():
            if not isinstance(model, str) or not isinstance(rows, list):
                continue
            for row in rows[-self.config.samples_kept :]:
                sample = self._sample_from(row)
                if sample is not None:
                    self._add(model, sample)
                    loaded += 1
        return loaded

    def _sample_from(self, row: object) -> Sample | None:
        if not isinstance(row, list) or len(row) != 3:
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
            return None
        audio, completed_after, uncertainty = (float(v) for v in row)
        if plausible_duration(audio, self.config.max_audio_seconds) is None:
            return None
        if not (
            0.0 < completed_after <= self.config.horizon and 0.0 <= uncertainty <= completed_after
        ):
            return None
        return Sample(audio, completed_after, uncertainty)


def plausible_duration(audio_seconds: float | None, longest: float) -> float | None:
    """The declared duration if it could be true, else None (unknown).

    None, NaN, infinities, negatives and anything longer than `longest` are no durations.
    """
    if audio_seconds is None or not 0.0 <= audio_seconds <= longest:
        return None
    return float(audio_seconds)


@dataclass(frozen=True, slots=True)
class _Point:
    """A sample as the fit uses it."""

    audio: float
    time: float
    uncertainty: float
    weight: float  # 1 / variance: the job's relative noise, plus our uncertainty of its moment

    @classmethod
    def of(cls, sample: Sample) -> _Point:
        variance = (_RELATIVE_NOISE * sample.completed_after) ** 2 + sample.uncertainty**2 / 3
        return cls(
            sample.audio_seconds,
            sample.completed_after,
            sample.uncertainty,
            1.0 / max(variance, 1e-6),
        )

    def deviation(self, base: float, ratio: float, forgiven: float = 0.0) -> float:
        """The relative deviation from the line, less up to `forgiven` seconds of it."""
        expected = max(1e-6, base + ratio * self.audio)
        miss = self.time - expected
        return math.copysign(max(0.0, abs(miss) - forgiven), miss) / expected
