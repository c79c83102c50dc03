"""Load benchmarks (issue 11): a command's answer under load, Telegram calls and CPU per note,
notes a second through Telegram's limit, and 10,000 jobs in flight.

    .venv/bin/python benchmarks/load.py [--small] [--scenario NAME ...] [--runs N]
                                        [--before CHECKOUT] [--before-runs N] [--side-by-side]
                                        [--json PATH] [--profile PATH]

Each run starts two processes: the fakes (`python -m tests.fakes.serve`: FakeTelegram and the fake
STT API behind a control API), pinned to CPU 1, and the real bot (`python -m bot run`), pinned to
CPU 0 with `taskset`. The harness pushes notes and commands through the control API, reads the
bot's CPU time and memory from /proc/<pid>/stat and /proc/<pid>/status, and reads what Telegram
saw from the fakes. It imports nothing from the bot, so it can run another checkout of it.

--before CHECKOUT runs every scenario a second time against that checkout of the bot, e.g. one made
with `git worktree add /tmp/before 0c1fa34`, with the same harness and fakes, and prints both
columns. Each figure is the median of --runs runs (3 by default; --before-runs for the other
checkout); ratios (per note, per second) are taken within one run. With --side-by-side both
checkouts run at the same moment, which takes this machine's drift out of a CPU comparison.
--profile PATH runs the bot of the `cpu` scenario under cProfile once and prints where its time
goes, import machinery first. cProfile counts wall time; for CPU, run the harness on Python
3.12 or newer with PYTHONPERFSUPPORT=1, which the bot inherits, and `perf record -p <its pid>`
names Python functions.

Scenarios (one function each, listed in SCENARIOS: add one the same way):

- fairness: 5,000 notes (500 with --small) at once; once the bot has taken every update, and
  while it downloads, uploads and answers them, /start from ten new users, one a second: how long
  each waits for its answer. What a /start finds ahead of it is whatever the bot has queued to
  send: status messages and transcripts.
- calls: 100 notes arriving at 5 a second, at ease: Bot API calls, file downloads and messages (the
  requests Telegram's flood limits count: sends, edits, chat actions) per note.
- throughput: 1,500 notes at once (300), each in its own chat: notes answered per second through
  Telegram's 30 messages a second, and the most messages the bot sent in any one second.
- cpu: 2,000 notes at once (300) with the rate limiter off (TELEGRAM_RATE_LIMIT=off, which exists
  for this): the bot's CPU time per note, from the push to the last transcript. A checkout
  without that switch runs with its limiter on.
- inflight: 10,000 notes (1,000) against an API that takes a minute (20 s), rate limiter off so
  that delivery takes seconds, not 6 minutes: peak RSS, event-loop lag (sampled from the bot's
  /healthz when it has one), a /start's answer, and whether every note is delivered. Not run
  against --before: at 30 messages a second, 3 per note, that checkout needs 17 minutes.
- big_notes: 50 notes of 20 MB at once (10), against a quick API: the rise of the bot's peak RSS
  (VmHWM) over its idle RSS while it downloads, measures and uploads them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
JSON = dict[str, Any]

BOT_CPU, FAKES_CPU = 0, 1
# Requests Telegram's flood limits count; getFile and the download are reads.
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendChatAction"})
DOWNLOAD = "fileDownload"  # the fake's name for a file download
PROBE_USERS = 900_000_001  # /start probes come from users no note uses
PROBE_LIMIT = 600.0  # seconds a /start probe waits for its answer; longer shows as "no answer"
TICKS = os.sysconf("SC_CLK_TCK")


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float | None  # None: not measurable on this checkout
    unit: str
    target: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if math.isinf(self.value):
            return "no answer"
        if self.unit == "%":
            return f"{self.value:.1f} %"
        whole = self.value == int(self.value) and abs(self.value) >= 10
        digits = 0 if whole or abs(self.value) >= 100 else 1 if abs(self.value) >= 10 else 2
        return f"{self.value:.{digits}f} {self.unit}".rstrip()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: with ten samples, p99 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median_figures(runs: list[list[Figure]]) -> list[Figure]:
    """Each figure's median over the runs (runs give the same figures in the same order)."""
    merged = []
    for same in zip(*runs, strict=True):
        values = [f.value for f in same if f.value is not None]
        first = same[0]
        value = statistics.median(values) if values else None
        merged.append(Figure(first.name, value, first.unit, first.target))
    return merged


