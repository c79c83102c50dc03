"""Long recordings: MAX_AUDIO_SECONDS before the download and after measuring, and progress.

The limit is checked where Telegram declares a duration, before anything is fetched, and again
on the file's own headers, since the declared duration is the sender's word. A job on a
recording longer than a minute shows its progress in the status message, edited at most every
PROGRESS_INTERVAL seconds: the share done from the local engine, the time taken from the API.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.audio.duration import measure_file_duration
from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.local.engine import EngineOptions, LocalWhisperEngine
from bot.pipeline.progress import ProgressReporter, elapsed_text, progress_text
from bot.pipeline.temp_files import TempFiles
from bot.presentation import texts
from bot.presentation.i18n import translator
from bot.stt.types import JobProgress
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.notes import note_bytes
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import DOWNLOAD, FakeTelegram
from tests.test_pipeline import transcript_reply

ENGLISH = translator("en")

CHAT = 8383
PROGRESS_LINE = re.compile(r"Transcribing… (\d+) % · (\d\d:\d\d) of (\d\d:\d\d)")


async def final_reply(telegram: FakeTelegram, original: int) -> str:
    """The reply to `original` once it is neither "Transcribing…" nor a progress line."""

    def final() -> str | None:
        for message in telegram.messages(CHAT):
            text = message.text
            if message.reply_to == original and text and not text.startswith("Transcribing"):
                return text
        return None

    text = await telegram.wait_for(final, 20.0, what="the final reply")
    assert text is not None
    return text


# --- the limit ------------------------------------------------------------------------------


async def test_a_declared_duration_over_the_limit_is_refused_before_any_download(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    assert settings.max_audio_seconds == 3 * 3600  # the default
    async with running_bot(settings):
        telegram.push_voice(CHAT, note_bytes("longnote00001", 5), duration=4 * 3600)
        await telegram.wait_for(lambda: telegram.bot_texts(CHAT), what="the refusal")

    assert telegram.bot_texts(CHAT) == [texts.RECORDING_TOO_LONG.format(length="4 h", limit="3 h")]
    assert not telegram.calls_to("getFile") and not telegram.calls_to(DOWNLOAD)
    assert not stt.requests


async def test_a_file_longer_than_declared_is_refused_once_measured(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for(MAX_AUDIO_SECONDS="3600")
    # The sender's client says 30 s; the file's last granule position says two hours.
    two_hours = note_bytes("longnote00002", 7200)
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, two_hours, duration=30)["message_id"]
        text = await transcript_reply(telegram, CHAT, original)

    assert telegram.calls_to(DOWNLOAD)  # it had to be fetched to be measured
    assert text == texts.failure("too_long")
    assert not stt.requests  # nothing was sent to be transcribed, or billed
    assert TempFiles(settings.temp_folder).leftovers() == []


def test_a_files_duration_is_read_from_its_first_and_last_pages(tmp_path: Path) -> None:
    big = tmp_path / "big.ogg"
    big.write_bytes(note_bytes("longnote00005", 5400, size=20_000_000))
    assert measure_file_duration(big) == 5400.0
    # Cut short, its last page is gone: no guess from what is left.
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(big.read_bytes()[:-100])
    assert measure_file_duration(cut) is None
    assert measure_file_duration(tmp_path / "missing.ogg") is None


# --- progress, at most every interval -------------------------------------------------------


class FakeTime:
    """A clock that moves only when the reporter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_progress_is_edited_at_most_every_interval_and_only_when_it_changes() -> None:
    time = FakeTime()
    edits: list[tuple[float, str]] = []
    done = 0.0

    async def show(text: str) -> bool:
        time.now += 2.5  # an edit takes a while on the wire
        edits.append((time.now, text))
        return True

    def read() -> str | None:
        return progress_text(ENGLISH, JobProgress(done, 1800.0))

    reporter = ProgressReporter(show, read, interval=10.0, clock=time.clock, sleep=time.sleep)
    started = time.now
    reporter.start()
    for step in range(40):  # the engine moves on 6 s of audio per 1 s of the fake clock
        done = min(1800.0, step * 30.0)
        time.now += 5.0
        await asyncio.sleep(0)
    for _ in range(30):  # then it stops moving: no further edits
        time.now += 5.0
        await asyncio.sleep(0)
    await reporter.stop()

    assert edits, "no progress was shown"
    assert edits[0][0] - started >= 10.0  # nothing in the job's first interval
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(edits)]
    assert all(gap >= 10.0 for gap in gaps), gaps
    shown = [text for _, text in edits]
    assert len(shown) == len(set(shown))  # an unchanged text is never sent again
    assert all(PROGRESS_LINE.fullmatch(text) for text in shown), shown


async def test_the_reporter_stops_when_there_is_no_status_message() -> None:
    time = FakeTime()
    calls: list[str] = []

    async def show(text: str) -> bool:
        calls.append(text)
        return False  # never posted, or deleted by the user

    counter = iter(range(1000))
    reporter = ProgressReporter(
        show, lambda: f"line {next(counter)}", clock=time.clock, sleep=time.sleep
    )
    reporter.start()
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(calls) == 1
    await reporter.stop()


