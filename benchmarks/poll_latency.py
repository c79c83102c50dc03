"""How long after the STT API has a result does the transcript reach Telegram?

Runs the real bot against its own fake Bot API and fake AIML API over HTTP on 127.0.0.1. Each
job's processing time is `0.8 + 0.25 * audio seconds` with +-jitter, the jobs of a wave spread
evenly over 1-60 s of processing and all sent at once. Three waves per run, each measured:

- cold: a fresh bot whose schedule has learnt nothing;
- warm: the same bot, right after the cold wave;
- restart: a new bot (new runtime, new schedule) on the same SQLite file, its schedule restored
  from the state the first bot saved there at shutdown.

Reported per jitter and wave, the median of the runs: the median and p90 delay from the moment
the fake API's job completed to the moment the transcript (an editMessageText of the status
message, or a sendMessage) arrived at the fake Telegram, polls per job, and the polls of the
longest (60 s) job.
`--seed-client` adds a lane that polls every 10 s like the seed client, for comparison.

    .venv/bin/python benchmarks/poll_latency.py [--jobs 40] [--runs 3] [--jitter 0.05 0.15]
        [--concurrency 2] [--seed-client]

About 3.5 minutes per batch of `--concurrency` runs: 10-11 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import BotRuntime
from bot.config.settings import Settings
from bot.pipeline.schedule_memory import ScheduleMemory
from bot.stt.aiml_backend import PollPlanner
from bot.stt.schedule import PollSchedule
from storage.db import Database
from storage.schedule_state import ScheduleStateRepository
from tests.fakes.stt import FakeStt, Upload
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
KEY = "bench-key-0123456789"
BASE, RATIO = 0.8, 0.25
PHASES = ("cold", "warm", "restart")


class SeedPlanner:
    """The seed client's loop: poll at once, then every 10 s."""

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        yield 0.0
        while True:
            yield 10.0

    def observe(
        self,
        model: str,
        audio_seconds: float | None,
        completed_after: float,
        uncertainty: float = 0.0,
    ) -> None:
        return None


@dataclass(frozen=True)
class JobSpec:
    chat_id: int
    audio_seconds: int
    processing: float  # seconds the fake API takes

    @property
    def payload(self) -> bytes:
        return b"OggS" + self.chat_id.to_bytes(8, "big")


@dataclass
class Outcome:
    latency: float
    polls: int
    processing: float


@dataclass(frozen=True)
class Summary:
    median_ms: float
    p90_ms: float
    polls: float
    longest_polls: int

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Summary:
        latencies = sorted(o.latency * 1000 for o in outcomes)
        return cls(
            statistics.median(latencies),
            latencies[int(0.9 * (len(latencies) - 1))],
            statistics.fmean(o.polls for o in outcomes),
            max(outcomes, key=lambda o: o.processing).polls,
        )


class Fakes:
    """A fake Bot API and a fake AIML API whose jobs take what each payload says."""

    def __init__(self) -> None:
        self.telegram = FakeTelegram(TOKEN)
        self.stt = FakeStt(api_key=KEY)
        self.processing: dict[bytes, float] = {}
        self.stt.delay = self._delay
        self.stt.transcript = "benchmark transcript"

    def _delay(self, upload: Upload) -> float:
        return self.processing[bytes(upload.data or b"")]

    async def __aenter__(self) -> Fakes:
        await self.telegram.start()
        await self.stt.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stt.close()
        await self.telegram.stop()

    async def run(self, jobs: list[JobSpec]) -> list[Outcome]:
        for job in jobs:
            self.processing[job.payload] = job.processing
            self.telegram.push_voice(job.chat_id, job.payload, duration=job.audio_seconds)

        def delivered(job: JobSpec) -> bool:
            return self.telegram.bot_texts(job.chat_id) == [self.stt.transcript]

        await self.telegram.wait_for(
            lambda: all(delivered(job) for job in jobs), timeout=300, what="all transcripts"
        )
        return [self._outcome(job) for job in jobs]

    def _outcome(self, job: JobSpec) -> Outcome:
        # The status message is edited into the transcript, or, where the bot skipped it (a
        # quick job, a busy moment), the transcript comes as a new message.
        reply = min(
            (
                call
                for method in ("editMessageText", "sendMessage")
                for call in self.telegram.calls_to(method)
                if call.params.get("chat_id") == job.chat_id
                and call.params.get("text") == self.stt.transcript
            ),
            key=lambda call: call.time,
        )
        generation_id = next(
            gid
            for gid, stt_job in self.stt.jobs.items()
            if bytes(stt_job.upload.data or b"") == job.payload
        )
        return Outcome(
            latency=reply.time - self.stt.completed_at(generation_id),
            polls=self.stt.jobs[generation_id].polls,
            processing=job.processing,
        )


class Bot:
    """One run of the real bot: `async with Bot(...)` starts it, leaving stops it."""

    def __init__(self, fakes: Fakes, planner: PollPlanner, database: Path) -> None:
        settings = Settings.from_env(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "AIMLAPI_KEY": KEY,
                "AIMLAPI_BASE_URL": fakes.stt.url,
                "TELEGRAM_API_URL": fakes.telegram.url,
                "DATABASE_PATH": str(database),
                "LOG_LEVEL": "WARNING",
                "MAX_JOBS_PER_MINUTE": "1000",
                "MAX_JOBS_IN_FLIGHT": "1000",
                "QUOTA_DAILY_SECONDS": "0",
                "QUOTA_MONTHLY_SECONDS": "0",
            },
            dotenv=None,
            local_engine_available=lambda: False,
        )
        self.runtime = BotRuntime(settings, schedule=planner)

    async def __aenter__(self) -> Bot:
        await self.runtime.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.__aexit__(None, None, None)


