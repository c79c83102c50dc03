"""`Database.one_commit` (storage/db.py): the writes of a block as one transaction. Nobody else
sees them before the block ends, they stand or fall together, the block reads its own writes,
a transaction inside it is a savepoint, and no other task's write slips into it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.db import Database


def outside_view(path: Path) -> dict[str, str]:
    """app_meta as another process sees it: committed rows only."""
    with sqlite3.connect(path) as other:
        return dict(other.execute("SELECT name, value FROM app_meta WHERE name LIKE 'probe%'"))


async def put(database: Database, name: str, value: str) -> None:
    await database.execute(
        """INSERT INTO app_meta (name, value) VALUES (?, ?)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
        (name, value),
    )


async def test_the_blocks_writes_are_committed_together_when_it_ends(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with database.one_commit():
        await put(database, "probe-a", "1")
        async with database.transaction() as connection:
            await connection.execute("INSERT INTO app_meta (name, value) VALUES ('probe-b', '2')")
        await put(database, "probe-c", "3")
        # Nothing is committed yet: another connection sees none of it ...
        assert outside_view(path) == {}
        # ... while the block reads its own writes.
        row = await database.fetch_one("SELECT value FROM app_meta WHERE name = 'probe-b'")
        assert row is not None and row["value"] == "2"
    assert outside_view(path) == {"probe-a": "1", "probe-b": "2", "probe-c": "3"}


async def test_a_block_that_raises_leaves_nothing_behind(
    database: Database, tmp_path: Path
) -> None:
    await put(database, "probe-kept", "before")
    with pytest.raises(RuntimeError, match="midway"):
        async with database.one_commit():
            await put(database, "probe-kept", "changed")
            await put(database, "probe-new", "x")
            raise RuntimeError("midway")
    assert outside_view(tmp_path / "bot.sqlite3") == {"probe-kept": "before"}
    # The writer is usable again, its transaction closed.
    await put(database, "probe-after", "y")
    assert outside_view(tmp_path / "bot.sqlite3")["probe-after"] == "y"


async def test_a_failed_transaction_inside_is_undone_alone(
    database: Database, tmp_path: Path
) -> None:
    async with database.one_commit():
        await put(database, "probe-a", "1")
        with pytest.raises(sqlite3.IntegrityError):
            async with database.transaction() as connection:
                await connection.execute(
                    "INSERT INTO app_meta (name, value) VALUES ('probe-b', '2')"
                )
                # The same key again: the transaction fails, and with it its first insert.
                await connection.execute(
                    "INSERT INTO app_meta (name, value) VALUES ('probe-b', '3')"
                )
        await put(database, "probe-c", "3")
    assert outside_view(tmp_path / "bot.sqlite3") == {"probe-a": "1", "probe-c": "3"}


async def test_another_tasks_write_waits_for_the_block_and_is_not_undone_with_it(
    database: Database, tmp_path: Path
) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_block() -> None:
        async with database.one_commit():
            await put(database, "probe-block", "x")
            inside.set()
            await release.wait()
            raise RuntimeError("the block fails")

    block = asyncio.create_task(failing_block())
    await inside.wait()
    other = asyncio.create_task(put(database, "probe-other", "y"))
    await asyncio.sleep(0.05)
    assert not other.done()  # it waits for the writer's turn the block holds
    release.set()
    with pytest.raises(RuntimeError):
        await block
    await asyncio.wait_for(other, 1.0)
    assert outside_view(tmp_path / "bot.sqlite3") == {"probe-other": "y"}


async def test_a_task_started_inside_the_block_writes_on_its_own(
    database: Database, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError):
        async with database.one_commit():
            # The task inherits nothing of the block: it waits for the turn, then commits
            # by itself, so the block's failure does not take its write along.
            started = asyncio.create_task(put(database, "probe-task", "kept"))
            await asyncio.sleep(0.01)
            raise RuntimeError("the block fails")
    await asyncio.wait_for(started, 1.0)
    assert outside_view(tmp_path / "bot.sqlite3") == {"probe-task": "kept"}


async def test_a_block_inside_a_block_joins_it(database: Database, tmp_path: Path) -> None:
    async with database.one_commit():
        async with database.one_commit():
            await put(database, "probe-inner", "1")
        assert outside_view(tmp_path / "bot.sqlite3") == {}
    assert outside_view(tmp_path / "bot.sqlite3") == {"probe-inner": "1"}


async def test_work_on_the_thread_is_refused_inside_the_block(database: Database) -> None:
    async with database.one_commit():
        with pytest.raises(RuntimeError, match="inside one_commit"):
            await database.fetch_all("SELECT name FROM app_meta")
        with pytest.raises(RuntimeError, match="inside one_commit"):
            async with database.maintenance_transaction():
                pass
        with pytest.raises(RuntimeError, match="inside one_commit"):
            await database.reclaim_free_pages()
    # Outside, all three work.
    await database.fetch_all("SELECT name FROM app_meta")
    async with database.maintenance_transaction():
        pass
    await database.reclaim_free_pages()
