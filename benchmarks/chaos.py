"""The chaos suite: is every voice note answered exactly once, whatever breaks?

The real bot (`python -m bot run`) runs as a subprocess, pinned to CPU 0 with `taskset` where
there is one, against FakeTelegram and FakeStt in a third process (`python -m tests.fakes.serve`).
The harness only pushes notes and faults through the fakes' control API, kills and restarts the
bot, and afterwards reads what users saw from the fakes and the quota ledger from the bot's
SQLite file (read-only). It imports nothing from the bot.

    .venv/bin/python benchmarks/chaos.py [--small] [--scenario NAME ...] [--seed N] [--keep]
                                         [--details] [--bot-root CHECKOUT]

Scenarios (issue 9, item 7):

- backlog-kill: every note waits in getUpdates before the bot starts; SIGKILL shortly after
  the bot's first batch, then a restart;
- random-kills: notes from many users arrive in waves while 3-5 SIGKILLs land at random moments,
  against an API that takes 2-20 s per note; a tenth of the notes have transcripts long enough
  for two messages or a file;
- stt-storm: the STT API answers 5xx, 429 with Retry-After, hangs, malformed JSON, 404, and
  fails some generations with the `error` status;
- telegram-faults: getFile, the download, sendMessage, editMessageText and sendDocument answer
  429 with retry_after and 502, drop the connection before or after acting, or answer 6.5 s late
  (past python-telegram-bot's default read timeout); some transcripts are long, as above;
- telegram-outage: once every note is uploaded, Telegram answers 502 to everything for 60 s
  (8 s with --small) while the transcripts complete.

Each run ends by itself: when every note is settled (its whole transcript shows, or it got the
failure notice that is right for it) and the bot has made no request for a short while, when
the bot has made no request at all for longer (it gave up, or died), or at the scenario's
deadline. A request a fake is holding (a hang, a slow answer) is the bot waiting, not silence:
a poll that hangs 30 s, then a retry's backoff of up to 15 s, is not a bot that gave up. Then
the bot gets SIGTERM and the verdict is taken. What a bot would do after that is not seen: a
duplicate that a retry sends later than `settle_quiet` after the bot's last request, or a note
answered only after yet another restart, is not counted.

Notes, fault draws and kill moments come from the seed; the interleaving of two processes does
not, so two runs with one seed may differ in detail. `--bot-root` runs the bot package of
another checkout (`git archive <commit> | tar -x -C DIR`), to compare versions.

What the columns count, per note (see `classify`):

- once: every word of the note's transcript is shown exactly once, by bot messages that reply
  to the note: one message (a status message edited into the transcript is that message), the
  parts of a long transcript, or a file the bot sent. In stt-storm, a note whose every
  generation the API failed with the `error` status may instead get exactly one failure notice
  and no transcript: that is the right answer there, and such notes are also counted in
  "failed ok".
- never: some word is not shown (a failure notice, a status message left behind, nothing, or a
  transcript cut short), or a message that shows it is not a reply to the note.
- more: some word of the transcript is shown twice or more (a whole transcript twice, one part
  of it twice, the text and a file with the same text).
- extra status: replies to a note that do not show its transcript and are not its one right
  companion (the failure notice of a "failed ok" note, the status message that points to a
  transcript sent as a file), plus bot messages in the users' chats that reply to no note.
- uploads/note: generations the fake STT API created (uploads it accepted), over notes.
- ledger: see `ledger_verdicts`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.notes import Note, carries, words_shown  # noqa: E402
from tests.fakes.serve import STATUS_TEXT  # noqa: E402

JSON = dict[str, Any]
Size = Literal["small", "full"]
Verdict = Literal["once", "failed ok", "never", "more"]
LEDGER_TOLERANCE = 0.01  # seconds; the ledger stores REAL


# --- plans -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """The numbers of one scenario at one size. Times are in seconds."""

    notes: int
    users: int
    durations: tuple[int, int] = (1, 5)  # declared seconds per note, inclusive
    stt_delays: tuple[float, float] = (0.2, 1.0)  # the fake API's processing time per note
    waves: int = 1  # notes arrive in this many equal waves, one before each kill
    # This share of the notes is long: `long_seconds`, words padded to one of
    # `long_word_chars`, so the transcript fills two messages (6000 chars) or a file (10000).
    long_share: float = 0.0
    long_seconds: int = 20
    long_word_chars: tuple[int, ...] = (150, 250)
    kill_after: float = 0.5  # backlog-kill: after the first batch of updates reached the bot
    kills: tuple[int, int] = (0, 0)  # random-kills: how many, inclusive
    kill_window: tuple[float, float] = (0.5, 3.0)  # after the bot polls again
    fault_seconds: float = 0.0  # how long the storms last
    hang_seconds: float = 5.0
    slow_seconds: float = 6.5  # a slow Telegram answer: beyond PTB's 5 s default read timeout
    outage: float = 0.0
    # Every note settled and no request for this long: done. Longer than a first retry's
    # backoff, so a duplicate that a pending retry is about to send is still seen.
    settle_quiet: float = 2.0
    # No request at all for this long: the bot stopped trying. Longer than the backoff a
    # well-behaved bot may reach before the faults end (1 + 2 + 4 + 8 s: the next gap is 16 s).
    give_up_idle: float = 20.0
    # From the start of the scenario to the verdict. Generous: a run that goes well ends when
    # it settles, and a bot that starts slowly on a loaded machine must not look like a loss.
    deadline: float = 60.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    drive: Callable[[ChaosRun], Awaitable[None]]
    plans: dict[Size, Plan]
    # Whether a note whose every generation ended in the API's `error` status is rightly
    # answered by one failure notice.
    api_errors_are_final: bool = False


# --- processes ---------------------------------------------------------------------------


class FakesProcess:
    """`python -m tests.fakes.serve` and a client for its control API."""

    def __init__(self, seed: int, log_path: Path) -> None:
        self._seed = seed
        self._log_path = log_path
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self.urls: JSON = {}

    async def start(self) -> JSON:
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.fakes.serve",
                "--seed",
                str(self._seed),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 30)
        if not line:
            raise RuntimeError(f"the fakes process did not start; see {self._log_path}")
        self.urls = json.loads(line)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self.urls

    async def post(self, path: str, body: JSON) -> JSON:
        assert self._session is not None
        async with self._session.post(self.urls["control"] + path, json=body) as response:
            response.raise_for_status()
            answer: JSON = await response.json()
            return answer

    async def get(self, path: str) -> JSON:
        assert self._session is not None
        async with self._session.get(self.urls["control"] + path) as response:
            response.raise_for_status()
            answer: JSON = await response.json()
            return answer

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        process = self._process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


class BotProcess:
    """The bot under test: `python -m bot run`, started, SIGKILLed and restarted at will."""

    def __init__(self, env: dict[str, str], workdir: Path, log_path: Path) -> None:
        self._env = env
        self._workdir = workdir
        self._log_path = log_path
        self._process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        self.starts += 1
        with self._log_path.open("ab") as log:
            log.write(f"\n===== chaos: bot start #{self.starts} =====\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                *_pinned([sys.executable, "-m", "bot", "run"]),
                env=self._env,
                cwd=self._workdir,  # not the checkout: a developer's .env must not leak in
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def kill(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGKILL)
        await process.wait()
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within 15 s."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            await self.kill()

    def exited_by_itself(self) -> int | None:
        process = self._process
        return process.returncode if process is not None else None


def _pinned(command: list[str]) -> list[str]:
    """Pin the bot to CPU 0 where taskset exists and CPU 0 is ours, so runs compare."""
    taskset = shutil.which("taskset")
    if taskset and hasattr(os, "sched_getaffinity") and 0 in os.sched_getaffinity(0):
        return [taskset, "-c", "0", *command]
    return command


def bot_environment(urls: JSON, database: Path, bot_root: Path = ROOT) -> dict[str, str]:
    """The bot's whole environment: the fakes, a fresh database, and no quota or flood limit
    (the scenarios measure delivery, not refusals; the ledger is written all the same).

    bot_root is the checkout whose `bot` package runs (another one to compare versions).
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(bot_root),
        "PTB_TIMEDELTA": "true",
        "TELEGRAM_BOT_TOKEN": urls["token"],
        "AIMLAPI_KEY": urls["api_key"],
        "AIMLAPI_BASE_URL": urls["stt"],
        "TELEGRAM_API_URL": urls["telegram"],
        "DATABASE_PATH": str(database),
        "LOG_LEVEL": "INFO",
        "QUOTA_DAILY_SECONDS": "0",
        "QUOTA_MONTHLY_SECONDS": "0",
        "MAX_JOBS_IN_FLIGHT": "1000000",
        "MAX_JOBS_PER_MINUTE": "1000000",
    }