# --- processes -----------------------------------------------------------------------------


def pinned(cpu: int, command: list[str]) -> list[str]:
    """`taskset -c cpu command` where taskset exists and the CPU is ours."""
    taskset = shutil.which("taskset")
    if taskset and cpu in os.sched_getaffinity(0) and len(os.sched_getaffinity(0)) > 1:
        return [taskset, "-c", str(cpu), *command]
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Fakes:
    """The fakes process and a client of its control API."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self.urls: JSON = {}

    async def start(self) -> None:
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *pinned(FAKES_CPU, [sys.executable, "-m", "tests.fakes.serve"]),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 30)
        if not line:
            raise RuntimeError(f"the fakes did not start; see {self._log_path}")
        self.urls = json.loads(line)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))

    async def post(self, path: str, body: JSON) -> JSON:
        assert self._session is not None
        async with self._session.post(self.urls["control"] + path, json=body) as response:
            response.raise_for_status()
            answer: JSON = await response.json()
            return answer

    async def get(self, path: str, **query: str) -> JSON:
        assert self._session is not None
        url = self.urls["control"] + path
        async with self._session.get(url, params=query) as response:
            response.raise_for_status()
            answer: JSON = await response.json()
            return answer

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), 15)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


class Bot:
    """`python -m bot run` from a checkout, pinned to one CPU; its CPU and memory from /proc."""

    def __init__(self, checkout: Path, env: dict[str, str], workdir: Path, log: Path) -> None:
        self._checkout = checkout
        self._env = env
        self._workdir = workdir
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, profile: Path | None = None) -> None:
        command = [sys.executable, "-m", "bot", "run"]
        if profile is not None:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "bot", "run"]
        with self._log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *pinned(BOT_CPU, command),  # taskset execs: the pid is the bot's
                env=self._env,
                cwd=self._workdir,  # not a checkout: a developer's .env must not leak in
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cpu_seconds(self) -> float:
        """User and system time of the bot so far, all its threads."""
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """(user time, system time) of the bot so far, all its threads."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime

    def memory_mb(self) -> tuple[float, float]:
        """(RSS now, peak RSS) in MB."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- one run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkout:
    label: str
    path: Path

    def has(self, setting: str) -> bool:
        """Whether this checkout's bot knows an environment variable (its settings name it)."""
        config = (self.path / "bot" / "config").glob("*.py")
        return any(setting.lower() in path.read_text().lower() for path in config)


