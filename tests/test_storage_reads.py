"""The database's connections (storage/db.py): reads by key and writes on the event loop, the
rest on aiosqlite's thread. Reads see every committed write and never wait for a writer; a
write waits for another connection's lock asleep, and gives up after its lock wait; the WAL is
checkpointed off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage.db import CHECKPOINT_EVERY_COMMITS, Database


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


async def test_scans_and_summaries_run_on_the_thread(database: Database) -> None:
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


async def test_a_busy_reader_sends_the_read_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    opened = await Database.open(path)
    await opened.close()
    thread_connection = await aiosqlite.connect(path, isolation_level=None)
    thread_connection.row_factory = sqlite3.Row
    reader = BusyReader()
    writer = sqlite3.connect(path, isolation_level=None)
    database = Database(writer, reader, thread_connection)  # type: ignore[arg-type]
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


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's connection, holding SQLite's write lock until it rolls back."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_a_write_waits_for_another_connections_lock_without_blocking_the_loop(
    database: Database, tmp_path: Path
) -> None:
    holder = _hold_write_lock(tmp_path / "bot.sqlite3")
    write = asyncio.create_task(
        database.execute("INSERT INTO app_meta (name, value) VALUES ('waited', 'x')")
    )
    ticks = 0
    for _ in range(20):  # the loop turns while the write waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert not write.done()
    holder.execute("ROLLBACK")
    holder.close()
    assert await asyncio.wait_for(write, 1.0) == 1
    assert ticks == 20
    assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'waited'") is not None


async def test_a_write_gives_up_after_its_lock_wait(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path, lock_wait_seconds=0.3)
    holder = _hold_write_lock(path)
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await database.execute("INSERT INTO app_meta (name, value) VALUES ('no', 'x')")
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await database.close()


async def test_writes_queue_behind_a_maintenance_transaction_however_long_it_takes(
    tmp_path: Path,
) -> None:
    """A maintenance transaction longer than the writer's lock wait: the writes queue for it
    (the lock wait is for other processes) and land after it; reads go on meanwhile."""
    database = await Database.open(tmp_path / "bot.sqlite3", lock_wait_seconds=0.2)
    inside = asyncio.Event()
    finish = asyncio.Event()

    async def maintenance() -> None:
        async with database.maintenance_transaction() as statements:
            assert await statements.execute("DELETE FROM app_meta WHERE name = 'old'") == 1
            inside.set()
            await finish.wait()

    task: asyncio.Task[None] | None = None
    try:
        await database.execute("INSERT INTO app_meta (name, value) VALUES ('old', 'x')")
        task = asyncio.create_task(maintenance())
        await inside.wait()
        write = asyncio.create_task(
            database.execute("INSERT INTO app_meta (name, value) VALUES ('new', 'y')")
        )
        await asyncio.sleep(0.5)
        assert not write.done()
        # Reads go on, and see what was committed before it.
        assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'old'") is not None
        finish.set()
        await task
        assert await asyncio.wait_for(write, 2.0) == 1
        assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'old'") is None
    finally:
        finish.set()  # a failed assertion must not leave it holding the database
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await database.close()


async def test_a_failed_statement_rolls_its_transaction_back(database: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with database.transaction() as statements:
            await statements.execute("INSERT INTO app_meta (name, value) VALUES ('half', 'x')")
            await statements.execute("INSERT INTO app_meta (name, value) VALUES ('half', 'y')")
    assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'half'") is None
    # And the writer takes new transactions.
    async with database.transaction() as statements:
        await statements.execute("INSERT INTO app_meta (name, value) VALUES ('whole', 'x')")
    assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'whole'") is not None


async def test_writes_never_join_another_tasks_open_transaction(
    database: Database, tmp_path: Path
) -> None:
    """A write made while another task's transaction is open and suspended waits for it: on
    the one writer connection it would otherwise join that transaction, and vanish with its
    rollback. (A fast path that skipped the writer's turn was tried, and must keep to this.)"""
    opened = asyncio.Event()

    async def failing_transaction() -> None:
        async with database.transaction() as statements:
            await statements.execute("INSERT INTO app_meta (name, value) VALUES ('txn', 'x')")
            opened.set()
            await asyncio.sleep(0.2)  # suspended with the transaction open
            raise RuntimeError("rolled back")

    transaction = asyncio.create_task(failing_transaction())
    await opened.wait()
    # A convoy's worth of writes from other tasks while it is open.
    writes = [
        asyncio.create_task(
            database.execute(
                "INSERT INTO app_meta (name, value) VALUES (?, 'kept')", (f"write{n}",)
            )
        )
        for n in range(50)
    ]
    with pytest.raises(RuntimeError, match="rolled back"):
        await transaction
    await asyncio.gather(*writes)
    rows = await database.fetch_all("SELECT name FROM app_meta WHERE value = 'kept'")
    assert len(rows) == 50
    assert await database.fetch_one("SELECT 1 FROM app_meta WHERE name = 'txn'") is None
    # And each write was committed on its own: a fresh connection sees them all.
    other = sqlite3.connect(tmp_path / "bot.sqlite3")
    try:
        counted = other.execute("SELECT count(*) FROM app_meta WHERE value = 'kept'").fetchone()
    finally:
        other.close()
    assert counted == (50,)


async def test_the_wal_stays_small_though_the_writer_never_checkpoints(tmp_path: Path) -> None:
    """The writer leaves checkpoints to the thread, every CHECKPOINT_EVERY_COMMITS commits:
    without them the WAL would grow with every commit: 3,000 commits here, some 12 MB."""
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    wal = path.with_name(path.name + "-wal")
    largest = 0
    try:
        for n in range(10 * CHECKPOINT_EVERY_COMMITS):
            await database.execute(
                """INSERT INTO app_meta (name, value) VALUES ('counter', ?)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
                (str(n),),
            )
            await asyncio.sleep(0)  # as the bot's writes do: other work in between
            largest = max(largest, wal.stat().st_size)
    finally:
        await database.close()
    assert largest < 4 * CHECKPOINT_EVERY_COMMITS * 4096, largest


async def test_a_transaction_cancelled_while_it_waits_for_the_lock_leaves_nothing_open(
    tmp_path: Path,
) -> None:
    """A task cancelled while its BEGIN waits for the lock (a job at shutdown) must not
    leave a transaction open: every later write would join it and be lost at close."""
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    holder = _hold_write_lock(path)
    try:

        async def doomed() -> None:
            async with database.transaction() as statements:
                await statements.execute("INSERT INTO app_meta (name, value) VALUES ('no', 'x')")

        task = asyncio.create_task(doomed())
        await asyncio.sleep(0.05)  # it now waits for its BEGIN
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        holder.execute("ROLLBACK")
        await database.execute("INSERT INTO app_meta (name, value) VALUES ('later', 'y')")
        row = await database.fetch_one("SELECT value FROM app_meta WHERE name = 'later'")
        assert row is not None  # the reader sees only what is committed
        async with database.transaction() as statements:  # and a new transaction can start
            await statements.execute("INSERT INTO app_meta (name, value) VALUES ('next', 'z')")
    finally:
        holder.close()
        await database.close()
    with sqlite3.connect(path) as fresh:
        names = {name for (name,) in fresh.execute("SELECT name FROM app_meta")}
    assert {"later", "next"} <= names
    assert "no" not in names


async def test_closing_with_a_checkpoint_waiting_for_its_turn_does_not_hang(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    for n in range(CHECKPOINT_EVERY_COMMITS):  # the last commit starts a checkpoint task
        await database.execute("INSERT INTO app_meta (name, value) VALUES (?, 'x')", (str(n),))
    async with asyncio.timeout(5.0):  # not wait_for: close must run before the checkpoint
        await database.close()
    with sqlite3.connect(path) as fresh:
        (count,) = fresh.execute("SELECT count(*) FROM app_meta WHERE value = 'x'").fetchone()
    assert count == CHECKPOINT_EVERY_COMMITS