# --- one run -----------------------------------------------------------------------------


@dataclass
class ChaosRun:
    """What a scenario's driver works with."""

    plan: Plan
    fakes: FakesProcess
    bot: BotProcess
    random: random.Random
    started: float = field(default_factory=time.monotonic)
    notes: list[Note] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # kills, outages: for the report

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.plan.deadline - self.elapsed()

    def log(self, event: str) -> None:
        self.events.append(f"{self.elapsed():6.1f}s {event}")

    async def push_notes(self, count: int) -> list[Note]:
        plan = self.plan
        answer = await self.fakes.post(
            "/notes",
            {
                "count": count,
                "users": plan.users,
                "durations": list(plan.durations),
                "stt_delays": list(plan.stt_delays),
                "long": {
                    "share": plan.long_share,
                    "seconds": plan.long_seconds,
                    "word_chars": list(plan.long_word_chars),
                },
            },
        )
        pushed = [Note.from_json(item) for item in answer["notes"]]
        self.notes.extend(pushed)
        self.log(f"pushed {len(pushed)} notes")
        return pushed

    async def progress(self) -> JSON:
        return await self.fakes.get("/progress")

    async def wait_until(
        self, predicate: Callable[[JSON], bool], *, limit: float | None = None
    ) -> bool:
        """Poll the fakes' progress until predicate holds; False at the limit or deadline, or
        as soon as a bot that was started has exited by itself (nothing will change)."""
        end = time.monotonic() + min(limit if limit is not None else 1e9, self.remaining())
        while time.monotonic() < end:
            if predicate(await self.progress()):
                return True
            if self.bot.starts and not self.bot.running:
                return False
            await asyncio.sleep(0.1)
        return False

    async def kill_and_restart(self, pause: float = 0.2) -> None:
        await self.bot.kill()
        self.log(f"SIGKILL #{self.bot.kills}")
        await asyncio.sleep(pause)
        await self.start_bot()

    async def start_bot(self) -> None:
        """Start the bot and wait until it polls Telegram (a getUpdates after the start)."""
        polls = (await self.progress())["get_updates"]
        await self.bot.start()
        await self.wait_until(lambda p: p["get_updates"] > polls, limit=30)

    async def converge(self) -> str:
        """Wait for the end of the run (see the module docstring); say why it ended."""
        plan = self.plan
        while self.remaining() > 0:
            progress = await self.progress()
            if progress["notes"] and progress["settled"] == progress["notes"]:
                if progress["idle_for"] >= plan.settle_quiet:
                    return "settled"
            elif progress["idle_for"] >= plan.give_up_idle and not progress["in_outage"]:
                return f"idle {plan.give_up_idle:g} s with notes unsettled"
            if not self.bot.running:
                return f"the bot exited by itself (code {self.bot.exited_by_itself()})"
            await asyncio.sleep(0.2)
        return "deadline"


