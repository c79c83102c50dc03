"""What the poll schedule learnt survives a restart: storage/schedule_state.py and
bot/pipeline/schedule_memory.py against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from bot.app import BotRuntime
from bot.pipeline.schedule_memory import ScheduleMemory
from bot.stt.schedule import PollSchedule
from storage.db import Database
from storage.schedule_state import ScheduleStateRepository
from tests.conftest import SettingsFactory
from tests.fakes.clock import FakeClock
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.test_pipeline import AUDIO, CHAT, transcript_reply


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[Database]:
    database = await Database.open(path)
    yield database
    await database.close()


def learnt(jobs: int = 40, seed: int = 1) -> PollSchedule:
    schedule = PollSchedule()
    rng = random.Random(seed)
    for _ in range(jobs):
        audio = rng.uniform(1, 240)
        schedule.observe("m", audio, (0.8 + 0.25 * audio) * rng.uniform(0.95, 1.05), 0.1)
    return schedule


async def saved_at(db: Database, name: str = "aiml") -> str | None:
    row = await db.fetch_one("SELECT updated_at FROM poll_schedule WHERE name = ?", (name,))
    return None if row is None else str(row["updated_at"])


# --- the repository ----------------------------------------------------------------------------


async def test_repository_saves_loads_and_replaces_a_state(db: Database) -> None:
    clock = FakeClock()
    states = ScheduleStateRepository(db, clock)
    assert await states.load("aiml") is None
    await states.save("aiml", {"version": 1, "models": {"m": [[10.0, 3.3, 0.1]]}})
    clock.advance(minutes=5)
    await states.save("aiml", {"version": 1, "models": {"m": [[20.0, 5.8, 0.1]]}})
    await states.save("other", {"version": 1, "models": {}})
    assert await states.load("aiml") == {"version": 1, "models": {"m": [[20.0, 5.8, 0.1]]}}
    assert await states.load("other") == {"version": 1, "models": {}}
    assert await saved_at(db) == "2025-06-10T12:05:00.000+00:00"


async def test_repository_refuses_what_json_cannot_hold(db: Database) -> None:
    states = ScheduleStateRepository(db)
    with pytest.raises(ValueError):
        await states.save("aiml", {"models": {"m": [[10.0, math.nan, 0.1]]}})
    assert await states.load("aiml") is None


@pytest.mark.parametrize("stored", ["{not json", "[1, 2]", '"text"'])
async def test_a_damaged_state_loads_as_none(
    db: Database, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    await db.execute(
        "INSERT INTO poll_schedule (name, state, updated_at) VALUES ('aiml', ?, 'now')", (stored,)
    )
    with caplog.at_level(logging.WARNING, logger="storage.schedule_state"):
        assert await ScheduleStateRepository(db).load("aiml") is None
    assert "poll schedule" in caplog.text


# --- the memory --------------------------------------------------------------------------------


async def test_a_restart_restores_what_was_learnt(path: Path) -> None:
    before = learnt()
    database = await Database.open(path)
    await ScheduleMemory(before, ScheduleStateRepository(database)).save()
    await database.close()

    after = PollSchedule()
    database = await Database.open(path)  # a new process: a new connection, a new schedule
    try:
        assert await ScheduleMemory(after, ScheduleStateRepository(database)).restore() == 40
    finally:
        await database.close()
    assert after.snapshot() == before.snapshot()
    assert after.window("m", 60) != PollSchedule().window("m", 60)


async def test_restore_without_a_saved_state_keeps_the_prior(db: Database) -> None:
    schedule = PollSchedule()
    assert await ScheduleMemory(schedule, ScheduleStateRepository(db)).restore() == 0
    assert schedule.window("m", 60) == PollSchedule().window("m", 60)


async def test_save_writes_only_what_changed(db: Database) -> None:
    clock = FakeClock()
    schedule = learnt()
    memory = ScheduleMemory(schedule, ScheduleStateRepository(db, clock))
    await memory.save()
    first = await saved_at(db)
    clock.advance(minutes=5)
    await memory.save()
    assert await saved_at(db) == first  # nothing new: no write
    schedule.observe("m", 30, 8.3, 0.1)
    await memory.save()
    assert await saved_at(db) != first
    stored = await ScheduleStateRepository(db).load("aiml")
    assert stored == json.loads(json.dumps(schedule.snapshot()))


class FlakySchedule:
    """A schedule whose first snapshot cannot be stored (NaN), as a failing save."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.third_turn = asyncio.Event()  # the loop saves in turn: the second save is done

    def snapshot(self) -> Mapping[str, object]:
        self.snapshots += 1
        if self.snapshots == 3:
            self.third_turn.set()
        seconds = math.nan if self.snapshots == 1 else 3.3
        return {"version": 1, "models": {"m": [[10.0, seconds, 0.1]]}}

    def restore(self, snapshot: Mapping[str, object]) -> int:
        return 0


async def test_the_loop_saves_periodically_and_survives_a_failed_save(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = FlakySchedule()
    memory = ScheduleMemory(schedule, ScheduleStateRepository(db), interval=0.01)
    with caplog.at_level(logging.WARNING, logger="bot.pipeline.schedule_memory"):
        task = asyncio.create_task(memory.run())
        try:
            await asyncio.wait_for(schedule.third_turn.wait(), timeout=5)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert "saving failed" in caplog.text  # the first turn failed, and the next one saved:
    assert await ScheduleStateRepository(db).load("aiml") == {
        "version": 1,
        "models": {"m": [[10.0, 3.3, 0.1]]},
    }


async def test_the_running_bot_keeps_what_it_learnt_across_a_restart(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory
) -> None:
    """The composition root restores the schedule before jobs resume and saves it at stop."""
    settings = settings_for()
    stt.delay = 0.3
    first = PollSchedule()
    async with BotRuntime(settings, schedule=first):
        for n in range(3):
            original = telegram.push_voice(CHAT + n, AUDIO, duration=4)["message_id"]
            await transcript_reply(telegram, CHAT + n, original)
    learnt_state = first.snapshot()

    second = PollSchedule()
    assert second.snapshot() != learnt_state  # a fresh schedule knows only its prior
    async with BotRuntime(settings, schedule=second):
        pass
    assert second.snapshot() == learnt_state