async def remember(schedule: PollSchedule, database: Path, *, save: bool) -> None:
    """What the bot does at shutdown (save) and at start (restore), on its SQLite file."""
    db = await Database.open(database)
    try:
        memory = ScheduleMemory(schedule, ScheduleStateRepository(db))
        await (memory.save() if save else memory.restore())
    finally:
        await db.close()


def make_jobs(
    count: int, first_chat: int, jitter: float, rng: random.Random, longest: float = 60.0
) -> list[JobSpec]:
    jobs = []
    for index in range(count):
        # Spread evenly over 1-60 s of processing, the last job exactly 60 s: the slowest case.
        target = 1.0 + (longest - 1.0) * index / max(1, count - 1)
        audio = max(1, round((target - BASE) / RATIO))
        processing = (BASE + RATIO * audio) * (1 + rng.uniform(-jitter, jitter))
        jobs.append(JobSpec(first_chat + index, audio, processing))
    return jobs


async def one_run(
    jitter: float, seed: int, count: int, longest: float, workdir: Path
) -> dict[str, Summary]:
    """Cold, warm and restart waves of the adaptive bot, on one SQLite file."""
    rng = random.Random(seed)
    database = workdir / f"bot-{jitter}-{seed}.sqlite3"
    results: dict[str, Summary] = {}
    async with Fakes() as fakes:
        schedule = PollSchedule()
        async with Bot(fakes, schedule, database):
            for wave, phase in enumerate(("cold", "warm")):
                jobs = make_jobs(count, 10_000 * (wave + 1), jitter, rng, longest)
                results[phase] = Summary.of(await fakes.run(jobs))
        await remember(schedule, database, save=True)
        restarted = PollSchedule()
        await remember(restarted, database, save=False)
        async with Bot(fakes, restarted, database):
            jobs = make_jobs(count, 30_000, jitter, rng, longest)
            results["restart"] = Summary.of(await fakes.run(jobs))
    return results


async def seed_client_run(
    jitter: float, seed: int, count: int, longest: float, workdir: Path
) -> Summary:
    async with Fakes() as fakes, Bot(fakes, SeedPlanner(), workdir / f"seed-{jitter}-{seed}.db"):
        jobs = make_jobs(count, 10_000, jitter, random.Random(seed), longest)
        return Summary.of(await fakes.run(jobs))


def row(label: str, phase: str, runs: list[Summary]) -> str:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    longest = [r.longest_polls for r in runs]
    return (
        f"{label:>6} | {phase:<11} | {median([r.median_ms for r in runs]):9.0f} | "
        f"{median([r.p90_ms for r in runs]):6.0f} | {median([r.polls for r in runs]):9.1f} | "
        f"{max(longest):>3} (runs: {', '.join(map(str, longest))})"
        f" | medians: {', '.join(f'{r.median_ms:.0f}' for r in runs)}"
    )


class LoopLag:
    """How late the event loop wakes a sleeper: the benchmark's own noise floor. On a busy
    machine every poll is late by about this much, and so is every transcript."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.lags.append(loop.time() - before - self.interval)

    def describe(self) -> str:
        if not self.lags:
            return "event-loop lag: not measured"
        ordered = sorted(self.lags)
        p50, p99 = ordered[len(ordered) // 2], ordered[int(0.99 * (len(ordered) - 1))]
        return f"event-loop lag while measuring: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs per wave")
    parser.add_argument("--runs", type=int, default=3, help="runs per jitter; medians reported")
    parser.add_argument("--jitter", type=float, nargs="+", default=[0.05, 0.15])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--longest", type=float, default=60.0, help="seconds of the longest job")
    parser.add_argument("--seed-client", action="store_true", help="add a 10 s polling lane")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="runs measured at the same time (default 2)"
    )
    args = parser.parse_args()

    lag = LoopLag()
    monitor = asyncio.create_task(lag.run())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        runs = [(jitter, args.seed + run) for run in range(args.runs) for jitter in args.jitter]
        results: list[dict[str, Summary]] = []
        seeded: list[Summary] = []
        # A few bots at a time: on a busy machine, more would measure the CPU, not the schedule.
        for first in range(0, len(runs), args.concurrency):
            batch = runs[first : first + args.concurrency]
            adaptive = asyncio.gather(
                *(one_run(jitter, seed, args.jobs, args.longest, workdir) for jitter, seed in batch)
            )
            seed_client = asyncio.gather(
                *(
                    seed_client_run(jitter, seed, args.jobs, args.longest, workdir)
                    for jitter, seed in (batch if args.seed_client else [])
                )
            )
            mine, theirs = await asyncio.gather(adaptive, seed_client)
            results += mine
            seeded += theirs

    monitor.cancel()
    print(
        f"{args.jobs} jobs of 1-{args.longest:.0f} s processing per wave, sent at once; "
        "latency = transcript at Telegram - job completed at the API; "
        f"median of {args.runs} runs"
    )
    print("jitter | wave        | median ms | p90 ms | polls/job | polls of the longest job")
    for jitter in args.jitter:
        mine = [r for (j, _), r in zip(runs, results, strict=True) if j == jitter]
        label = f"+-{jitter:.0%}"
        for phase in PHASES:
            print(row(label, phase, [r[phase] for r in mine]))
        if args.seed_client:
            theirs = [r for (j, _), r in zip(runs, seeded, strict=True) if j == jitter]
            print(row(label, "seed 10 s", theirs))
    print(lag.describe())


if __name__ == "__main__":
    asyncio.run(main())