# --- scenario drivers --------------------------------------------------------------------


async def drive_backlog_kill(run: ChaosRun) -> None:
    await run.push_notes(run.plan.notes)
    await run.bot.start()
    await run.wait_until(lambda p: (p["first_batch_age"] or 0.0) >= run.plan.kill_after, limit=30)
    await run.kill_and_restart()


async def drive_random_kills(run: ChaosRun) -> None:
    plan = run.plan
    kills = run.random.randint(*plan.kills)
    waves = _split(plan.notes, plan.waves)
    await run.push_notes(waves.pop(0))
    await run.start_bot()
    for _ in range(kills):
        # The kill lands a random while after the bot polls again, a new wave in flight.
        await asyncio.sleep(run.random.uniform(*plan.kill_window))
        if waves:
            await run.push_notes(waves.pop(0))
            await asyncio.sleep(run.random.uniform(0.0, 0.5))
        await run.kill_and_restart(pause=run.random.uniform(0.1, 1.0))
    for wave in waves:
        await run.push_notes(wave)


async def drive_stt_storm(run: ChaosRun) -> None:
    plan = run.plan
    hang = plan.hang_seconds
    rates = [
        {"endpoint": "create", "kind": "5xx", "probability": 0.08, "status": 502},
        {"endpoint": "create", "kind": "429", "probability": 0.08, "retry_after": 1},
        {"endpoint": "create", "kind": "hang", "probability": 0.04, "seconds": hang},
        {"endpoint": "create", "kind": "malformed", "probability": 0.04},
        {"endpoint": "create", "kind": "error", "probability": 0.05},
        {"endpoint": "fetch", "kind": "5xx", "probability": 0.08, "status": 503},
        {"endpoint": "fetch", "kind": "429", "probability": 0.05, "retry_after": 1},
        {"endpoint": "fetch", "kind": "malformed", "probability": 0.08},
        {"endpoint": "fetch", "kind": "404", "probability": 0.03},
        {"endpoint": "fetch", "kind": "hang", "probability": 0.02, "seconds": hang},
    ]
    await run.fakes.post("/stt/faults", {"rates": rates})
    run.log("STT storm on")
    await run.push_notes(plan.notes)
    await run.bot.start()
    await _storm(run)
    await run.fakes.post("/stt/faults", {"clear": True})
    run.log("STT storm off")


