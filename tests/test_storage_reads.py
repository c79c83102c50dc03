"""Point reads on the event loop's own read-only connection (storage/db.py): they see every
committed write, never wait for the writer, and fall back to the writer's thread when SQLite
answers SQLITE_BUSY."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage.db import Database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "bot.sqlite3")
    yield db
    await db.close()


async def test_a_read_sees_what_was_committed_just_before(database: Database) -> None:
    for value in ("one", "two", "three"):
        await database.execute(
            """INSERT INTO app_meta (name, value) VALUES ('probe', ?)
               ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
            (value,),
        )
        row = await database.fetch_one("SELECT value FROM app_meta WHERE name = 'probe'")
        assert row is not None and row["value"] == value


async def test_a_read_does_not_wait_for_an_open_write_transaction(database: Database) -> None:
    await database.execute("INSERT INTO app_meta (name, value) VALUES ('probe', 'before')")
    in_transaction = asyncio.Event()
    finish = asyncio.Event()

    async def long_write() -> None:
        async with database.transaction() as connection:
            await connection.execute("UPDATE app_meta SET value = 'after' WHERE name = 'probe'")
            in_transaction.set()
            await finish.wait()

    writer = asyncio.create_task(long_write())
    await in_transaction.wait()
    started = time.monotonic()
    # The writer holds the database's lock and SQLite's write lock: the read goes past both,
    # and sees the last committed value, not the one being written.
    row = await asyncio.wait_for(
        database.fetch_one("SELECT value FROM app_meta WHERE name = 'probe'"), 1.0
    )
    assert time.monotonic() - started < 0.5
    assert row is not None and row["value"] == "before"
    finish.set()
    await writer
    row = await database.fetch_one("SELECT value FROM app_meta WHERE name = 'probe'")
    assert row is not None and row["value"] == "after"


async def test_scans_and_summaries_run_on_the_writers_thread(database: Database) -> None:
    await database.execute("INSERT INTO app_meta (name, value) VALUES ('a', '1'), ('b', '2')")
    summary = await database.fetch_summary(
        "SELECT COUNT(*) AS n FROM app_meta WHERE name IN ('a', 'b')"
    )
    assert summary["n"] == 2
    rows = await database.fetch_all(
        "SELECT name FROM app_meta WHERE name IN ('a', 'b') ORDER BY name"
    )
    assert [row["name"] for row in rows] == ["a", "b"]


class BusyReader:
    """A reader connection that SQLite answers SQLITE_BUSY (as it may while recovering a WAL)."""

    def __init__(self) -> None:
        self.tries = 0

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        self.tries += 1
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY
        raise error

    def close(self) -> None:
        pass


async def test_a_busy_reader_sends_the_read_to_the_writers_thread(tmp_path: Path) -> None:
    connection = await aiosqlite.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    connection.row_factory = aiosqlite.Row
    reader = BusyReader()
    database = Database(connection, reader)  # type: ignore[arg-type]
    try:
        await database.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        await database.execute("INSERT INTO t VALUES (1, 'found')")
        row = await database.fetch_one("SELECT v FROM t WHERE k = ?", (1,))
        assert row is not None and row["v"] == "found"
        assert reader.tries == 1
    finally:
        await database.close()


async def test_other_reader_errors_are_not_hidden(database: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await database.fetch_one("SELECT * FROM no_such_table WHERE id = 1")


async def test_the_reader_cannot_write(database: Database) -> None:
    # fetch_one is for reads: a write slipped into it fails instead of bypassing the writer.
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await database.fetch_one(
            "INSERT INTO app_meta (name, value) VALUES ('sneaky', 'x') RETURNING name"
        )


async def test_a_transaction_cancelled_at_its_begin_leaves_later_writes_durable(
    tmp_path: Path,
) -> None:
    """A task cancelled while it waits for BEGIN (a job at shutdown) must not leave the
    transaction open: every later write would join it and be lost at close."""
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    try:

        async def doomed() -> None:
            async with database.transaction() as connection:
                await connection.execute("INSERT INTO app_meta (name, value) VALUES ('no', 'x')")

        task = asyncio.create_task(doomed())
        await asyncio.sleep(0)  # it now waits for its BEGIN on aiosqlite's thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await database.execute("INSERT INTO app_meta (name, value) VALUES ('later', 'y')")
        row = await database.fetch_one("SELECT value FROM app_meta WHERE name = 'later'")
        assert row is not None  # the reader sees only what is committed
        async with database.transaction() as connection:  # and a new transaction can start
            await connection.execute("INSERT INTO app_meta (name, value) VALUES ('next', 'z')")
    finally:
        await database.close()
    with sqlite3.connect(path) as fresh:
        names = {name for (name,) in fresh.execute("SELECT name FROM app_meta")}
    assert {"later", "next"} <= names
    assert "no" not in names
