import itertools

from bot.stt.schedule import PollSchedule, ScheduleConfig


def _times(schedule: PollSchedule, audio: float | None, upto: float) -> list[float]:
    return list(itertools.takewhile(lambda t: t <= upto, schedule.poll_times("m", audio)))


def test_poll_times_increase_and_respect_minimum_interval() -> None:
    schedule = PollSchedule()
    times = _times(schedule, 30, 900)
    assert times == sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= schedule.config.min_interval - 1e-9
    assert max(gaps) <= schedule.config.max_interval + 1e-9


def test_dense_window_surrounds_the_prediction() -> None:
    schedule = PollSchedule()
    expected, spread = schedule.predict("m", 20)
    inside = [
        t for t in schedule.poll_times("m", 20) if expected - spread <= t <= expected + spread
    ]
    assert len(inside) >= 4


def test_learning_tightens_the_window_and_cuts_polls() -> None:
    schedule = PollSchedule()
    before = _times(schedule, 60, 14.0)
    for _ in range(12):
        schedule.observe("m", 60, 14.0)
    expected, spread = schedule.predict("m", 60)
    assert abs(expected - 14.0) < 0.5
    assert spread < 1.0
    after = _times(schedule, 60, 14.3)
    # A predictable model: a poll lands within 0.3 s after completion, with few polls in all.
    assert any(14.0 <= t <= 14.3 for t in after)
    assert len(after) <= 12
    assert len(after) <= len(before) + 4


def test_models_learn_separately() -> None:
    schedule = PollSchedule()
    for _ in range(5):
        schedule.observe("fast", 10, 1.0)
    assert schedule.predict("fast", 10)[0] < schedule.predict("slow", 10)[0]


def test_plan_resumes_after_elapsed_time() -> None:
    schedule = PollSchedule()
    delays = list(itertools.islice(schedule.plan("m", 10, elapsed=100.0), 3))
    times = list(schedule.poll_times("m", 10))
    first_after = next(t for t in times if t >= 100.0)
    assert abs(delays[0] - (first_after - 100.0)) < 1e-9


def test_plan_ends_at_horizon() -> None:
    schedule = PollSchedule(ScheduleConfig(horizon=30.0))
    assert sum(schedule.plan("m", 5)) < 30.0 + schedule.config.max_interval


def test_unknown_duration_uses_a_wide_window() -> None:
    schedule = PollSchedule()
    for _ in range(10):
        schedule.observe("m", 30, 7.0)
    assert schedule.predict("m", None)[1] > schedule.predict("m", 30)[1]


def test_a_linear_job_time_is_learnt() -> None:
    schedule = PollSchedule()
    _, initial_spread = schedule.predict("m", 100)
    for duration in (5, 20, 40, 80, 120, 200):
        schedule.observe("m", duration, 0.8 + 0.25 * duration)
    expected, spread = schedule.predict("m", 100)
    assert abs(expected - 25.8) < 0.01
    assert spread < initial_spread / 3


def test_noise_without_a_slope_falls_back_to_scaling_the_prior() -> None:
    schedule = PollSchedule()
    for duration, took in ((10, 9.0), (20, 4.0), (30, 2.0)):  # longer is faster: not a line
        schedule.observe("m", duration, took)
    expected, _ = schedule.predict("m", 20)
    assert 2.0 < expected < 9.0