async def drive_telegram_faults(run: ChaosRun) -> None:
    plan = run.plan
    rates = [
        {"method": method, **fault}
        for method in ("getFile", "fileDownload", "sendMessage", "editMessageText", "sendDocument")
        for fault in (
            {"kind": "429", "probability": 0.06, "retry_after": 1},
            {"kind": "5xx", "probability": 0.06, "status": 502},
            {"kind": "drop_before", "probability": 0.06},
            {"kind": "drop_after", "probability": 0.06},
            {"kind": "slow", "probability": 0.02, "seconds": plan.slow_seconds},
        )
    ]
    await run.fakes.post("/telegram/faults", {"rates": rates})
    run.log("Telegram faults on")
    await run.push_notes(plan.notes)
    await run.bot.start()
    await _storm(run)
    await run.fakes.post("/telegram/faults", {"clear": True})
    run.log("Telegram faults off")


async def drive_telegram_outage(run: ChaosRun) -> None:
    plan = run.plan
    await run.push_notes(plan.notes)
    await run.bot.start()
    # The outage starts once every note reached the API, so the transcripts complete in it.
    uploaded = await run.wait_until(lambda p: p["stt_jobs"] >= plan.notes, limit=60)
    if not uploaded:
        run.log("not every note was uploaded before the outage")
    await run.fakes.post("/telegram/outage", {"seconds": plan.outage})
    run.log(f"Telegram outage for {plan.outage:g} s")
    await asyncio.sleep(min(plan.outage, max(0.0, run.remaining())))
    run.log("Telegram outage over")