@dataclass
class Run:
    """What a scenario works with: the fakes, the bot, and helpers to drive and read them."""

    checkout: Checkout
    small: bool
    workdir: Path
    fakes: Fakes
    bot: Bot | None = None
    profile: Path | None = None
    probes: int = 0
    notes: list[JSON] = field(default_factory=list)

    def environment(self, **overrides: str) -> dict[str, str]:
        urls = self.fakes.urls
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(self.checkout.path),
            "PTB_TIMEDELTA": "true",
            "TELEGRAM_BOT_TOKEN": urls["token"],
            "AIMLAPI_KEY": urls["api_key"],
            "AIMLAPI_BASE_URL": urls["stt"],
            "TELEGRAM_API_URL": urls["telegram"],
            "DATABASE_PATH": str(self.workdir / "bot.sqlite3"),
            "LOG_LEVEL": "WARNING",
            # Load, not refusals: no quota and no per-user caps.
            "QUOTA_DAILY_SECONDS": "0",
            "QUOTA_MONTHLY_SECONDS": "0",
            "MAX_JOBS_IN_FLIGHT": "1000000",
            "MAX_JOBS_PER_MINUTE": "1000000",
        }
        # Python 3.12's frames for `perf record -p <bot's pid>`, when the harness runs with it.
        if perf_support := os.environ.get("PYTHONPERFSUPPORT"):
            env["PYTHONPERFSUPPORT"] = perf_support
        env.update(overrides)
        return env

    async def start_bot(self, **env: str) -> Bot:
        """Start the bot and wait until it polls Telegram."""
        before = (await self.progress())["get_updates"]
        self.bot = Bot(
            self.checkout.path, self.environment(**env), self.workdir, self.workdir / "bot.log"
        )
        await self.bot.start(self.profile)
        await self.wait(lambda p: p["get_updates"] > before, 60, "the bot to poll")
        return self.bot

    async def progress(self) -> JSON:
        return await self.fakes.get("/progress")

    async def wait(
        self, done: Callable[[JSON], bool], limit: float, what: str, every: float = 0.25
    ) -> bool:
        """Poll the fakes' progress until `done`; False (and a note) at the limit."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if done(await self.progress()):
                return True
            if self.bot is not None and not self.bot.alive():
                raise RuntimeError(f"the bot exited; see {self.workdir / 'bot.log'}")
            await asyncio.sleep(every)
        print(f"    (gave up waiting for {what} after {limit:.0f} s)", file=sys.stderr)
        return False

    async def push_notes(
        self,
        count: int,
        *,
        durations: tuple[int, int] = (1, 5),
        stt_delays: tuple[float, float] = (0.2, 1.0),
        size: int = 0,
    ) -> list[JSON]:
        """`count` voice notes, each from a user of its own (so no chat limit applies); `size`:
        each note's file padded to about that many bytes."""
        first = 500_001 + len(self.notes)
        answer = await self.fakes.post(
            "/notes",
            {
                "count": count,
                "users": count,
                "first_user": first,
                "durations": list(durations),
                "stt_delays": list(stt_delays),
                "bytes": size,
            },
        )
        notes: list[JSON] = answer["notes"]
        self.notes.extend(notes)
        return notes

    async def wait_settled(self, limit: float) -> bool:
        wanted = len(self.notes)
        return await self.wait(lambda p: p["settled"] >= wanted, limit, "every note answered", 0.5)

    async def ask_start(self) -> float | None:
        """Send /start from a new user; seconds until Telegram sees the bot's answer."""
        self.probes += 1
        user = PROBE_USERS + self.probes
        sent = time.monotonic()  # CLOCK_MONOTONIC: the same clock as the fakes' call times
        await self.fakes.post("/text", {"chat_id": user, "text": "/start"})
        end = sent + PROBE_LIMIT
        while time.monotonic() < end:
            calls = (await self.fakes.get("/calls", chat_id=str(user)))["calls"]
            answered = [c for c in calls if c["method"] == "sendMessage" and c["status"] == 200]
            if answered:
                return float(answered[0]["time"]) - sent
            await asyncio.sleep(0.05)
        return None

    async def ask_start_every(self, count: int, interval: float) -> list[float]:
        """`count` /start probes, one every `interval` seconds; their answer times."""

        async def probe(delay: float) -> float | None:
            await asyncio.sleep(delay)
            return await self.ask_start()

        answers = await asyncio.gather(*(probe(i * interval) for i in range(count)))
        return [answer if answer is not None else math.inf for answer in answers]

    async def results(self) -> JSON:
        return await self.fakes.get("/results")


# --- reading what Telegram saw -------------------------------------------------------------


def note_chats(results: JSON) -> set[int]:
    return {int(note["chat_id"]) for note in results["notes"]}


def count_calls(results: JSON) -> dict[str, int]:
    """Calls by method: those to the notes' chats, plus every getFile and download."""
    chats = note_chats(results)
    counts: dict[str, int] = {}
    for call in results["calls"]:
        method = call["method"]
        if call["chat_id"] in chats or method in ("getFile", DOWNLOAD):
            counts[method] = counts.get(method, 0) + 1
    return counts


def answer_times(results: JSON) -> list[float]:
    """For each note, when Telegram took the first message showing its transcript."""
    marker_of = {int(note["chat_id"]): note["marker"] for note in results["notes"]}
    first: dict[int, float] = {}
    for call in results["calls"]:
        chat = call["chat_id"]
        if call["status"] != 200 or chat not in marker_of or chat in first:
            continue
        if call["method"] in MESSAGE_METHODS and marker_of[chat] in (call["text"] or ""):
            first[chat] = float(call["time"])
    return sorted(first.values())


def busiest_second(results: JSON) -> int:
    """The most messages (MESSAGE_METHODS) Telegram received in any one second."""
    times = sorted(
        float(call["time"]) for call in results["calls"] if call["method"] in MESSAGE_METHODS
    )
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def steady_rate(times: list[float]) -> float | None:
    """Notes a second between the 10th and the 90th percentile of answer times."""
    if len(times) < 10:
        return None
    low, high = int(len(times) * 0.1), int(len(times) * 0.9) - 1
    span = times[high] - times[low]
    return (high - low) / span if span > 0 else None


