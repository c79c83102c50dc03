"""Retention: every rule of the README's "What is stored, and for how long", on a real SQLite
file with an injectable clock; the periodic task; the file shrinking; and DEBUG logs that hold
no transcript and no name."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.settings import SettingsError
from bot.pipeline.retention import RetentionRules, RetentionSweeper
from bot.pipeline.transcription import RedoRefusedError
from bot.policy.cache import TranscriptCache
from storage.cache import TranscriptCacheRepository
from storage.db import Database, load_migrations
from storage.inbox import InboxRepository
from storage.jobs import Job, JobRepository, JobState, NewJob
from storage.retention import RetentionRepository
from storage.sends import SendJournal
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import final_reply, services, settled
from tests.process_env import process_environment
from tests.test_durability import bot_process, job_rows
from tests.test_pipeline import AUDIO, CHAT

START = "2025-06-10T12:00:00+00:00"
WEEK = RetentionRules(cache_ttl=timedelta(hours=24), job_retention=timedelta(days=7))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


def sweeper(db: Database, clock: FakeClock, rules: RetentionRules = WEEK) -> RetentionSweeper:
    return RetentionSweeper(RetentionRepository(db), rules, clock=clock)


async def count(db: Database, table: str, where: str = "1") -> int:
    row = await db.fetch_one(f"SELECT count(*) FROM {table} WHERE {where}")
    assert row is not None
    return int(row[0])


def new_job(message_id: int = 1) -> NewJob:
    return NewJob(
        dedupe_key=f"msg:{CHAT}:{message_id}",
        chat_id=CHAT,
        chat_type="private",
        message_id=message_id,
        user_id=CHAT,
        file_id=f"file-{message_id}",
        file_unique_id=f"unique-{message_id}",
        media_kind="voice",
        mime_type="audio/ogg",
        file_name=None,
        duration=3.0,
        file_size=1000,
        model="#g1_whisper-large",
        language=None,
        options={},
    )


async def delivered_job(jobs: JobRepository, message_id: int) -> Job:
    job = await jobs.insert(new_job(message_id))
    assert job is not None
    await jobs.mark_transcribed(job, '{"text": "words"}')
    await jobs.mark_delivered(job.id)
    delivered = await jobs.get(job.id)
    assert delivered is not None and delivered.state == JobState.DELIVERED
    return delivered


async def test_a_delivered_job_keeps_no_transcript_and_a_missing_job_cannot_close(
    db: Database,
) -> None:
    # A job's last steps write without reading the row back, so they check what they changed.
    jobs = JobRepository(db, FakeClock(START))
    job = await delivered_job(jobs, 1)
    assert job.transcript is None and job.finished_at is not None
    for close in (jobs.mark_delivered, jobs.mark_failed):
        with pytest.raises(LookupError):
            await close(job.id + 1)


# --- the transcript cache ---------------------------------------------------------------------


async def test_a_cache_entry_is_deleted_once_past_the_ttl(db: Database) -> None:
    clock = FakeClock(START)
    cache = TranscriptCache(TranscriptCacheRepository(db), ttl_hours=24, clock=clock)
    await cache.put("file", "model", None, "the words")

    clock.advance(hours=23, minutes=59)
    assert (await sweeper(db, clock).sweep()).cache_entries == 0
    assert await count(db, "transcript_cache") == 1

    clock.advance(minutes=1)
    assert (await sweeper(db, clock).sweep()).cache_entries == 1
    assert await count(db, "transcript_cache") == 0


async def test_a_shortened_ttl_applies_to_entries_written_under_the_old_one(db: Database) -> None:
    clock = FakeClock(START)
    cache = TranscriptCache(TranscriptCacheRepository(db), ttl_hours=24, clock=clock)
    await cache.put("file", "model", None, "the words")
    clock.advance(hours=1)
    one_hour = RetentionRules(cache_ttl=timedelta(hours=1), job_retention=timedelta(days=7))
    await sweeper(db, clock, one_hour).sweep()
    assert await count(db, "transcript_cache") == 0


async def test_a_zero_ttl_stores_nothing_and_clears_what_an_older_ttl_left(db: Database) -> None:
    clock = FakeClock(START)
    repository = TranscriptCacheRepository(db)
    await TranscriptCache(repository, ttl_hours=24, clock=clock).put("old", "m", None, "kept?")
    await TranscriptCache(repository, ttl_hours=0, clock=clock).put("new", "m", None, "no")
    assert await count(db, "transcript_cache") == 1  # only the entry written under TTL 24 h

    no_cache = RetentionRules(cache_ttl=timedelta(0), job_retention=timedelta(days=7))
    await sweeper(db, clock, no_cache).sweep()  # the same moment: a zero TTL is already past
    assert await count(db, "transcript_cache") == 0


# --- jobs -------------------------------------------------------------------------------------


async def test_a_finished_job_goes_after_the_retention_period_with_its_sends(db: Database) -> None:
    clock = FakeClock(START)
    jobs = JobRepository(db, clock)
    sends = SendJournal(db, clock)
    job = await delivered_job(jobs, 1)
    await sends.begin_attempt(job.id, "status")
    await sends.confirmed(job.id, "status", 77)

    clock.advance(days=7, seconds=-1)
    await sweeper(db, clock).sweep()
    assert await jobs.get(job.id) is not None

    clock.advance(seconds=1)
    removed = await sweeper(db, clock).sweep()
    assert removed.jobs == 1
    assert await jobs.get(job.id) is None
    assert await count(db, "sends") == 0  # the journal goes with its job


async def test_an_open_job_is_never_deleted_however_old(db: Database) -> None:
    clock = FakeClock(START)
    jobs = JobRepository(db, clock)
    job = await jobs.insert(new_job(1))
    assert job is not None
    await jobs.mark_submitted(job, "generation-1")
    clock.advance(days=60)
    await sweeper(db, clock).sweep()
    kept = await jobs.get(job.id)
    assert kept is not None and kept.is_open


async def test_a_job_that_failed_after_transcription_loses_its_text_at_once(
    db: Database,
) -> None:
    clock = FakeClock(START)
    jobs = JobRepository(db, clock)
    job = await jobs.insert(new_job(1))
    assert job is not None
    job = await jobs.mark_transcribed(job, '{"text": "never delivered"}')
    await jobs.mark_failing(job.id, "chat_gone")
    await jobs.mark_failed(job.id)

    removed = await sweeper(db, clock).sweep()
    assert removed.transcripts == 1
    kept = await jobs.get(job.id)
    assert kept is not None and kept.transcript is None  # the row stays its 7 days


async def test_job_retention_days_is_validated_in_one_line(settings_for: SettingsFactory) -> None:
    with pytest.raises(SettingsError, match=r"^JOB_RETENTION_DAYS must be at least 0$"):
        settings_for(JOB_RETENTION_DAYS="-1")
    with pytest.raises(SettingsError, match=r"^JOB_RETENTION_DAYS must be a number$"):
        settings_for(JOB_RETENTION_DAYS="a week")
    assert settings_for().job_retention_days == 7


# --- the update inbox -------------------------------------------------------------------------


def update(update_id: int) -> dict[str, object]:
    return {"update_id": update_id, "message": {"text": "hello", "from": {"first_name": "Ada"}}}


async def test_a_handled_update_loses_its_content_at_once_and_its_row_after_a_day(
    db: Database,
) -> None:
    clock = FakeClock(START)
    inbox = InboxRepository(db, clock)
    await inbox.save([update(1), update(2), update(3)])
    await inbox.mark_started(1)
    await inbox.mark_done(1)
    await inbox.mark_poisoned(2, "cannot parse")
    # 3 is still pending: a restart replays it, so nothing of it may go.

    removed = await sweeper(db, clock).sweep()
    assert removed.update_payloads == 2 and removed.updates == 0
    assert await count(db, "inbox", "payload LIKE '%Ada%'") == 1  # only the pending one
    # Telegram sends update 1 again (its confirmation was lost): still recognised.
    assert await inbox.save([update(1)]) == []

    clock.advance(days=30)  # past the replay window; a pending update stays however old
    removed = await sweeper(db, clock).sweep()
    assert removed.updates == 2
    assert [entry.update_id for entry in await inbox.pending()] == [3]
    assert (await inbox.pending())[0].payload == update(3)


async def test_a_handled_update_is_kept_for_the_whole_replay_window(db: Database) -> None:
    clock = FakeClock(START)
    inbox = InboxRepository(db, clock)
    await inbox.save([update(1)])
    await inbox.mark_done(1)
    clock.advance(hours=23, minutes=59)
    await sweeper(db, clock).sweep()
    assert await inbox.save([update(1)]) == []  # a late repeat is still a repeat
    clock.advance(minutes=1)
    assert (await sweeper(db, clock).sweep()).updates == 1


# --- the file shrinks -------------------------------------------------------------------------


def file_size(path: Path) -> int:
    return path.stat().st_size


async def fill_cache(db: Database, clock: FakeClock, entries: int) -> None:
    cache = TranscriptCache(TranscriptCacheRepository(db), ttl_hours=24, clock=clock)
    for number in range(entries):
        await cache.put(f"file-{number}", "model", None, f"{number} " + "words " * 400)


async def test_the_file_shrinks_after_a_sweep(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    clock = FakeClock(START)
    db = await Database.open(path)
    try:
        await fill_cache(db, clock, 1500)
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = file_size(path)
        clock.advance(hours=25)
        removed = await sweeper(db, clock).sweep()
        assert removed.cache_entries == 1500 and removed.free_pages > 0
        shrunk = file_size(path)
    finally:
        await db.close()
    assert full > 3_000_000
    assert shrunk < full / 10


async def test_a_database_made_before_auto_vacuum_is_converted_and_then_shrinks(
    tmp_path: Path,
) -> None:
    # A file as earlier versions left it: every table, no auto_vacuum.
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as old:
        old.execute("PRAGMA journal_mode=WAL")
        for number, sql in load_migrations():
            old.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        assert old.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    old.close()

    clock = FakeClock(START)
    db = await Database.open(path)
    try:
        row = await db.fetch_one("PRAGMA auto_vacuum")
        assert row is not None and row[0] == 2  # INCREMENTAL
        await fill_cache(db, clock, 800)
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = file_size(path)
        clock.advance(hours=25)
        await sweeper(db, clock).sweep()
        shrunk = file_size(path)
    finally:
        await db.close()
    assert shrunk < full / 5


# --- the periodic task ------------------------------------------------------------------------


async def test_the_task_sweeps_at_start_and_every_interval_until_cancelled(
    db: Database,
) -> None:
    clock = FakeClock(START)
    cache = TranscriptCache(TranscriptCacheRepository(db), ttl_hours=24, clock=clock)
    intervals: list[float] = []
    swept = asyncio.Event()

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        if len(intervals) == 3:
            swept.set()
        await asyncio.sleep(0.01)

    periodic = RetentionSweeper(
        RetentionRepository(db), WEEK, clock=clock, interval=60.0, sleep=sleep
    )
    await cache.put("file", "model", None, "words")
    clock.advance(days=2)
    task = asyncio.create_task(periodic.run())
    await asyncio.wait_for(swept.wait(), 5)
    assert await count(db, "transcript_cache") == 0
    await cache.put("file", "model", None, "words again")
    clock.advance(days=2)
    await asyncio.sleep(0.1)  # a few more intervals go by
    assert await count(db, "transcript_cache") == 0
    assert set(intervals) == {60.0}

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_failed_sweep_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    await db.close()  # every statement now fails
    attempts = 0
    tried_twice = asyncio.Event()

    async def sleep(seconds: float) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            tried_twice.set()
        await asyncio.sleep(0)

    failing = RetentionSweeper(RetentionRepository(db), WEEK, clock=FakeClock(START), sleep=sleep)
    with caplog.at_level(logging.ERROR, logger="bot.pipeline.retention"):
        task = asyncio.create_task(failing.run())
        await asyncio.wait_for(tried_twice.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sum("retention sweep failed" in r.getMessage() for r in caplog.records) >= 2


# --- the running bot --------------------------------------------------------------------------


def retention_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "retention"]


async def test_the_bot_sweeps_at_start_and_stops_the_task_on_stop(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    clock = FakeClock(START)
    db = await Database.open(database_path)
    await TranscriptCache(TranscriptCacheRepository(db), ttl_hours=24, clock=clock).put(
        "file", "model", None, "yesterday's words"
    )
    await db.close()

    clock.advance(hours=25)
    async with running_bot(settings_for(), clock=clock):
        assert retention_tasks()

        def cache_rows() -> int:
            with sqlite3.connect(database_path) as connection:
                [(rows,)] = connection.execute("SELECT count(*) FROM transcript_cache")
            return int(rows)

        await telegram.wait_for(lambda: cache_rows() == 0, what="the start-up sweep")
    assert not retention_tasks()


async def test_the_bot_deletes_a_delivered_job_after_job_retention_days(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    clock = FakeClock(START)
    async with running_bot(settings_for(JOB_RETENTION_DAYS="2"), clock=clock) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await final_reply(telegram, CHAT, original)
        await settled(runtime)
        assert runtime.retention is not None
        transcription = services(runtime).transcription
        assert await transcription.redo_source(1, CHAT)  # "Try another model" works

        clock.advance(days=2, seconds=-1)
        assert (await runtime.retention.sweep()).jobs == 0
        clock.advance(seconds=2)
        assert (await runtime.retention.sweep()).jobs == 1
        with pytest.raises(RedoRefusedError) as refused:
            await transcription.redo_source(1, CHAT)
        assert refused.value.reason == "gone"  # the button answers that it is too old


async def test_with_a_zero_ttl_no_table_holds_the_transcript_once_delivered(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
) -> None:
    stt.transcript = "Meet me at the old mill at nine, bring the ledger."
    async with running_bot(settings_for(CACHE_TTL_HOURS="0")) as runtime:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert (await final_reply(telegram, CHAT, original)).text == stt.transcript
        await settled(runtime)
        assert runtime.retention is not None
        await runtime.retention.sweep()

    with sqlite3.connect(database_path) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        ]
        for table in tables:
            for row in connection.execute(f"SELECT * FROM {table}"):
                assert not any("old mill" in str(value) for value in row), table
        assert connection.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1


# --- DEBUG logs -------------------------------------------------------------------------------


async def test_debug_logs_hold_no_transcript_and_no_names(
    telegram: FakeTelegram, stt: FakeStt, tmp_path: Path, database_path: Path
) -> None:
    """The real process at LOG_LEVEL=DEBUG handles a note from a named user: the log names
    neither the user nor the words (aiosqlite would print both with every statement)."""
    stt.transcript = "Quarterly figures for Hyperion are confidential."
    telegram.add_chat(CHAT, first_name="Zebulon", username="zebulon_quux")
    log_path = tmp_path / "bot.log"
    env = process_environment(telegram, stt, database_path)  # LOG_LEVEL=DEBUG
    async with bot_process(env, log_path) as bot:
        original = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert (await final_reply(telegram, CHAT, original)).text == stt.transcript
        await telegram.wait_for(
            lambda: job_rows(database_path)[0]["state"] == "delivered", what="the job's end"
        )
        start = telegram.push_text(CHAT, "/start")["message_id"]
        await telegram.wait_for(
            lambda: any(m.from_bot and m.message_id > start for m in telegram.messages(CHAT)),
            what="the answer to /start",
        )
        assert await bot.terminate() == 0
    log = log_path.read_text()
    assert " DEBUG " in log, "the log should be verbose here"
    assert "job 1 delivered" in log
    for private in ("Hyperion", "Quarterly", "Zebulon", "zebulon_quux"):
        assert private not in log