async def _storm(run: ChaosRun) -> None:
    """Let the faults rage for the plan's time, or until every note is settled."""
    notes = len(run.notes)
    await run.wait_until(lambda p: p["settled"] >= notes, limit=run.plan.fault_seconds)


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, parts)
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "backlog-kill",
            "backlog in getUpdates, SIGKILL after the first batch, restart",
            drive_backlog_kill,
            {
                "small": Plan(notes=40, users=20, kill_after=0.3, deadline=40),
                "full": Plan(notes=300, users=30, kill_after=1.0, settle_quiet=5, deadline=120),
            },
        ),
        Scenario(
            "random-kills",
            "notes in waves, random SIGKILLs and restarts, slow API",
            drive_random_kills,
            {
                "small": Plan(
                    notes=40,
                    users=20,
                    stt_delays=(0.5, 2.5),
                    waves=3,
                    kills=(3, 3),
                    kill_window=(0.3, 1.2),
                    long_share=0.1,
                    deadline=60,
                ),
                "full": Plan(
                    notes=300,
                    users=30,
                    stt_delays=(2.0, 20.0),
                    waves=4,
                    kills=(3, 5),
                    long_share=0.1,
                    kill_window=(1.0, 8.0),
                    give_up_idle=45,
                    settle_quiet=5,
                    deadline=240,
                ),
            },
        ),
        Scenario(
            "stt-storm",
            "STT API: 5xx, 429, hangs, malformed JSON, 404, error status",
            drive_stt_storm,
            {
                "small": Plan(notes=40, users=20, fault_seconds=5, hang_seconds=4, deadline=45),
                "full": Plan(
                    notes=300,
                    users=30,
                    stt_delays=(1.0, 5.0),
                    fault_seconds=60,
                    hang_seconds=30,
                    give_up_idle=45,
                    settle_quiet=5,
                    deadline=240,
                ),
            },
            api_errors_are_final=True,
        ),
        Scenario(
            "telegram-faults",
            "Telegram: 429, 502, drops before/after acting, slow answers",
            drive_telegram_faults,
            {
                "small": Plan(notes=40, users=20, fault_seconds=5, long_share=0.15, deadline=45),
                "full": Plan(
                    notes=300,
                    users=30,
                    fault_seconds=60,
                    long_share=0.1,
                    give_up_idle=45,
                    settle_quiet=5,
                    deadline=240,
                ),
            },
        ),
        Scenario(
            "telegram-outage",
            "Telegram answers 502 to everything while transcripts complete",
            drive_telegram_outage,
            {
                "small": Plan(notes=20, users=10, stt_delays=(0.5, 1.5), outage=8, deadline=50),
                "full": Plan(
                    notes=60,
                    users=12,
                    stt_delays=(2.0, 10.0),
                    outage=60,
                    give_up_idle=45,
                    settle_quiet=5,
                    deadline=200,
                ),
            },
        ),
    )
}