# --- scenarios -----------------------------------------------------------------------------


async def fairness(run: Run) -> list[Figure]:
    notes = 500 if run.small else 5000
    await run.start_bot()
    # Notes of 5-30 s that the API transcribes in 10-30 s: while the bot still downloads and
    # uploads the later ones, the first transcripts come back.
    await run.push_notes(notes, durations=(5, 30), stt_delays=(10.0, 30.0))
    # The probes come once the bot has every update, so that none waits behind the notes'
    # updates in Telegram's queue: only behind what the bot itself has to send.
    await run.wait(lambda p: p["pending_updates"] == 0, 600, "the bot to take every update")
    await asyncio.sleep(2.0)
    before = await run.progress()
    answers = await run.ask_start_every(10, 1.0)
    label = f"/start with {notes:,} notes in flight: answer"
    return [
        Figure(f"{label}, median", statistics.median(answers), "s"),
        Figure(f"{label}, p99", percentile(answers, 0.99), "s", "≤ 1 s"),
        Figure("  notes uploaded to the API when the first /start came", before["stt_jobs"], ""),
        Figure("  notes answered when the first /start came", before["settled"], ""),
    ]


async def calls(run: Run) -> list[Figure]:
    count = 100
    await run.start_bot()
    # Transcripts that take 2-6 s, as a short note does at the API: worth a status message.
    for _ in range(count // 10):
        await run.push_notes(10, durations=(5, 20), stt_delays=(2.0, 6.0))
        await asyncio.sleep(2.0)
    await run.wait_settled(300)
    counted = count_calls(await run.results())
    api_calls = sum(n for method, n in counted.items() if method != DOWNLOAD)
    messages = sum(counted.get(method, 0) for method in MESSAGE_METHODS)
    return [
        Figure("Telegram Bot API calls per note", api_calls / count, "", "≤ 3"),
        Figure("messages per note (sends, edits, chat actions)", messages / count, "", "≤ 2"),
        Figure("file downloads per note", counted.get(DOWNLOAD, 0) / count, ""),
    ]


async def throughput(run: Run) -> list[Figure]:
    count = 300 if run.small else 1500
    await run.start_bot()
    await run.push_notes(count, durations=(1, 30), stt_delays=(0.5, 3.0))
    await run.wait_settled(1200)
    results = await run.results()
    counted = count_calls(results)
    messages = sum(counted.get(method, 0) for method in MESSAGE_METHODS)
    rate = steady_rate(answer_times(results))
    return [
        Figure("notes per second through the 30/s limit", rate, "/s", "≥ 15"),
        Figure("most messages in any one second", busiest_second(results), "", "≤ 30"),
        Figure("messages per note at full speed", messages / count, ""),
    ]


async def cpu(run: Run) -> list[Figure]:
    count = 300 if run.small else 2000
    limiter_off = run.checkout.has("TELEGRAM_RATE_LIMIT")
    bot = await run.start_bot(**({"TELEGRAM_RATE_LIMIT": "off"} if limiter_off else {}))
    await asyncio.sleep(1.0)  # start-up work done
    (user, system), started = bot.cpu_split(), time.monotonic()
    await run.push_notes(count, durations=(1, 5), stt_delays=(0.2, 1.0))
    await run.wait_settled(1200)
    user_after, system_after = bot.cpu_split()
    user, system = user_after - user, system_after - system
    used, elapsed = user + system, time.monotonic() - started
    results = await run.results()
    counted = count_calls(results)
    api_calls = sum(n for method, n in counted.items() if method != DOWNLOAD)
    suffix = "" if limiter_off else " (limiter on: no switch)"
    return [
        Figure(f"bot CPU per note, rate limiter off{suffix}", used / count * 1000, "ms", "≤ 5 ms"),
        # Where it goes: the kernel's share is sockets, files and SQLite's writes.
        Figure("  of which system time", system / count * 1000, "ms"),
        Figure(f"notes per second, rate limiter off{suffix}", count / elapsed, "/s"),
        # What the CPU pays for: every call and every poll is a request to build and parse.
        Figure("  Bot API calls per note", api_calls / count, ""),
        Figure("  STT API requests per note", len(results["stt_requests"]) / count, ""),
    ]


async def inflight(run: Run) -> list[Figure]:
    count = 1000 if run.small else 10_000
    env = {"TELEGRAM_RATE_LIMIT": "off"}
    health_port = free_port() if run.checkout.has("HTTP_PORT") else None
    if health_port is not None:
        env["HTTP_PORT"] = str(health_port)
    bot = await run.start_bot(**env)
    idle_rss, _ = bot.memory_mb()
    lags: list[float] = []
    sampler = (
        asyncio.create_task(sample_loop_lag(health_port, lags)) if health_port is not None else None
    )
    try:
        delays = (20.0, 30.0) if run.small else (60.0, 90.0)
        await run.push_notes(count, durations=(1, 5), stt_delays=delays)
        await run.wait(lambda p: p["stt_jobs"] >= count, 900, "every note uploaded")
        answers = await run.ask_start_every(5, 1.0)
        await run.wait_settled(1200)
        settled = (await run.progress())["settled"]
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
    _, peak = bot.memory_mb()
    label = f"{count:,} jobs in flight:"
    lag = percentile(lags, 0.99) * 1000 if lags else None
    return [
        Figure(f"{label} peak RSS", peak, "MB", "≤ 250 MB"),
        Figure(f"{label} RSS rise over idle", peak - idle_rss, "MB"),
        Figure(f"{label} event-loop lag, p99", lag, "ms"),
        Figure(f"{label} /start answer, p99", percentile(answers, 0.99), "s"),
        Figure(f"{label} delivered", 100 * settled / count, "%", "100 %"),
    ]


async def big_notes(run: Run) -> list[Figure]:
    """50 notes of 20 MB at once (10 with --small): how far the bot's peak RSS rises over its
    idle RSS while it downloads, measures and uploads them (issue 11: each file was held in
    memory whole, at least twice)."""
    count = 10 if run.small else 50
    bot = await run.start_bot()
    await asyncio.sleep(1.0)  # start-up work done
    idle, _ = bot.memory_mb()
    await run.push_notes(count, durations=(60, 300), stt_delays=(0.5, 2.0), size=20_000_000)
    await run.wait_settled(900)
    settled = (await run.progress())["settled"]
    _, peak = bot.memory_mb()  # VmHWM: the peak of the whole run, however brief
    label = f"{count} notes of 20 MB at once:"
    return [
        Figure(f"{label} rise in peak RSS over idle", peak - idle, "MB", "≤ 100 MB"),
        Figure(f"{label} idle RSS", idle, "MB"),
        Figure(f"{label} peak RSS", peak, "MB"),
        Figure(f"{label} delivered", 100 * settled / count, "%", "100 %"),
    ]


async def sample_loop_lag(port: int, lags: list[float]) -> None:
    """The bot's own measure of one event-loop turn, from its /healthz, five times a second."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    body = await response.json()
                    if "loop_lag_seconds" in body:
                        lags.append(float(body["loop_lag_seconds"]))
            await asyncio.sleep(0.2)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    measure: Callable[[Run], Awaitable[list[Figure]]]
    runs_before: bool = True  # whether --before runs it too


SCENARIOS = [
    Scenario("fairness", fairness),
    Scenario("calls", calls),
    Scenario("throughput", throughput),
    Scenario("cpu", cpu),
    Scenario("inflight", inflight, runs_before=False),
    Scenario("big_notes", big_notes),
]


# --- driver --------------------------------------------------------------------------------


async def run_once(
    scenario: Scenario, checkout: Checkout, small: bool, profile: Path | None = None
) -> list[Figure]:
    workdir = Path(tempfile.mkdtemp(prefix=f"load-{scenario.name}-"))
    fakes = Fakes(workdir / "fakes.log")
    run = Run(checkout, small, workdir, fakes, profile=profile)
    failed = True
    try:
        await fakes.start()
        figures = await scenario.measure(run)
        failed = False
        return figures
    finally:
        if run.bot is not None:
            await run.bot.stop()
        await fakes.stop()
        if failed:
            print(f"    the logs are kept in {workdir}", file=sys.stderr)
        elif profile is None:
            shutil.rmtree(workdir, ignore_errors=True)


async def measure(scenario: Scenario, checkout: Checkout, small: bool, runs: int) -> list[Figure]:
    results = []
    for number in range(runs):
        started = time.monotonic()
        figures = await run_once(scenario, checkout, small)
        print_run(checkout, scenario, number, time.monotonic() - started, figures)
        results.append(figures)
    return median_figures(results)


def print_run(
    checkout: Checkout, scenario: Scenario, number: int, took: float, figures: list[Figure]
) -> None:
    shown = "; ".join(f"{f.name}: {f.shown()}" for f in figures)
    print(f"  {checkout.label} {scenario.name} #{number + 1} ({took:.0f} s): {shown}")


def table(rows: Iterable[tuple[Figure, Figure | None]], before: bool) -> str:
    header = ["figure", *(["before"] if before else []), "after", "target"]
    lines = [header]
    for after, old in rows:
        shown_before = [old.shown() if old is not None else "—"] if before else []
        lines.append([after.name, *shown_before, after.shown(), after.target])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def print_profile(path: Path) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    print("\nWhere the bot's time goes (cumulative, top 25):")
    stats.sort_stats("cumulative").print_stats(25)
    print("Import machinery at run time (should be near zero after start-up):")
    stats.sort_stats("ncalls").print_stats(r"find_spec|_find_and_load|path_stats|posix.stat")


Rows = list[tuple[Figure, Figure | None]]


async def measure_side_by_side(
    scenario: Scenario, after: Checkout, before: Checkout, small: bool, runs: int
) -> tuple[list[Figure], list[Figure]]:
    """Both checkouts at once, run after run: the bots share CPU 0 and the fakes CPU 1, so
    whatever else the machine does falls on both alike. Only figures of a bot's own CPU time
    (per note) compare this way; rates and latencies halve."""
    now_runs, then_runs = [], []
    for number in range(runs):
        started = time.monotonic()
        now, then = await asyncio.gather(
            run_once(scenario, after, small), run_once(scenario, before, small)
        )
        took = time.monotonic() - started
        print_run(after, scenario, number, took, now)
        print_run(before, scenario, number, took, then)
        if now[0].value and then[0].value:
            ratio = now[0].value / then[0].value
            print(f"  {now[0].name}, after / before, #{number + 1}: {ratio:.3f}")
        now_runs.append(now)
        then_runs.append(then)
    return median_figures(now_runs), median_figures(then_runs)


async def measure_all(
    chosen: list[Scenario],
    after: Checkout,
    before: Checkout | None,
    small: bool,
    runs: int,
    before_runs: int,
    side_by_side: bool = False,
) -> Rows:
    rows: Rows = []
    for scenario in chosen:
        print(f"{scenario.name}:")
        if side_by_side and before is not None and scenario.runs_before:
            now, then_figures = await measure_side_by_side(scenario, after, before, small, runs)
            rows.extend(zip(now, then_figures, strict=True))
            continue
        now = await measure(scenario, after, small, runs)
        then: list[Figure | None] = [None] * len(now)
        if before is not None and scenario.runs_before:
            then = list(await measure(scenario, before, small, before_runs))
        rows.extend(zip(now, then, strict=True))
    return rows


def as_json(rows: Rows) -> str:
    return json.dumps(
        [
            {
                "figure": now.name,
                "after": now.value,
                "before": then.value if then is not None else None,
                "unit": now.unit,
                "target": now.target,
            }
            for now, then in rows
        ],
        indent=2,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the notes, or so")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--before", metavar="CHECKOUT", help="also measure this checkout")
    parser.add_argument("--before-runs", type=int, help="runs per figure there (default: --runs)")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run both checkouts at the same time (for CPU per note: see measure_side_by_side)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the figures here too")
    parser.add_argument("--profile", metavar="PATH", help="profile the cpu scenario's bot")
    args = parser.parse_args()
    with contextlib.suppress(OSError):
        # The harness keeps off the bot's CPU, with the fakes.
        if {BOT_CPU, FAKES_CPU} <= os.sched_getaffinity(0):
            os.sched_setaffinity(0, {FAKES_CPU})
    after = Checkout("after", ROOT)
    if args.profile:
        profile = Path(args.profile).resolve()
        cpu_scenario = next(s for s in SCENARIOS if s.name == "cpu")
        asyncio.run(run_once(cpu_scenario, after, args.small, profile))
        print_profile(profile)
        return 0
    before = Checkout("before", Path(args.before).resolve()) if args.before else None
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    before_runs = args.runs if args.before_runs is None else args.before_runs
    rows = asyncio.run(
        measure_all(
            chosen, after, before, args.small, args.runs, before_runs, args.side_by_side
        )
    )
    print()
    print(table(rows, before is not None))
    if args.json:
        Path(args.json).write_text(as_json(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
