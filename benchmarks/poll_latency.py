"""How long after the STT API has a result does the transcript reach Telegram?

Runs two real bots side by side in one process, each against its own fake Bot API and fake AIML
API over HTTP on 127.0.0.1: one with our adaptive poll schedule, one polling every 10 s like the
seed client. Both get the same jobs; each job's processing time is `0.8 + 0.25 * audio seconds`
with +-jitter, which spans 1-60 s. A warm-up wave lets the adaptive schedule learn, then a
measured wave runs. Reported per bot: the delay from the moment the fake API's job completed to
the moment the bot's editMessageText with the transcript arrived at the fake Telegram, the
share of that delay after the completed poll (our own processing), and polls per job.

    .venv/bin/python benchmarks/poll_latency.py [--jobs 40] [--jitter 0.05] [--seed 1]
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
from bot.stt.aiml_backend import PollPlanner
from bot.stt.schedule import PollSchedule
from tests.fakes.stt import FakeStt, Upload
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
KEY = "bench-key-0123456789"
BASE, RATIO = 0.8, 0.25


class SeedPlanner:
    """The seed client's loop: poll at once, then every 10 s."""

    def plan(
        self, model: str, audio_seconds: float | None, elapsed: float = 0.0
    ) -> Iterator[float]:
        yield 0.0
        while True:
            yield 10.0

    def observe(self, model: str, audio_seconds: float | None, completed_after: float) -> None:
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
    after_poll: float
    polls: int
    processing: float


class Lane:
    """One bot with its own pair of fakes."""

    def __init__(self, name: str, planner: PollPlanner, workdir: Path) -> None:
        self.name = name
        self.planner = planner
        self.workdir = workdir
        self.telegram = FakeTelegram(TOKEN)
        self.stt = FakeStt(api_key=KEY)
        self.processing: dict[bytes, float] = {}
        self.stt.delay = self._delay
        self.stt.transcript = "benchmark transcript"
        self.runtime: BotRuntime | None = None

    def _delay(self, upload: Upload) -> float:
        return self.processing[bytes(upload.data or b"")]

    async def __aenter__(self) -> Lane:
        await self.telegram.start()
        await self.stt.start()
        settings = Settings.from_env(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "AIMLAPI_KEY": KEY,
                "AIMLAPI_BASE_URL": self.stt.url,
                "TELEGRAM_API_URL": self.telegram.url,
                "DATABASE_PATH": str(self.workdir / f"{self.name}.sqlite3"),
                "LOG_LEVEL": "WARNING",
                "MAX_JOBS_PER_MINUTE": "1000",
                "MAX_JOBS_IN_FLIGHT": "1000",
                "QUOTA_DAILY_SECONDS": "0",
                "QUOTA_MONTHLY_SECONDS": "0",
            },
            dotenv=None,
            local_engine_available=lambda: False,
        )
        self.runtime = BotRuntime(settings, schedule=self.planner)
        await self.runtime.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runtime is not None
        await self.runtime.__aexit__(None, None, None)
        await self.stt.close()
        await self.telegram.stop()

    async def run(self, jobs: list[JobSpec]) -> list[Outcome]:
        for job in jobs:
            self.processing[job.payload] = job.processing
            self.telegram.push_voice(job.chat_id, job.payload, duration=job.audio_seconds)

        def delivered(job: JobSpec) -> bool:
            return self.telegram.bot_texts(job.chat_id) == [self.stt.transcript]

        await self.telegram.wait_for(
            lambda: all(delivered(job) for job in jobs), timeout=240, what="all transcripts"
        )
        return [self._outcome(job) for job in jobs]

    def _outcome(self, job: JobSpec) -> Outcome:
        edit = next(
            call
            for call in self.telegram.calls_to("editMessageText")
            if call.params.get("chat_id") == job.chat_id
            and call.params.get("text") == self.stt.transcript
        )
        generation_id = next(
            gid
            for gid, stt_job in self.stt.jobs.items()
            if bytes(stt_job.upload.data or b"") == job.payload
        )
        last_poll = max(
            request.at
            for request in self.stt.requests_to("fetch")
            if request.generation_id == generation_id
        )
        completed = self.stt.completed_at(generation_id)
        return Outcome(
            latency=edit.time - completed,
            after_poll=edit.time - last_poll,
            polls=self.stt.jobs[generation_id].polls,
            processing=job.processing,
        )


def make_jobs(
    count: int, first_chat: int, low: float, high: float, jitter: float, rng: random.Random
) -> list[JobSpec]:
    jobs = []
    for index in range(count):
        # Spread evenly over [low, high], the last job exactly `high`: the slowest case.
        target = high if index == count - 1 else low + (high - low) * index / max(1, count - 1)
        audio = max(1, round((target - BASE) / RATIO))
        processing = (BASE + RATIO * audio) * (1 + rng.uniform(-jitter, jitter))
        jobs.append(JobSpec(first_chat + index, audio, processing))
    return jobs


def summarise(name: str, outcomes: list[Outcome]) -> str:
    latencies = sorted(o.latency * 1000 for o in outcomes)
    after = sorted(o.after_poll * 1000 for o in outcomes)
    longest = max(outcomes, key=lambda o: o.processing)
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    return (
        f"{name:>9} | {statistics.median(latencies):8.0f} | {p90:8.0f} | {max(latencies):8.0f} | "
        f"{statistics.median(after):10.1f} | {statistics.fmean(o.polls for o in outcomes):6.1f} | "
        f"{longest.polls:3d} polls for {longest.processing:4.1f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--jitter", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    warmup = make_jobs(12, 10_000, 1.0, 16.0, args.jitter, rng)
    measured = make_jobs(args.jobs, 20_000, 1.0, 60.0, args.jitter, rng)
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            Lane("adaptive", PollSchedule(), Path(workdir)) as adaptive,
            Lane("seed-10s", SeedPlanner(), Path(workdir)) as seed,
        ):
            await asyncio.gather(adaptive.run(warmup), seed.run(warmup))
            results = await asyncio.gather(adaptive.run(measured), seed.run(measured))
    print(
        f"{args.jobs} jobs of 1-60 s processing, jitter +-{args.jitter:.0%}, after a "
        f"12-job warm-up; latency = transcript edit at Telegram - job completed at the API"
    )
    print("     bot   | median ms |  p90 ms  |  max ms  | after poll | polls | longest job")
    for lane, outcomes in zip(("adaptive", "seed-10s"), results, strict=True):
        print(summarise(lane, outcomes))
    ratio = statistics.median(o.latency for o in results[1]) / statistics.median(
        o.latency for o in results[0]
    )
    print(f"median latency ratio seed/adaptive: {ratio:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