# --- the verdict -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteOutcome:
    note: Note
    verdict: Verdict
    carriers: tuple[int, ...]  # ids of bot messages showing the transcript
    other_replies: tuple[str, ...]  # texts of replies to the note without the transcript
    extra_status: int
    generations: tuple[str, ...]  # the fake API's generations for the note, by status
    expected_seconds: float  # what the ledger should count (see ledger_verdicts)
    ledger_seconds: float | None  # what it counts; None when it could not be read
    ledger_exact: bool

    def describe(self) -> str:
        note = self.note
        ledger = "?" if self.ledger_seconds is None else f"{self.ledger_seconds:g}"
        return (
            f"{note.marker} (user {note.user_id}, message {note.message_id}, {note.seconds} s): "
            f"{self.verdict}; transcript in messages {list(self.carriers)}; "
            f"other replies {list(self.other_replies)}; generations {list(self.generations)}; "
            f"ledger {ledger} s, expected {self.expected_seconds:g} s"
        )


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: str
    size: Size
    seed: int
    outcomes: tuple[NoteOutcome, ...]
    stray_messages: int  # bot messages in the users' chats replying to no note
    ledger_problem: str | None  # why the ledger could not be read, or rows of no note
    ended: str  # why the run ended
    seconds: float
    events: tuple[str, ...]
    bot_starts: int
    fake_errors: tuple[str, ...]
    log_tail: str

    def count(self, *verdicts: Verdict) -> int:
        return sum(1 for outcome in self.outcomes if outcome.verdict in verdicts)

    @property
    def notes(self) -> int:
        return len(self.outcomes)

    @property
    def exactly_once(self) -> int:
        return self.count("once", "failed ok")

    @property
    def never(self) -> int:
        return self.count("never")

    @property
    def more(self) -> int:
        return self.count("more")

    @property
    def failed_ok(self) -> int:
        return self.count("failed ok")

    @property
    def extra_status(self) -> int:
        return sum(outcome.extra_status for outcome in self.outcomes) + self.stray_messages

    @property
    def uploads_per_note(self) -> float:
        uploads = sum(len(outcome.generations) for outcome in self.outcomes)
        return uploads / self.notes if self.notes else 0.0

    @property
    def ledger_exact(self) -> bool:
        return self.ledger_problem is None and all(o.ledger_exact for o in self.outcomes)

    @property
    def perfect(self) -> bool:
        return (
            self.notes > 0
            and self.exactly_once == self.notes
            and self.never == 0
            and self.more == 0
            and self.ledger_exact
        )

    def report(self, limit: int = 40) -> str:
        """A table row's worth of numbers, then every note that went wrong, for test failures."""
        wrong = [o for o in self.outcomes if o.verdict in ("never", "more") or not o.ledger_exact]
        lines = [
            render_table([self]),
            f"ended: {self.ended}; bot starts: {self.bot_starts}; seed {self.seed}",
            *(f"  {event}" for event in self.events),
        ]
        if self.ledger_problem:
            lines.append(f"ledger: {self.ledger_problem}")
        if self.fake_errors:
            lines.append(f"errors inside the fakes: {list(self.fake_errors)}")
        if wrong:
            lines.append(f"{len(wrong)} note(s) not exactly once or not exactly charged:")
            lines.extend(f"  {outcome.describe()}" for outcome in wrong[:limit])
            if len(wrong) > limit:
                lines.append(f"  ... and {len(wrong) - limit} more")
        lines.append("last lines of the bot's log:\n" + self.log_tail)
        return "\n".join(lines)


def classify(
    note: Note,
    messages: list[JSON],
    generations: list[str],
    *,
    api_errors_are_final: bool,
) -> tuple[Verdict, tuple[int, ...], tuple[str, ...], int]:
    """(verdict, carrier ids, texts of other replies, extra status messages) for one note.

    `messages` are the bot's messages in the note's chat as they stand now (edits applied);
    `generations` the statuses of the fake API's jobs for the note. A carrier is a message that
    shows some of the note's transcript words. "once": every word is shown exactly once, and
    every carrier replies to the note (one message, or the parts of a long transcript, or a
    file). "more": some word is shown twice or more. "failed ok": see the module docstring.
    "never": anything else, including a transcript shown only in part.
    """
    shown: Counter[int] = Counter()  # how often each transcript word is on screen
    carriers = []
    for message in messages:
        words = words_shown(shown_text(message), note.marker)
        if words:
            carriers.append(message)
            shown.update(words)
    carrier_ids = {m["message_id"] for m in carriers}
    others = [
        m
        for m in messages
        if m["reply_to"] == note.message_id and m["message_id"] not in carrier_ids
    ]
    notices = [m for m in others if m["text"] not in (None, STATUS_TEXT)]
    failure_is_right = (
        api_errors_are_final and bool(generations) and all(g == "error" for g in generations)
    )
    verdict: Verdict
    companions = 0  # replies without the transcript that belong with the right answer
    whole_once = set(shown) == set(range(note.words)) and set(shown.values()) == {1}
    if any(count >= 2 for count in shown.values()):
        verdict = "more"
    elif whole_once and all(m["reply_to"] == note.message_id for m in carriers):
        verdict = "once"
        # A transcript sent as a file comes with the status message that points to it.
        companions = 1 if any(m["document_text"] is not None for m in carriers) else 0
    elif not carriers and failure_is_right and len(notices) == 1:
        verdict = "failed ok"
        companions = 1
    else:
        verdict = "never"
    texts = tuple(str(m["text"]) for m in others)
    return verdict, tuple(sorted(carrier_ids)), texts, max(0, len(others) - companions)