async def test_stopping_lets_an_edit_on_the_wire_finish() -> None:
    time = FakeTime()
    on_the_wire = asyncio.Event()
    finish = asyncio.Event()
    finished: list[str] = []

    async def show(text: str) -> bool:
        on_the_wire.set()
        await finish.wait()
        finished.append(text)
        return True

    reporter = ProgressReporter(show, lambda: "42 %", clock=time.clock, sleep=time.sleep)
    reporter.start()
    await on_the_wire.wait()
    stopping = asyncio.create_task(reporter.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # it waits for the edit rather than cut it off mid-request
    finish.set()
    await stopping
    assert finished == ["42 %"]


def test_progress_texts() -> None:
    assert progress_text(ENGLISH, JobProgress(750.0, 1781.0)) == (
        "Transcribing… 42 % · 12:30 of 29:41"
    )
    assert elapsed_text(ENGLISH, 130.0, 5400.0) == "Transcribing 1:30:00 of audio… 02:10 so far"
    assert elapsed_text(ENGLISH, 5.0, None) == "Transcribing… 00:05 so far"


def test_progress_texts_are_in_the_readers_language() -> None:
    german = progress_text(translator("de"), JobProgress(750.0, 1781.0))
    assert "42" in german and "12:30" in german and "29:41" in german
    assert german != progress_text(ENGLISH, JobProgress(750.0, 1781.0))
    russian = elapsed_text(translator("ru"), 130.0, 5400.0)
    assert "1:30:00" in russian and "02:10" in russian
    assert re.search("[а-я]", russian), russian


# --- progress through the real bot ----------------------------------------------------------


async def test_an_api_job_shows_the_time_it_has_taken(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.delay = 1.6
    stt.transcript = "the minutes of the meeting"
    async with running_bot(settings_for(), progress_interval=0.2):
        original = telegram.push_voice(CHAT, note_bytes("longnote00003", 90), duration=90)
        text = await final_reply(telegram, original["message_id"])

    assert text == "the minutes of the meeting"
    status = next(m for m in telegram.messages(CHAT) if m.reply_to == original["message_id"])
    shown = status.text_history[1:]  # after "Transcribing…"
    assert shown and all(t.startswith("Transcribing 01:30 of audio… 00:0") for t in shown), shown
    assert not any("%" in t for t in shown)  # no made-up share for a job the API runs


async def test_a_short_job_shows_no_progress(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    stt.delay = 1.0
    async with running_bot(settings_for(), progress_interval=0.2):
        original = telegram.push_voice(CHAT, note_bytes("longnote00004", 30), duration=30)
        await transcript_reply(telegram, CHAT, original["message_id"])
    status = next(m for m in telegram.messages(CHAT) if m.reply_to == original["message_id"])
    assert status.text_history == [texts.TRANSCRIBING]  # then straight to the transcript


def _needs_decoding() -> None:
    missing = [m for m in ("av", "faster_whisper") if importlib.util.find_spec(m) is None]
    if missing or shutil.which("ffmpeg") is None:
        pytest.skip(f"needs PyAV, faster-whisper and ffmpeg: {missing or 'ffmpeg'} missing")


@dataclass
class _Segment:
    text: str
    start: float
    end: float
    words: list[Any] = field(default_factory=list)


@dataclass
class _Info:
    language: str
    duration: float


class SteppedWhisper:
    """A stand-in for the model: one segment per window; the second window waits until the
    test lets it go, so the job sits part-way through while the test looks."""

    def __init__(self) -> None:
        self.supported_languages = ["en"]
        self.release = threading.Event()
        self.windows = 0

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterable[Any], Any]:
        self.windows += 1
        if self.windows == 2 and not self.release.wait(20):
            raise TimeoutError("the test never let the second window go")
        seconds = len(audio) / 16_000
        return iter([_Segment(f" part{self.windows}", 0.0, seconds)]), _Info("en", seconds)


async def test_a_local_job_shows_its_share_done_and_where_it_is(
    telegram: FakeTelegram,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    tmp_path: Path,
) -> None:
    _needs_decoding()
    recording = tmp_path / "ninety.ogg"
    tone = ["-f", "lavfi", "-i", "sine=f=300:d=90", "-c:a", "libopus", "-b:a", "16k"]
    ffmpeg = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", *tone, str(recording)
    )
    assert await ffmpeg.wait() == 0
    model = SteppedWhisper()
    engine = LocalWhisperEngine(
        "base", options=EngineOptions(window_seconds=30.0), loader=lambda request: model
    )
    backend = LocalBackend(
        LocalConfig(size="base"), engine_factory=lambda size: engine, available_sizes={"base"}
    )
    settings = settings_for(AIMLAPI_KEY="", local_engine=True)
    try:
        async with running_bot(settings, backend=backend, progress_interval=0.1):
            message = telegram.push_voice(CHAT, recording.read_bytes(), duration=90)
            original = message["message_id"]

            def progress_shown() -> str | None:
                for m in telegram.messages(CHAT):
                    if m.reply_to == original and m.text and PROGRESS_LINE.fullmatch(m.text):
                        return m.text
                return None

            line = await telegram.wait_for(progress_shown, timeout=20, what="a progress line")
            # The engine reads the recording from disk as it goes: the file waits meanwhile.
            assert len(TempFiles(settings.temp_folder).leftovers()) == 1
            model.release.set()
            text = await final_reply(telegram, original)
            # ... and is gone once the job is done.
            assert TempFiles(settings.temp_folder).leftovers() == []
    finally:
        model.release.set()
        engine.close()

    assert line is not None
    match = PROGRESS_LINE.fullmatch(line)
    assert match is not None
    percent, done, total = int(match[1]), match[2], match[3]
    assert total == "01:30"
    assert 20 <= percent <= 40 and done in {f"00:{s}" for s in range(20, 31)}  # one window
    assert text == "part1 part2 part3"
