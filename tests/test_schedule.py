"""The adaptive poll schedule (bot/stt/schedule.py): the gap cap, the poll budget, what it
learns and how, and its snapshot. Jobs are simulated on the schedule's own time line, as
AimlBackend polls them; the last tests run it under the real backend against the fake API."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot.stt.aiml_backend import AimlBackend
from bot.stt.client import AimlSttClient
from bot.stt.schedule import PollSchedule, ScheduleConfig
from bot.stt.types import AudioUpload, JobRequest
from tests.fakes.stt import FakeStt

BASE, RATIO = 0.8, 0.25  # the job time the benchmark's fake API uses: 0.8 s + 0.25 x audio
CAP = ScheduleConfig().max_interval
ABSURD_DURATIONS = [0, None, 2**31, -5.0, math.nan, math.inf, -math.inf, 1e300]


@dataclass(frozen=True)
class Job:
    audio: float
    took: float  # seconds from submission to completion


def jobs(count: int, jitter: float, rng: random.Random, low: float = 1.0) -> list[Job]:
    """Jobs of `low`-60 s processing, evenly spread, as in benchmarks/poll_latency.py."""
    made = []
    for index in range(count):
        target = low + (60.0 - low) * index / (count - 1)
        audio = max(1, round((target - BASE) / RATIO))
        made.append(Job(audio, (BASE + RATIO * audio) * (1 + rng.uniform(-jitter, jitter))))
    return made


def serve(schedule: PollSchedule, job: Job, model: str = "m") -> tuple[int, float]:
    """Poll one job to completion as AimlBackend does, teaching the schedule what it saw.

    Returns (polls, seconds from completion to the poll that saw it).
    """
    now = last_pending = 0.0
    for polls, delay in enumerate(schedule.plan(model, job.audio), start=1):
        now += delay
        if now >= job.took:
            schedule.observe(model, job.audio, (last_pending + now) / 2, (now - last_pending) / 2)
            return polls, now - job.took
        last_pending = now
    raise AssertionError("the plan ended before the job completed")


def serve_together(schedule: PollSchedule, batch: list[Job]) -> list[tuple[int, float]]:
    """All jobs submitted at once, each plan stepping in time order: what one job teaches
    reaches the others while they run, as in the bot."""
    plans: list[Iterator[float]] = []
    state: list[list[float]] = []  # [next poll, last pending, polls]
    queue: list[tuple[float, int]] = []
    for index, job in enumerate(batch):
        plans.append(schedule.plan("m", job.audio))
        state.append([next(plans[index]), 0.0, 0])
        heapq.heappush(queue, (state[index][0], index))
    results: dict[int, tuple[int, float]] = {}
    while queue:
        now, index = heapq.heappop(queue)
        job, (_, last_pending, polls) = batch[index], state[index]
        if now >= job.took:
            schedule.observe("m", job.audio, (last_pending + now) / 2, (now - last_pending) / 2)
            results[index] = (int(polls) + 1, now - job.took)
            continue
        state[index] = [now + next(plans[index]), now, polls + 1]
        heapq.heappush(queue, (state[index][0], index))
    return [results[index] for index in range(len(batch))]


def trained(jitter: float = 0.05, seed: int = 1, count: int = 60) -> PollSchedule:
    schedule = PollSchedule()
    for job in jobs(count, jitter, random.Random(seed)):
        serve(schedule, job)
    return schedule


def polls_until(schedule: PollSchedule, audio: float, took: float) -> int:
    """How many polls the plan, as it stands, makes until one sees a job done at `took`."""
    for polls, moment in enumerate(schedule.poll_times("m", audio), start=1):
        if moment >= took:
            return polls
    raise AssertionError("the plan ended before the job completed")


# --- the gap cap -----------------------------------------------------------------------------


@pytest.mark.parametrize("learnt", [False, True], ids=["cold", "learnt"])
@pytest.mark.parametrize("declared", [*ABSURD_DURATIONS, 1, 30, 600], ids=repr)
def test_no_poll_gap_exceeds_the_cap_whatever_the_declared_duration(
    declared: float | None, learnt: bool
) -> None:
    schedule = trained() if learnt else PollSchedule()
    cfg = schedule.config
    delays = list(schedule.plan("m", declared))
    assert delays, "the job is never polled"
    assert max(delays) <= CAP + 1e-9  # the first poll included: it is a gap after submission
    assert min(delays) >= cfg.min_interval - 1e-9
    # Polled until the horizon, not abandoned early.
    assert sum(delays) > cfg.horizon - CAP


@pytest.mark.parametrize("declared", [*ABSURD_DURATIONS, 30], ids=repr)
@pytest.mark.parametrize("elapsed", [0.001, 7.0, 100.0, 899.0])
def test_a_resumed_job_is_polled_at_least_every_cap_too(
    declared: float | None, elapsed: float
) -> None:
    delays = list(PollSchedule().plan("m", declared, elapsed))
    assert delays
    assert max(delays) <= CAP + 1e-9


def test_a_job_resumed_after_its_window_is_polled_at_once() -> None:
    schedule = PollSchedule()
    late = schedule.window("m", 20).end + 30
    assert next(schedule.plan("m", 20, elapsed=late)) == 0.0
    # Resumed while its window is still ahead, it keeps to its plan.
    assert next(schedule.plan("m", 20, elapsed=1.0)) > 0.0


@pytest.mark.parametrize("claimed", [2**31, math.nan, -1.0, math.inf])
def test_a_duration_that_cannot_be_true_counts_as_unknown(claimed: float) -> None:
    schedule = trained()
    first_polls = list(itertools.islice(schedule.poll_times("m", claimed), 30))
    assert first_polls == list(itertools.islice(schedule.poll_times("m", None), 30))


# --- the poll budget and the latency targets -------------------------------------------------


@pytest.mark.parametrize("jitter", [0.05, 0.15])
@pytest.mark.parametrize("learnt", [False, True], ids=["cold", "learnt"])
def test_a_60_s_job_takes_at_most_12_polls(jitter: float, learnt: bool) -> None:
    schedule = trained(jitter) if learnt else PollSchedule()
    audio = round((60.0 - BASE) / RATIO)
    expected = BASE + RATIO * audio
    for step in range(21):  # completions across the whole jitter range
        took = expected * (1 - jitter + 2 * jitter * step / 20)
        assert polls_until(schedule, audio, took) <= 12, f"done after {took:.2f}s"


def test_polls_made_come_out_of_the_budget_when_the_window_moves() -> None:
    schedule = PollSchedule()
    audio = 100.0
    plan = schedule.plan("m", audio)
    now, polls = 0.0, 0
    while now < 20.0:  # halfway to the job's predicted window, ...
        now, polls = now + next(plan), polls + 1
    for duration in (10, 40, 80, 160, 240):  # ... the model turns out twice as slow
        for _ in range(4):
            schedule.observe("m", duration, 2 * (BASE + RATIO * duration), 0.1)
    window = schedule.window("m", audio)
    assert window.start > 40.0
    while now < window.end:
        now, polls = now + next(plan), polls + 1
    assert polls <= schedule.config.poll_budget


@pytest.mark.parametrize(("jitter", "target"), [(0.05, 0.3), (0.15, 0.6)])
def test_median_added_latency_meets_the_targets_cold_learnt_and_restored(
    jitter: float, target: float
) -> None:
    """Cold: 40 jobs of 1-60 s at once on a fresh schedule; learnt: 40 more on the same one;
    restored: 40 more on a new schedule restored from its snapshot. Median of 5 runs."""
    medians: dict[str, list[float]] = {"cold": [], "learnt": [], "restored": []}
    for seed in range(5):
        rng = random.Random(seed)
        schedule = PollSchedule()
        for phase in ("cold", "learnt", "restored"):
            if phase == "restored":
                snapshot = json.loads(json.dumps(schedule.snapshot()))
                schedule = PollSchedule()
                schedule.restore(snapshot)
            outcomes = serve_together(schedule, jobs(40, jitter, rng))
            medians[phase].append(statistics.median(latency for _, latency in outcomes))
    for phase, values in medians.items():
        assert statistics.median(values) <= target, (phase, values)


# --- learning ----------------------------------------------------------------------------------


def test_learning_tightens_the_window_and_cuts_polls() -> None:
    schedule = PollSchedule()
    cold_spread = schedule.predict("m", 60)[1]
    for job in jobs(40, 0.05, random.Random(3)):
        serve(schedule, job)
    expected, spread = schedule.predict("m", 60)
    assert abs(expected - (BASE + RATIO * 60)) < 0.3
    assert spread < cold_spread / 3
    took = (BASE + RATIO * 60) * 1.03
    assert polls_until(schedule, 60, took) <= 12
    # A poll lands within 0.3 s after completion.
    assert next(t for t in schedule.poll_times("m", 60) if t >= took) - took <= 0.3


def test_a_linear_job_time_is_learnt() -> None:
    schedule = PollSchedule(ScheduleConfig(prior_base=3.0, prior_ratio=0.1))
    for duration in (5, 20, 40, 80, 120, 200) * 3:
        schedule.observe("m", duration, 0.5 + 0.4 * duration, 0.05)
    expected, _ = schedule.predict("m", 100)
    assert expected == pytest.approx(40.5, rel=0.01)


def test_a_running_plan_uses_what_other_jobs_teach_meanwhile() -> None:
    schedule = PollSchedule()
    plan = schedule.plan("m", 200)  # predicted ~50.8 s
    first = next(plan)
    for duration in (10, 40, 80, 160, 240):  # the model turns out 4 times as fast
        for _ in range(4):
            schedule.observe("m", duration, (BASE + RATIO * duration) / 4, 0.05)
    assert first + next(plan) < 16.0  # its window moved to about 12.7 s


def test_models_learn_separately() -> None:
    schedule = PollSchedule()
    for _ in range(5):
        schedule.observe("fast", 10, 1.0, 0.05)
    assert schedule.predict("fast", 10)[0] < schedule.predict("slow", 10)[0]


def test_lying_durations_are_left_out_of_learning() -> None:
    honest = trained(0.05)
    schedule = trained(0.05)
    for _ in range(6):
        schedule.observe("m", 3600, 5.0, 0.1)  # claims an hour, took 5 s
        schedule.observe("m", 1, 50.0, 0.1)  # claims a second, took 50 s
        schedule.observe("m", 0, 30.0, 0.1)
    for audio in (10, 100, 200):
        expected, spread = schedule.predict("m", audio)
        assert expected == pytest.approx(honest.predict("m", audio)[0], rel=0.02)
        # Still the narrow window of a +-5 % model: the liars did not widen it.
        assert spread < 0.1 * expected + schedule.config.min_spread


@pytest.mark.parametrize(
    ("audio", "took", "uncertainty"),
    [
        (None, 5.0, 0.1),
        (math.nan, 5.0, 0.1),
        (-3.0, 5.0, 0.1),
        (2**31, 5.0, 0.1),
        (math.inf, 5.0, 0.1),
        (10.0, math.nan, 0.1),
        (10.0, 0.0, 0.1),
        (10.0, -1.0, 0.1),
        (10.0, math.inf, 0.1),
        (10.0, 1e9, 0.1),
    ],
)
def test_absurd_observations_teach_nothing(
    audio: float | None, took: float, uncertainty: float
) -> None:
    schedule = PollSchedule()
    schedule.observe("m", audio, took, uncertainty)
    assert schedule.snapshot()["models"] == {}


def test_unknown_duration_uses_a_wide_window() -> None:
    schedule = trained()
    assert schedule.predict("m", None)[1] > 2 * schedule.predict("m", 30)[1]


def test_plan_ends_at_horizon() -> None:
    schedule = PollSchedule(ScheduleConfig(horizon=30.0))
    assert 30.0 - CAP < sum(schedule.plan("m", 5)) <= 30.0


# --- snapshot ----------------------------------------------------------------------------------


def test_snapshot_and_restore_round_trip_through_json() -> None:
    schedule = trained(0.15)
    schedule.observe("other", 12, 4.0, 0.1)
    snapshot = schedule.snapshot()
    text = json.dumps(snapshot, allow_nan=False)
    restored, again = PollSchedule(), PollSchedule()
    assert restored.restore(json.loads(text)) == 61
    assert again.restore(json.loads(text)) == 61
    assert restored.snapshot() == snapshot
    for model, audio in itertools.product(("m", "other", "unseen"), (None, 1, 30, 240)):
        window = restored.window(model, audio)
        assert window == again.window(model, audio)
        assert list(itertools.islice(restored.poll_times(model, audio), 20)) == list(
            itertools.islice(again.poll_times(model, audio), 20)
        )
        # The original refits only every few jobs, so it may lag a job or two behind.
        original = schedule.window(model, audio)
        assert (window.start, window.end) == pytest.approx((original.start, original.end), rel=0.03)


def test_restore_replaces_what_was_learnt() -> None:
    schedule = trained()
    schedule.restore(PollSchedule().snapshot())
    assert schedule.window("m", 30) == PollSchedule().window("m", 30)


@pytest.mark.parametrize(
    "snapshot",
    [
        {},
        {"version": 99, "models": {"m": [[10, 3.3, 0.1]]}},
        {"version": 1, "models": "m"},
        {"version": 1, "models": {"m": "rows"}},
        {"version": 1, "models": {"m": [[10, 3.3]]}},
        {"version": 1, "models": {"m": [[10, "3.3", 0.1], [True, 3.3, 0.1], None]}},
        {"version": 1, "models": {"m": [[-10, 3.3, 0.1], [10, -3.3, 0.1], [10, 3.3, -1]]}},
        {"version": 1, "models": {"m": [[2**31, 3.3, 0.1], [10, 1e6, 0.1], [10, 3.3, 1e9]]}},
    ],
)
def test_restore_skips_what_is_malformed(snapshot: dict[str, object]) -> None:
    schedule = PollSchedule()
    assert schedule.restore(snapshot) == 0
    assert schedule.window("m", 30) == PollSchedule().window("m", 30)


def test_restore_keeps_the_valid_rows_of_a_damaged_snapshot() -> None:
    schedule = PollSchedule()
    rows = [[10, 3.3, 0.1], ["x"], [20, 5.8, 0.1], [30, math.nan, 0.1]]
    assert schedule.restore({"version": 1, "models": {"m": rows, 7: rows}}) == 2
    assert schedule.snapshot() == {"version": 1, "models": {"m": [[10, 3.3, 0.1], [20, 5.8, 0.1]]}}


# --- under the real backend, against the fake API, on a virtual clock -------------------------

KEY = "sk-test-0123456789abcdef"
AUDIO = AudioUpload(data=b"OggS" + bytes(2000), filename="voice.ogg", mime_type="audio/ogg")


@pytest.mark.parametrize("declared", [2**31, None, math.nan, -1.0, 0.0], ids=repr)
async def test_backend_polls_a_note_at_least_every_10_s_whatever_it_claims(
    declared: float | None,
) -> None:
    """A 95 s job: the fake API and the backend share a clock that only sleeps move."""
    clock = [1000.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds
        await asyncio.sleep(0)

    async with (
        FakeStt(api_key=KEY, clock=lambda: clock[0]) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.delay = 95.0
        backend = AimlBackend(
            AimlSttClient(session, fake.url, KEY),
            PollSchedule(),
            sleep=sleep,
            clock=lambda: clock[0],
        )
        request = JobRequest("#g1_nova-2-general")
        generation_id = await backend.submit(AUDIO, request)
        transcript = await backend.wait_result(generation_id, request, declared)
        polls = [request.at for request in fake.requests_to("fetch")]

    assert transcript.text
    assert sleeps and max(sleeps) <= CAP + 1e-9
    gaps = [b - a for a, b in itertools.pairwise([1000.0, *polls])]
    assert max(gaps) <= CAP + 1e-6
    assert polls[-1] - fake.completed_at(generation_id) <= CAP