def shown_text(message: JSON) -> str | None:
    """What a user sees of a bot message: a sent file's text, else the message's text."""
    document = message.get("document_text")
    return document if document is not None else message.get("text")


def ledger_verdicts(
    database: Path, notes: list[Note], expected: dict[str, float]
) -> tuple[dict[str, float], str | None]:
    """The seconds the quota ledger counts per note, and a problem if it cannot be trusted.

    Definition. A note's seconds were *transcribed* when at least one generation the fake API
    created for it finished processing without the `error` status (billed work, whether or not
    the bot fetched it): then the ledger must count exactly the note's duration, once, however
    many generations there were; otherwise it must count 0. The ledger *counts* a note's
    seconds in every quota_ledger row of a job for that note (jobs.chat_id, jobs.message_id)
    whose state is not 'refunded': 'reserved' and 'committed' rows both count against a quota.
    The ledger is exact when, for every note, counted == expected (within 0.01 s), and no row
    belongs to a job of no note. The file is opened read-only after the bot has stopped.
    """
    if not database.exists():
        return {}, "the bot created no database"
    by_message = {(note.chat_id, note.message_id): note.marker for note in notes}
    counted = dict.fromkeys(expected, 0.0)
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            rows = connection.execute(
                """SELECT jobs.chat_id, jobs.message_id, quota_ledger.seconds
                   FROM quota_ledger JOIN jobs ON jobs.id = quota_ledger.job_id
                   WHERE quota_ledger.state != 'refunded'"""
            ).fetchall()
            orphans = connection.execute(
                """SELECT COUNT(*) FROM quota_ledger
                   WHERE job_id NOT IN (SELECT id FROM jobs)"""
            ).fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as error:
        return {}, f"could not read the ledger: {error}"
    strangers = 0
    for chat_id, message_id, seconds in rows:
        marker = by_message.get((chat_id, message_id))
        if marker is None:
            strangers += 1
        else:
            counted[marker] += float(seconds)
    problem = None
    if strangers or orphans:
        problem = f"{strangers + orphans} ledger row(s) belong to no note"
    return counted, problem


async def run_scenario(
    scenario: Scenario, size: Size, *, seed: int, workdir: Path, bot_root: Path = ROOT
) -> ScenarioResult:
    """Run one scenario end to end in `workdir` (its database and logs stay there)."""
    plan = scenario.plans[size]
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    database = workdir / "bot.sqlite3"
    bot_log = workdir / "bot.log"
    fakes = FakesProcess(seed, workdir / "fakes.log")
    urls = await fakes.start()
    bot = BotProcess(bot_environment(urls, database, bot_root), workdir, bot_log)
    run = ChaosRun(plan, fakes, bot, random.Random(f"{scenario.name}:{seed}"))
    try:
        try:
            async with asyncio.timeout(plan.deadline):
                await scenario.drive(run)
        except TimeoutError:
            run.log("the driver ran out of time")
        ended = await run.converge()
        run.log(f"end: {ended}")
        await bot.stop()  # what it does while stopping counts too
        results = await fakes.get("/results")
    finally:
        await bot.kill()
        await fakes.stop()
    return _verdict(scenario, size, seed, run, results, database, ended, bot_log)


def _verdict(
    scenario: Scenario,
    size: Size,
    seed: int,
    run: ChaosRun,
    results: JSON,
    database: Path,
    ended: str,
    bot_log: Path,
) -> ScenarioResult:
    notes = [Note.from_json(item) for item in results["notes"]]
    generations: dict[str, list[str]] = {note.marker: [] for note in notes}
    for job in results["stt_jobs"]:
        if job["marker"] in generations:
            generations[job["marker"]].append(job["status"])
    expected = {
        note.marker: float(note.seconds) if "completed" in generations[note.marker] else 0.0
        for note in notes
    }
    counted, ledger_problem = ledger_verdicts(database, notes, expected)
    note_messages = {(note.chat_id, note.message_id) for note in notes}
    outcomes = []
    for note in notes:
        messages = results["messages"].get(str(note.chat_id), [])
        verdict, carriers, others, extra = classify(
            note,
            messages,
            generations[note.marker],
            api_errors_are_final=scenario.api_errors_are_final,
        )
        ledger = counted.get(note.marker)
        outcomes.append(
            NoteOutcome(
                note=note,
                verdict=verdict,
                carriers=carriers,
                other_replies=others,
                extra_status=extra,
                generations=tuple(generations[note.marker]),
                expected_seconds=expected[note.marker],
                ledger_seconds=ledger,
                ledger_exact=ledger is not None
                and abs(ledger - expected[note.marker]) <= LEDGER_TOLERANCE,
            )
        )
    markers = [note.marker for note in notes]
    stray = 0
    for chat_id, messages in results["messages"].items():
        for message in messages:
            replies_to_note = (int(chat_id), message["reply_to"]) in note_messages
            if not replies_to_note and not any(
                carries(shown_text(message), marker) for marker in markers
            ):
                stray += 1
    return ScenarioResult(
        scenario=scenario.name,
        size=size,
        seed=seed,
        outcomes=tuple(outcomes),
        stray_messages=stray,
        ledger_problem=ledger_problem,
        ended=ended,
        seconds=run.elapsed(),
        events=tuple(run.events),
        bot_starts=run.bot.starts,
        fake_errors=tuple(results.get("fake_errors", [])),
        log_tail=_tail(bot_log, 25),
    )


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --- the table ---------------------------------------------------------------------------

COLUMNS = (
    ("scenario", 16),
    ("notes", 5),
    ("exactly once", 12),
    ("failed ok", 9),
    ("never", 5),
    ("more", 4),
    ("extra status", 12),
    ("uploads/note", 12),
    ("ledger exact", 12),
    ("time", 6),
)


def render_table(results: list[ScenarioResult]) -> str:
    def row(cells: list[str]) -> str:
        padded = (cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))
        return "| " + " | ".join(padded) + " |"

    lines = [
        row([name for name, _ in COLUMNS]),
        "|" + "|".join("-" * (width + 2) for _, width in COLUMNS) + "|",
    ]
    for result in results:
        lines.append(
            row(
                [
                    result.scenario,
                    str(result.notes),
                    f"{result.exactly_once} ({_percent(result.exactly_once, result.notes)})",
                    str(result.failed_ok),
                    str(result.never),
                    str(result.more),
                    str(result.extra_status),
                    f"{result.uploads_per_note:.2f}",
                    "yes" if result.ledger_exact else "no",
                    f"{result.seconds:.0f} s",
                ]
            )
        )
    return "\n".join(lines)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


async def run_all(
    names: list[str], size: Size, seed: int, root: Path, bot_root: Path
) -> list[ScenarioResult]:
    results = []
    for name in names:
        result = await run_scenario(
            SCENARIOS[name], size, seed=seed, workdir=root / name, bot_root=bot_root
        )
        print(
            f"{name}: {result.exactly_once}/{result.notes} exactly once, "
            f"{result.never} never, {result.more} more ({result.ended})",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the quick version (CI's sizes)")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="run only these"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep databases and logs")
    parser.add_argument("--details", action="store_true", help="list every note gone wrong")
    parser.add_argument(
        "--bot-root",
        type=Path,
        default=ROOT,
        help="run the bot package of this checkout (e.g. an older commit, to compare)",
    )
    args = parser.parse_args(argv)
    size: Size = "small" if args.small else "full"
    names = args.scenario or list(SCENARIOS)
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    try:
        results = asyncio.run(run_all(names, size, args.seed, root, args.bot_root.resolve()))
    finally:
        if args.keep:
            print(f"databases and logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.details:
        for result in results:
            print(result.report(), file=sys.stderr)
    print(f"chaos suite, {size} sizes, seed {args.seed}:")
    print(render_table(results))
    return 0 if all(result.perfect for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
